package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// inputIndex maps the metric names of one level to the inputs they feed.
type inputIndex map[string]input

func newInputIndex(n InputNames) inputIndex {
	ix := make(inputIndex)
	for _, f := range n.fields() {
		if f.name != "" {
			ix[f.name] = f.in
		}
	}
	return ix
}

// sample is what one resource reported at one level: its inputs and the time of its
// working set.
type sample struct {
	in readings
	ts pcommon.Timestamp
}

// read collects the level's inputs from one resource. Gauges and sums, int and double data
// points are accepted; other metric types under a configured name are ignored. ok is false
// when the working set or the RSS is missing: there is nothing to explain.
func (ix inputIndex) read(rm pmetric.ResourceMetrics) (s sample, ok bool) {
	sms := rm.ScopeMetrics()
	for i := 0; i < sms.Len(); i++ {
		ms := sms.At(i).Metrics()
		for j := 0; j < ms.Len(); j++ {
			m := ms.At(j)
			in, found := ix[m.Name()]
			if !found {
				continue
			}
			ts := s.add(in, numberPoints(m))
			if in == inWorkingSet && ts > s.ts {
				s.ts = ts
			}
		}
	}
	return s, s.in.has(inWorkingSet) && s.in.has(inRSS)
}

// add folds a metric's data points into an input and returns their latest timestamp.
func (s *sample) add(in input, dps pmetric.NumberDataPointSlice) pcommon.Timestamp {
	var latest pcommon.Timestamp
	r := &s.in[in]
	for k := 0; k < dps.Len(); k++ {
		dp := dps.At(k)
		v, valid := pointValue(dp)
		if !valid {
			continue
		}
		switch {
		case !r.ok:
			r.v, r.ok = v, true
		case sumsPoints(in):
			r.v += v
		case v > r.v:
			r.v = v
		}
		latest = max(latest, dp.Timestamp())
	}
	return latest
}

// numberPoints returns the data points of a gauge or a sum, and an empty slice otherwise.
func numberPoints(m pmetric.Metric) pmetric.NumberDataPointSlice {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints()
	default:
		return pmetric.NewNumberDataPointSlice()
	}
}

// pointValue returns a data point's value in whole bytes; NaN, infinities and empty points
// are not values.
func pointValue(dp pmetric.NumberDataPoint) (int64, bool) {
	switch dp.ValueType() {
	case pmetric.NumberDataPointValueTypeInt:
		return dp.IntValue(), true
	case pmetric.NumberDataPointValueTypeDouble:
		d := dp.DoubleValue()
		if math.IsNaN(d) || math.IsInf(d, 0) || math.Abs(d) >= math.MaxInt64 {
			return 0, false
		}
		return int64(math.Round(d)), true
	default:
		return 0, false
	}
}
