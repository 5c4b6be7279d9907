package memdivergenceprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metadata"
)

// addResource appends a resource with the given attributes and one int sum per metric, all
// at ts, in the shape the cgroupmem receiver emits.
func addResource(md pmetric.Metrics, attrs map[string]string, ts time.Time, values map[string]int64) pmetric.ResourceMetrics {
	rm := md.ResourceMetrics().AppendEmpty()
	for k, v := range attrs {
		rm.Resource().Attributes().PutStr(k, v)
	}
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	for name, v := range values {
		addMetric(ms, name, true, dp{ts: pcommon.NewTimestampFromTime(ts), i: v})
	}
	return rm
}

// newTestProcessor builds the processor through its factory, feeding a sink.
func newTestProcessor(t testing.TB, cfg *Config) (processor.Metrics, *consumertest.MetricsSink) {
	t.Helper()
	sink := new(consumertest.MetricsSink)
	p, err := NewFactory().CreateMetrics(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), nil))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return p, sink
}

// findMetric returns the metric with that name on a resource, or false.
func findMetric(rm pmetric.ResourceMetrics, name string) (pmetric.Metric, bool) {
	sms := rm.ScopeMetrics()
	for i := 0; i < sms.Len(); i++ {
		ms := sms.At(i).Metrics()
		for j := 0; j < ms.Len(); j++ {
			if ms.At(j).Name() == name {
				return ms.At(j), true
			}
		}
	}
	return pmetric.Metric{}, false
}

// byAttr returns a gauge's int values keyed by one attribute's value.
func byAttr(m pmetric.Metric, attr string) map[string]int64 {
	out := make(map[string]int64)
	dps := m.Gauge().DataPoints()
	for i := 0; i < dps.Len(); i++ {
		v, _ := dps.At(i).Attributes().Get(attr)
		out[v.AsString()] = dps.At(i).IntValue()
	}
	return out
}

func settingsForTest() processor.Settings { return processortest.NewNopSettings(metadata.Type) }
