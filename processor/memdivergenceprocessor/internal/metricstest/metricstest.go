// Package metricstest holds the lookups the processor's tests make in its output: a metric
// by name on a resource, and a gauge's values by attribute.
package metricstest // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metricstest"

import "go.opentelemetry.io/collector/pdata/pmetric"

// Find returns the metric with that name on a resource, or false.
func Find(rm pmetric.ResourceMetrics, name string) (pmetric.Metric, bool) {
	for _, sm := range rm.ScopeMetrics().All() {
		for _, m := range sm.Metrics().All() {
			if m.Name() == name {
				return m, true
			}
		}
	}
	return pmetric.Metric{}, false
}

// IntsByAttribute returns a gauge's int values keyed by one attribute's value.
func IntsByAttribute(m pmetric.Metric, attr string) map[string]int64 {
	out := make(map[string]int64)
	for _, dp := range m.Gauge().DataPoints().All() {
		v, _ := dp.Attributes().Get(attr)
		out[v.AsString()] = dp.IntValue()
	}
	return out
}

// StringsByAttribute returns the values of one attribute of a gauge's data points, in order.
func StringsByAttribute(m pmetric.Metric, attr string) []string {
	var out []string
	for _, dp := range m.Gauge().DataPoints().All() {
		v, _ := dp.Attributes().Get(attr)
		out = append(out, v.AsString())
	}
	return out
}

// DoublesByAttribute returns a gauge's double values keyed by one attribute's value.
func DoublesByAttribute(m pmetric.Metric, attr string) map[string]float64 {
	out := make(map[string]float64)
	for _, dp := range m.Gauge().DataPoints().All() {
		v, _ := dp.Attributes().Get(attr)
		out[v.AsString()] = dp.DoubleValue()
	}
	return out
}
