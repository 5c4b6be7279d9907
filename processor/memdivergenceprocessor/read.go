package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// inputIndex maps the metric names of one level to the inputs they feed.
type inputIndex map[string][]binding

func newInputIndex(n InputNames) inputIndex {
	ix := make(inputIndex)
	for _, f := range n.fields() {
		if f.name != "" {
			ix[f.name] = f.binds
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
			binds, found := ix[m.Name()]
			if !found {
				continue
			}
			for _, b := range binds {
				ts := s.add(b, numberPoints(m))
				if b.in == inWorkingSet && ts > s.ts {
					s.ts = ts
				}
			}
		}
	}
	return s, s.in.has(inWorkingSet) && s.in.has(inRSS)
}

// add folds a metric's data points into an input and returns their latest timestamp.
// A binding with an attribute takes only the points that carry it with its value.
func (s *sample) add(b binding, dps pmetric.NumberDataPointSlice) pcommon.Timestamp {
	var latest pcommon.Timestamp
	in := b.in
	r := &s.in[in]
	for k := 0; k < dps.Len(); k++ {
		dp := dps.At(k)
		if b.attr != "" {
			if a, ok := dp.Attributes().Get(b.attr); !ok || a.AsString() != b.value {
				continue
			}
		}
		v, valid := pointValue(dp, b.scale)
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

// pointValue returns a data point's value times scale (0 means 1) as a whole number (bytes,
// pages, events, µs); NaN, infinities, values out of range and empty points are not values.
func pointValue(dp pmetric.NumberDataPoint, scale float64) (int64, bool) {
	switch dp.ValueType() {
	case pmetric.NumberDataPointValueTypeInt:
		if scale == 0 || scale == 1 {
			return dp.IntValue(), true
		}
		return scaled(float64(dp.IntValue()) * scale)
	case pmetric.NumberDataPointValueTypeDouble:
		d := dp.DoubleValue()
		if scale != 0 {
			d *= scale
		}
		if math.IsNaN(d) || math.IsInf(d, 0) || math.Abs(d) >= math.MaxInt64 {
			return 0, false
		}
		return int64(math.Round(d)), true
	default:
		return 0, false
	}
}

func scaled(d float64) (int64, bool) {
	if math.IsNaN(d) || math.IsInf(d, 0) || math.Abs(d) >= math.MaxInt64 {
		return 0, false
	}
	return int64(math.Round(d)), true
}
