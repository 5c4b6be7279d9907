package memdivergenceprocessor

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metadata"
	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metricstest"
)

func TestProcessorPassesThroughAndAppends(t *testing.T) {
	md := pmetric.NewMetrics()
	addResource(md, map[string]string{"host.name": "node-1"}, t0, map[string]int64{"system.memory.usage": 5})
	addResource(md, map[string]string{"container.id": "abc"}, t0, map[string]int64{
		"container.memory.working_set": 900, "container.memory.rss": 300, "container.memory.active_file": 500,
	})
	addResource(md, map[string]string{"k8s.pod.uid": "p-1"}, t0, map[string]int64{
		"k8s.pod.memory.working_set": 1000, "k8s.pod.memory.rss": 400, "k8s.pod.memory.kmem": 100,
	})
	addResource(md, map[string]string{"container.id": "no-rss"}, t0, map[string]int64{"container.memory.working_set": 900})
	original := pmetric.NewMetrics()
	md.CopyTo(original)

	cfg := createDefaultConfig().(*Config)
	cfg.Series.Detail = detailFull // every cause, also the small ones
	p, sink := newTestProcessor(t, cfg)
	require.NoError(t, p.ConsumeMetrics(context.Background(), md))
	require.Len(t, sink.AllMetrics(), 1)
	got := sink.AllMetrics()[0].ResourceMetrics()
	require.Equal(t, original.ResourceMetrics().Len(), got.Len())

	wantScopes := []int{1, 2, 2, 1} // input scope, plus ours where there was something to explain
	for i := 0; i < got.Len(); i++ {
		rm, orig := got.At(i), original.ResourceMetrics().At(i)
		require.Equal(t, orig.Resource().Attributes().AsRaw(), rm.Resource().Attributes().AsRaw(), "resource %d", i)
		require.Equal(t, wantScopes[i], rm.ScopeMetrics().Len(), "scopes of resource %d", i)
		assert.Equal(t, orig.ScopeMetrics().At(0), rm.ScopeMetrics().At(0), "input scope of resource %d changed", i)
		if wantScopes[i] == 2 {
			assert.Equal(t, metadata.ScopeName, rm.ScopeMetrics().At(1).Scope().Name())
		}
	}

	container := got.At(1)
	div, ok := metricstest.Find(container, "container.memory.divergence.usage")
	require.True(t, ok)
	assert.Equal(t, map[string]int64{
		"page_cache": 500, "dentry_slab": 0, "other_slab": 0, "other_kernel": 0, "socket": 0, "unexplained": 100,
	}, metricstest.IntsByAttribute(div, "memdivergence.cause"))
	flag, ok := metricstest.Find(container, "container.memory.divergence.flagged")
	require.True(t, ok)
	assert.Equal(t, map[string]int64{"page_cache": 0}, metricstest.IntsByAttribute(flag, "memdivergence.cause"))
	assert.Equal(t, t0.UnixNano(), int64(div.Gauge().DataPoints().At(0).Timestamp()))
	_, ok = metricstest.Find(container, "container.memory.limit_eta")
	assert.False(t, ok, "no ETA without a limit and a trend")

	pod := got.At(2)
	podDiv, ok := metricstest.Find(pod, "k8s.pod.memory.divergence.usage")
	require.True(t, ok)
	assert.Equal(t, int64(100), metricstest.IntsByAttribute(podDiv, "memdivergence.cause")["other_kernel"])
	assert.Equal(t, int64(500), metricstest.IntsByAttribute(podDiv, "memdivergence.cause")["unexplained"])
	_, ok = metricstest.Find(pod, "container.memory.divergence.usage")
	assert.False(t, ok, "a pod gets k8s.pod.memory.* names only")
}

// TestProcessorTrend feeds one leaking container scrape by scrape, with synthetic
// timestamps, and checks the ETA the processor emits.
func TestProcessorTrend(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	p, sink := newTestProcessor(t, cfg)
	const limit = 2 * gib
	const perMinute = 8 << 20 // an 8 MiB/min dentry leak
	ws := func(i int) int64 { return gib + int64(i)*perMinute }
	for i := range 20 {
		md := pmetric.NewMetrics()
		addResource(md, map[string]string{"container.id": "leaky"}, t0.Add(time.Duration(i)*time.Minute), map[string]int64{
			"container.memory.working_set": ws(i), "container.memory.rss": 300 << 20,
			"container.memory.kmem": ws(i) - 300<<20, "container.memory.slab.dentry": ws(i) - 300<<20,
			"container.memory.limit": limit,
		})
		require.NoError(t, p.ConsumeMetrics(context.Background(), md))
	}
	all := sink.AllMetrics()
	for i, md := range all {
		_, hasETA := metricstest.Find(md.ResourceMetrics().At(0), "container.memory.limit_eta")
		assert.Equal(t, i+1 >= cfg.Trend.MinSamples, hasETA, "ETA after %d samples", i+1)
	}
	last := all[len(all)-1].ResourceMetrics().At(0)
	eta, ok := metricstest.Find(last, "container.memory.limit_eta")
	require.True(t, ok)
	want := float64(limit-ws(19)) / (perMinute / 60.0)
	assert.InEpsilon(t, want, eta.Gauge().DataPoints().At(0).DoubleValue(), 1e-9)
	growth, ok := metricstest.Find(last, "container.memory.divergence.growth")
	require.True(t, ok)
	rates := metricstest.DoublesByAttribute(growth, "memdivergence.cause")
	require.Contains(t, rates, "dentry_slab", "a growth rate for the dentry slab")
	assert.InEpsilon(t, perMinute/60.0, rates["dentry_slab"], 1e-9)
	flag, _ := metricstest.Find(last, "container.memory.divergence.flagged")
	assert.Equal(t, map[string]int64{"dentry_slab": 1}, metricstest.IntsByAttribute(flag, "memdivergence.cause"))
}

func TestProcessorEvictsSilentResources(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	p := newDivergenceProcessor(cfg, settingsForTest())
	clock := t0
	p.now = func() time.Time { return clock }
	send := func(id string) {
		md := pmetric.NewMetrics()
		addResource(md, map[string]string{"container.id": id}, clock, map[string]int64{
			"container.memory.working_set": 10, "container.memory.rss": 5,
		})
		_, err := p.processMetrics(context.Background(), md)
		require.NoError(t, err)
	}
	send("a")
	send("b")
	require.Equal(t, 2, p.store.len())
	clock = clock.Add(cfg.State.TTL / 2)
	send("b")
	clock = clock.Add(cfg.State.TTL/2 + time.Second)
	send("b")
	assert.Equal(t, 1, p.store.len(), "a stopped reporting more than ttl ago")
}

// TestProcessorConcurrentBatches sends batches from several goroutines, as parallel
// pipelines may; run with -race.
func TestProcessorConcurrentBatches(t *testing.T) {
	p, sink := newTestProcessor(t, createDefaultConfig().(*Config))
	const workers, batches = 4, 20
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range batches {
				md := pmetric.NewMetrics()
				addResource(md, map[string]string{"container.id": fmt.Sprintf("c-%d", w)},
					t0.Add(time.Duration(i)*time.Minute), map[string]int64{
						"container.memory.working_set": int64(1000 + i), "container.memory.rss": 100,
					})
				assert.NoError(t, p.ConsumeMetrics(context.Background(), md))
			}
		})
	}
	wg.Wait()
	assert.Len(t, sink.AllMetrics(), workers*batches)
}
