//go:build linux

package pipelinetest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"
	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metricstest"
	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"
)

// TestPipeline runs receiver → processor → sink through both factories and their component
// lifecycles, with the receiver reading the captured cgroup v2 host.
func TestPipeline(t *testing.T) {
	const (
		workloadID = "aaaaaaaa11111111111111111111111111111111111111111111111111111111"
		idleID     = "cccccccc33333333333333333333333333333333333333333333333333333333"
	)
	root, err := filepath.Abs(filepath.Join("..", "..", "..", "..", "testdata", "v2-kernel-6.18"))
	require.NoError(t, err)
	ctx := context.Background()
	host := componenttest.NewNopHost()

	sink := new(consumertest.MetricsSink)
	pf := memdivergenceprocessor.NewFactory()
	proc, err := pf.CreateMetrics(ctx, processortest.NewNopSettings(pf.Type()), pf.CreateDefaultConfig(), sink)
	require.NoError(t, err)

	rf := cgroupmemreceiver.NewFactory()
	rcfg := rf.CreateDefaultConfig().(*cgroupmemreceiver.Config)
	rcfg.RootPath = root
	rcfg.CollectionInterval = 20 * time.Millisecond
	rcfg.InitialDelay = 0
	rcv, err := rf.CreateMetrics(ctx, receivertest.NewNopSettings(rf.Type()), rcfg, proc)
	require.NoError(t, err)

	require.NoError(t, proc.Start(ctx, host))
	require.NoError(t, rcv.Start(ctx, host))
	require.Eventually(t, func() bool { return len(sink.AllMetrics()) >= 2 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, rcv.Shutdown(ctx))
	require.NoError(t, proc.Shutdown(ctx))

	for _, md := range sink.AllMetrics() {
		work, ok := containerResource(md, workloadID)
		require.True(t, ok, "workload container missing")
		flag, ok := metricstest.Find(work, "container.memory.divergence.flagged")
		require.True(t, ok)
		assert.Equal(t, map[string]int64{"page_cache": 1}, metricstest.IntsByAttribute(flag, "memdivergence.cause"))
		div, _ := metricstest.Find(work, "container.memory.divergence.usage")
		assert.Equal(t, int64(101003264), metricstest.IntsByAttribute(div, "memdivergence.cause")["page_cache"])

		idle, ok := containerResource(md, idleID)
		require.True(t, ok, "idle container missing")
		flag, ok = metricstest.Find(idle, "container.memory.divergence.flagged")
		require.True(t, ok)
		for cause, v := range metricstest.IntsByAttribute(flag, "memdivergence.cause") {
			assert.Zero(t, v, "idle container flagged (%s)", cause)
		}
	}
}

// containerResource returns the resource of a container by its ID.
func containerResource(md pmetric.Metrics, id string) (pmetric.ResourceMetrics, bool) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		if v, ok := rms.At(i).Resource().Attributes().Get("container.id"); ok && v.Str() == id {
			return rms.At(i), true
		}
	}
	return pmetric.ResourceMetrics{}, false
}
