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

func settingsForTest() processor.Settings { return processortest.NewNopSettings(metadata.Type) }
