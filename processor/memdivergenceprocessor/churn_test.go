package memdivergenceprocessor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metricstest"
)

// churnRun feeds the processor scrapes every second for the given time: stable containers
// that report throughout, one of them leaking 8 MiB a minute toward a 2 GiB limit, and, when
// churn > 0, that many new containers a second, each reporting for life scrapes and then
// gone. It returns the leaky container's output of the last scrape and the most resources
// the store held.
func churnRun(t *testing.T, stable, churn, life int, d time.Duration) (pmetric.ResourceMetrics, int) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Trend.SampleInterval = time.Second // every scrape a trend point: the most state per resource
	p := newDivergenceProcessor(cfg, settingsForTest())
	clock := t0
	p.now = func() time.Time { return clock }
	values := func(ws int64) map[string]int64 {
		return map[string]int64{
			"container.memory.working_set": ws, "container.memory.rss": 300 << 20,
			"container.memory.kmem": ws - 300<<20, "container.memory.slab.dentry": ws - 300<<20,
			"container.memory.limit": 2 * gib,
		}
	}
	most := 0
	var last pmetric.ResourceMetrics
	scrapes := int(d / time.Second)
	for i := range scrapes {
		md := pmetric.NewMetrics()
		ws := gib + int64(i)*(8<<20)/60
		leaky := addResource(md, map[string]string{"container.id": "leaky"}, clock, values(ws))
		for j := 1; j < stable; j++ {
			addResource(md, map[string]string{"container.id": fmt.Sprintf("stable-%d", j)}, clock, values(gib))
		}
		for born := max(i-life+1, 0); born <= i; born++ { // the churning containers alive now
			for k := range churn {
				addResource(md, map[string]string{"container.id": fmt.Sprintf("churn-%d-%d", born, k)}, clock, values(gib/2))
			}
		}
		_, err := p.processMetrics(context.Background(), md)
		require.NoError(t, err)
		most = max(most, p.store.len())
		last = leaky
		clock = clock.Add(time.Second)
	}
	return last, most
}

// TestProcessorStateBoundedUnderChurn: containers created and removed at 50 a second beside
// 100 stable ones cost the store a few seconds of churn, not state.ttl's worth, and the
// trend and ETA of a long-lived container come out the same as without the churn.
func TestProcessorStateBoundedUnderChurn(t *testing.T) {
	const stable, churn, life = 100, 50, 3
	const d = 100 * time.Second // past the 60 s a window takes to fill
	quiet, quietMost := churnRun(t, stable, 0, life, d)
	busy, busyMost := churnRun(t, stable, churn, life, d)
	require.Equal(t, stable, quietMost)

	// Alive: churn × life. Gone but held: at most missedIntervals + 1 s of sweep more.
	bound := stable + churn*(life+missedIntervals+int(sweepEvery/time.Second)+1)
	assert.LessOrEqual(t, busyMost, bound, "resources held under churn")
	assert.Greater(t, busyMost, stable+churn*life-1, "the live churning containers are held")

	for _, name := range []string{"container.memory.limit_eta", "container.memory.working_set_growth"} {
		q, ok := metricstest.Find(quiet, name)
		require.True(t, ok, name)
		b, ok := metricstest.Find(busy, name)
		require.True(t, ok, name)
		assert.Equal(t, q.Gauge().DataPoints().At(0).DoubleValue(), b.Gauge().DataPoints().At(0).DoubleValue(), name)
	}
	q, ok := metricstest.Find(quiet, "container.memory.divergence.growth")
	require.True(t, ok)
	b, ok := metricstest.Find(busy, "container.memory.divergence.growth")
	require.True(t, ok)
	assert.Equal(t, metricstest.DoublesByAttribute(q, "memdivergence.cause"), metricstest.DoublesByAttribute(b, "memdivergence.cause"))
}

