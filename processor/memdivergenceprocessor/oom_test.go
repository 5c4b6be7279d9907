package memdivergenceprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metricstest"
)

// killsOf returns the OOM kills by cause on a resource, and whether the metric is monotonic.
func killsOf(t *testing.T, rm pmetric.ResourceMetrics, prefix string) map[string]int64 {
	t.Helper()
	m, ok := metricstest.Find(rm, prefix+"memory.divergence.oom_kills")
	if !ok {
		return map[string]int64{}
	}
	require.True(t, m.Sum().IsMonotonic())
	require.Equal(t, pmetric.AggregationTemporalityCumulative, m.Sum().AggregationTemporality())
	out := map[string]int64{}
	for _, p := range m.Sum().DataPoints().All() {
		c, _ := p.Attributes().Get("memdivergence.cause")
		out[c.Str()] = p.IntValue()
	}
	return out
}

// TestOOMKillsByCause feeds the v1 golden's workload (page cache dominant) and its idle
// container (mostly anonymous), raises their OOM kill counters and checks under which cause
// each kill is counted.
func TestOOMKillsByCause(t *testing.T) {
	p, sink := newTestProcessor(t, createDefaultConfig().(*Config))
	work := goldenResource(t, "v1", "container.id", workloadID)
	idle := goldenResource(t, "v1", "container.id", idleID)
	scrape := func(i int, base pmetric.Metrics, kills int64, edit func(ms pmetric.MetricSlice)) pmetric.ResourceMetrics {
		md := scrapeOf(base, t0.Add(time.Duration(i)*10*time.Second), 0, "container.", signals{}, func(ms pmetric.MetricSlice) {
			setValue(ms, "container.memory.oom_kills", kills)
			if edit != nil {
				edit(ms)
			}
		})
		require.NoError(t, p.ConsumeMetrics(context.Background(), md))
		all := sink.AllMetrics()
		return all[len(all)-1].ResourceMetrics().At(0)
	}
	// A counter already at 3 when first seen is a baseline: those kills had no breakdown.
	rm := scrape(0, work, 3, nil)
	assert.Empty(t, killsOf(t, rm, "container."))
	rm = scrape(1, work, 3, nil)
	assert.Empty(t, killsOf(t, rm, "container."))
	// One kill: the last breakdown before it was mostly page cache.
	rm = scrape(2, work, 4, func(ms pmetric.MetricSlice) {
		// After the kill the memory is gone; the kill still goes to the breakdown before.
		setValue(ms, "container.memory.working_set", 1<<20)
		setValue(ms, "container.memory.rss", 1<<20)
	})
	assert.Equal(t, map[string]int64{"page_cache": 1}, killsOf(t, rm, "container."))
	rm = scrape(3, work, 4, nil)
	assert.Equal(t, map[string]int64{"page_cache": 1}, killsOf(t, rm, "container."), "the counter stays")

	// The idle container is mostly anonymous: rss.
	scrape(4, idle, 0, nil)
	rm = scrape(5, idle, 2, nil)
	assert.Equal(t, map[string]int64{"rss": 2}, killsOf(t, rm, "container."))

	// The workload's cgroup is gone: the receiver reports only its kill counter (from the
	// kernel log). Two more kills count under the last breakdown seen: page cache again
	// (scrape 3 restored it).
	gone := pmetric.NewMetrics()
	work.ResourceMetrics().At(0).Resource().CopyTo(gone.ResourceMetrics().AppendEmpty().Resource())
	addMetric(gone.ResourceMetrics().At(0).ScopeMetrics().AppendEmpty().Metrics(), "container.memory.oom_kills", true, dp{i: 6})
	require.NoError(t, p.ConsumeMetrics(context.Background(), gone))
	all := sink.AllMetrics()
	rm = all[len(all)-1].ResourceMetrics().At(0)
	assert.Equal(t, map[string]int64{"page_cache": 3}, killsOf(t, rm, "container."))
	_, hasFlag := metricstest.Find(rm, "container.memory.divergence.flagged")
	assert.False(t, hasFlag, "a gone cgroup gets its kills only")

	// A gone cgroup never seen alive (created, killed and removed between two scrapes):
	// its kills count, under unknown; a repeat of the same report adds nothing.
	stranger := pmetric.NewMetrics()
	srm := stranger.ResourceMetrics().AppendEmpty()
	srm.Resource().Attributes().PutStr("container.id", "dddd")
	addMetric(srm.ScopeMetrics().AppendEmpty().Metrics(), "container.memory.oom_kills", true, dp{i: 1})
	again := pmetric.NewMetrics()
	stranger.CopyTo(again)
	require.NoError(t, p.ConsumeMetrics(context.Background(), stranger))
	require.NoError(t, p.ConsumeMetrics(context.Background(), again))
	all = sink.AllMetrics()
	for _, md := range all[len(all)-2:] {
		assert.Equal(t, map[string]int64{"unknown": 1}, killsOf(t, md.ResourceMetrics().At(0), "container."))
	}
}

func TestOOMStateReset(t *testing.T) {
	var o oomState
	o.observe(5, true)
	o.remember(causeDentrySlab)
	o.observe(7, true)
	o.remember(causeRSS)
	o.observe(1, true) // the cgroup was recreated: 1 kill since
	o.observe(1, false)
	assert.Equal(t, uint32(2), o.kills[causeDentrySlab])
	assert.Equal(t, uint32(1), o.kills[causeRSS])
	assert.Equal(t, 2, o.series())
}