func TestStoreForgetsResourcesThatMissedTheirIntervals(t *testing.T) {
	trend := TrendConfig{Window: 60, MinSamples: 5, SampleInterval: 5 * time.Second}
	s := newStore(StateConfig{TTL: 10 * time.Minute, MaxResources: 1000}, trend)
	key := func(h uint64) stateKey { return stateKey{level: levelContainer, hash: h} }
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	report := func(h uint64, sec int) {
		s.touch(key(h), at(sec)).win.add(point{t: at(sec).UnixNano()}, time.Second)
	}
	for sec := range 10 {
		report(1, sec) // long-lived: 10 points
		if sec < 3 {
			report(2, sec) // young: 3 points, then gone
		}
		if sec%5 == 0 {
			report(3, sec) // a slower source: every 5 s
		}
		s.evict(at(sec))
		if sec == 6 {
			require.Contains(t, s.byKey, key(2), "silent for 4 of its 1 s intervals at 6 s")
		}
	}
	require.NotContains(t, s.byKey, key(2), "more than 4 intervals missed")
	require.Contains(t, s.byKey, key(3), "the slower source keeps its 5 s interval")
	report(4, 9) // reported once
	s.evict(at(9))
	require.Equal(t, 3, s.len())

	// Nothing reports for a minute: a long-lived resource stays until ttl.
	s.evict(at(70))
	require.Contains(t, s.byKey, key(1), "long-lived: kept for ttl")
	require.NotContains(t, s.byKey, key(3), "5 s interval, 12 missed")
	require.NotContains(t, s.byKey, key(4), "once, judged by the longest interval seen (5 s)")
	s.evict(at(9 + 600 + 1))
	require.Equal(t, 0, s.len(), "ttl")
}

// TestStoreKeepsASlowSourcesNewResources: a resource that reported once is kept for
// trend.sample_interval at least, so that a slow source's resources, all new at first, live
// to their second report while a fast source reports many times between, and once they have
// an interval of their own they are judged by it.
func TestStoreKeepsASlowSourcesNewResources(t *testing.T) {
	s := newStore(StateConfig{TTL: 10 * time.Minute, MaxResources: 1000}, TrendConfig{Window: 60, MinSamples: 5, SampleInterval: 15 * time.Second})
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	for sec := 0; sec <= 60; sec++ {
		for h := range uint64(50) {
			s.touch(stateKey{hash: h}, at(sec)) // fast: every second
		}
		if sec%10 == 0 {
			s.touch(stateKey{hash: 1000}, at(sec)) // slow: every 10 s from the start
		}
		if sec == 35 {
			s.touch(stateKey{hash: 2000}, at(sec)) // a new slow resource, once
		}
		s.evict(at(sec))
		if sec == 10 {
			require.Contains(t, s.byKey, stateKey{hash: 1000}, "kept 10 s after its first report")
		}
	}
	require.Contains(t, s.byKey, stateKey{hash: 1000}, "reports every 10 s")
	require.Contains(t, s.byKey, stateKey{hash: 2000}, "25 s after its first report: within 4 of the slow intervals")
	s.evict(at(35 + 41))
	require.NotContains(t, s.byKey, stateKey{hash: 2000}, "41 s after its only report")
	require.Contains(t, s.byKey, stateKey{hash: 1000}, "last reported 16 s ago, every 10 s")
}

func TestWindowGrowsWithItsPoints(t *testing.T) {
	w := newWindow(60)
	for i := range 3 {
		w.add(point{t: int64(i + 1)}, 0)
	}
	assert.LessOrEqual(t, cap(w.pts), 4, "3 points")
	for i := 3; i < 100; i++ {
		w.add(point{t: int64(i + 1)}, 0)
	}
	assert.Equal(t, 60, cap(w.pts), "a full window is exactly its size")
	assert.Equal(t, 60, w.len())
	assert.Equal(t, int64(41), w.at(0).t, "oldest of the last 60")
	assert.Equal(t, int64(100), w.at(59).t)
}
