package memdivergenceprocessor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metadata"
)

// ownPoints returns, per resource (by container.id, or pod: k8s.pod.uid), the processor's
// series at one scrape: metric name and attributes of every data point it added.
func ownPoints(md pmetric.Metrics) map[string][]string {
	out := map[string][]string{}
	for _, rm := range md.ResourceMetrics().All() {
		id := "pod:"
		if v, ok := rm.Resource().Attributes().Get("container.id"); ok {
			id = v.Str()
		} else if v, ok := rm.Resource().Attributes().Get("k8s.pod.uid"); ok {
			id += v.Str()
		}
		for _, sm := range rm.ScopeMetrics().All() {
			if sm.Scope().Name() != metadata.ScopeName {
				continue
			}
			for _, m := range sm.Metrics().All() {
				var dps pmetric.NumberDataPointSlice
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					dps = m.Gauge().DataPoints()
				case pmetric.MetricTypeSum:
					dps = m.Sum().DataPoints()
				}
				for _, p := range dps.All() {
					attrs := fmt.Sprint(p.Attributes().AsRaw())
					out[id] = append(out[id], m.Name()+attrs)
				}
			}
		}
	}
	for _, s := range out {
		sort.Strings(s)
	}
	return out
}

// Two more containers of realisticScrapes, made from the golden's: one with less page cache
// than the workload (not flagged), one whose anonymous memory grows 1 MiB a minute toward
// a 512 MiB limit.
const (
	midID    = "eeeeeeee44444444444444444444444444444444444444444444444444444444"
	growthID = "ffffffff55555555555555555555555555555555555555555555555555555555"
)

// realisticScrapes is the v2 receiver golden (three containers, two pods, plus midID and
// growthID) scraped n times a minute apart with the pressure counters a quiet host shows (a
// little PSI, a few refaults, no limit events), the workload's real socket queues (ss -m of
// the v1 capture) and a little jitter on every byte value, as real scrapes have.
func realisticScrapes(t testing.TB, n int) []pmetric.Metrics {
	t.Helper()
	base, err := golden.ReadMetrics(filepath.Join("..", "..", "testdata", "golden", "receiver-v2.yaml"))
	require.NoError(t, err)
	mid := goldenResource(t, "v2", "container.id", workloadID).ResourceMetrics().At(0)
	mid.Resource().Attributes().PutStr("container.id", midID)
	for _, name := range []string{"container.memory.active_file", "container.memory.cache", "container.memory.usage", "container.memory.working_set"} {
		addValue(mid.ScopeMetrics().At(0).Metrics(), name, -80<<20)
	}
	mid.CopyTo(base.ResourceMetrics().AppendEmpty())
	grow := goldenResource(t, "v2", "container.id", idleID).ResourceMetrics().At(0)
	grow.Resource().Attributes().PutStr("container.id", growthID)
	addMetric(grow.ScopeMetrics().At(0).Metrics(), "container.memory.limit", true, dp{i: 512 << 20})
	grow.CopyTo(base.ResourceMetrics().AppendEmpty())
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]pmetric.Metrics, n)
	for i := range n {
		md := pmetric.NewMetrics()
		base.CopyTo(md)
		ts := pcommon.NewTimestampFromTime(t0.Add(time.Duration(i) * time.Minute))
		for _, rm := range md.ResourceMetrics().All() {
			prefix := ""
			if _, ok := rm.Resource().Attributes().Get("container.id"); ok {
				prefix = "container."
			} else if _, ok := rm.Resource().Attributes().Get("k8s.pod.uid"); ok {
				prefix = "k8s.pod."
			}
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					for _, p := range numberPoints(m).All() {
						p.SetTimestamp(ts)
						if m.Unit() == "By" && p.ValueType() == pmetric.NumberDataPointValueTypeInt && p.IntValue() > 0 {
							p.SetIntValue(p.IntValue() + rng.Int64N(8192) - 4096)
						}
					}
				}
			}
			if prefix == "" {
				continue
			}
			ms := rm.ScopeMetrics().At(0).Metrics()
			if v, _ := rm.Resource().Attributes().Get("container.id"); v.Str() == growthID {
				for _, name := range []string{"container.memory.rss", "container.memory.usage", "container.memory.working_set"} {
					addValue(ms, name, int64(i)<<20)
				}
			}
			el := float64(i) * 60
			// The golden's counters are one capture; these rise as on a quiet host.
			removeMetrics(ms, prefix+"memory.pressure.stall_time", prefix+"memory.refaults", prefix+"memory.events")
			addMetric(ms, prefix+"memory.pressure.stall_time", true,
				dp{ts: ts, d: 0.0001 * el, isD: true, attrs: map[string]string{"pressure.type": "some"}},
				dp{ts: ts, d: 0.00005 * el, isD: true, attrs: map[string]string{"pressure.type": "full"}})
			addMetric(ms, prefix+"memory.refaults", true,
				dp{ts: ts, i: 357 + int64(el/60), attrs: map[string]string{"container.memory.lru.type": "file"}},
				dp{ts: ts, i: 0, attrs: map[string]string{"container.memory.lru.type": "anon"}})
			addMetric(ms, prefix+"memory.events", true,
				dp{ts: ts, i: 0, attrs: map[string]string{"container.memory.event.type": "high"}},
				dp{ts: ts, i: 0, attrs: map[string]string{"container.memory.event.type": "max"}})
			if v, ok := rm.Resource().Attributes().Get("container.id"); ok && v.Str() == workloadID {
				addMetric(ms, "container.memory.sock_rcvq", true, dp{ts: ts, i: 1664000 + 48304})
				addMetric(ms, "container.memory.sock_rcvq_payload", true, dp{ts: ts, i: 50000})
			}
		}
		out[i] = md
	}
	return out
}

// TestSeriesPerContainer counts the data points the processor adds per container and pod
// on a realistic input over 20 minutes (the trend window fills past min_samples, so growth
// rates exist): with the default config at most 6 per resource that is not flagged, and
// series that stay the same from one scrape to the next.
func TestSeriesPerContainer(t *testing.T) {
	const n = 20
	scrapes := realisticScrapes(t, n)
	counts := map[string]map[string]int{} // detail → id → data points at the last scrape
	for _, detail := range []string{detailCompact, detailFull} {
		cfg := createDefaultConfig().(*Config)
		cfg.Series.Detail = detail
		p, sink := newTestProcessor(t, cfg)
		for _, md := range scrapes {
			in := pmetric.NewMetrics()
			md.CopyTo(in)
			require.NoError(t, p.ConsumeMetrics(context.Background(), in))
		}
		all := sink.AllMetrics()
		require.Len(t, all, n)
		counts[detail] = map[string]int{}
		prev := map[string][]string{}
		for i, md := range all {
			pts := ownPoints(md)
			for id, series := range pts {
				counts[detail][id] = len(series)
				switch {
				case detail != detailCompact || i < 2:
					// The first scrape has no pressure rate yet: its classification is unknown.
				case i == cfg.Trend.MinSamples-1:
					// The growth rates and the ETA appear once the window holds min_samples.
					assert.Equal(t, withoutGrowth(prev[id]), withoutGrowth(series), "%s: series changed at scrape %d", id, i)
				default:
					assert.Equal(t, prev[id], series, "%s: series changed at scrape %d", id, i)
				}
			}
			prev = pts
		}
	}
	flagged := map[string]bool{workloadID: true, "pod:" + workloadUID: true}
	for id, c := range counts[detailCompact] {
		if !flagged[id] {
			assert.LessOrEqual(t, c, 6, "%s: data points of a container that is not flagged", id)
		}
		t.Logf("%-70s flagged=%-5v compact %2d data points, full %2d", id, flagged[id], c, counts[detailFull][id])
	}
	// The flagged workload keeps its full breakdown and rates in both modes.
	assert.Equal(t, counts[detailFull][workloadID], counts[detailCompact][workloadID])
	assert.Len(t, counts[detailCompact], 7, "five containers and two pods")
	assert.Equal(t, 4, counts[detailCompact][midID], "mid: the flag and three causes of at least 1 MiB")
	assert.Equal(t, 2, counts[detailCompact][growthID], "growing: the flag and the ETA")
}

func withoutGrowth(series []string) []string {
	return slices.DeleteFunc(slices.Clone(series), func(s string) bool {
		return strings.Contains(s, "growth") || strings.Contains(s, "limit_eta")
	})
}

// TestSeriesHysteresis: a cause that hovers around min_cause_bytes keeps its series once
// it has one; a cause that stays below 0.8 × min_cause_bytes for a whole hold loses it at
// the next review; an unflagged container never gets more than maxCompactCauses causes.
func TestSeriesHysteresis(t *testing.T) {
	const mib = 1 << 20
	hold := int64(10 * time.Minute)
	var vs verdictState
	step := int64(time.Minute)
	var shown []uint8
	for i := range 40 {
		var parts breakdown
		switch {
		case i < 20:
			// page cache wobbles between 0.85 and 1.15 MiB
			parts[causePageCache] = mib*85/100 + int64(i%4)*mib*10/100
		default:
			parts[causePageCache] = mib / 2
		}
		parts[causeOtherKernel] = 5 * mib
		updateShown(&vs, &parts, int64(i)*step, hold, mib)
		shown = append(shown, vs.shown)
	}
	both := uint8(1<<causePageCache | 1<<causeOtherKernel)
	kernelOnly := uint8(1 << causeOtherKernel)
	// page cache reaches 1.05 MiB at minute 2 and is shown from then; it is kept through the
	// wobble, drops to 0.5 MiB at minute 20, and is dropped at the first review whose whole
	// period was below 0.8 MiB: the review at 30 min (reviews every 10 min from minute 0).
	for i, s := range shown {
		want := both
		switch {
		case i < 2:
			want = kernelOnly
		case i >= 30:
			want = kernelOnly
		}
		assert.Equal(t, want, s, "minute %d", i)
	}

	var cap verdictState
	var six breakdown
	for c := range numCauses {
		six[c] = int64(c+2) * mib
	}
	updateShown(&cap, &six, 0, hold, mib)
	assert.Equal(t, maxCompactCauses, popcount(cap.shown), "at most maxCompactCauses causes")
	assert.Zero(t, cap.shown&(1<<causePageCache|1<<causeDentrySlab), "the largest are shown")
	cap.oom.kills[causeRSS] = 1
	updateShown(&cap, &six, step, hold, mib)
	assert.Equal(t, maxCompactCauses-1, popcount(cap.shown), "a kill series takes a cause's place")
}

func popcount(b uint8) int {
	n := 0
	for ; b != 0; b &= b - 1 {
		n++
	}
	return n
}

// TestDetailHeldAfterFlag: a container flagged for a while keeps its full breakdown for
// series.hold after the flag drops, then falls back to the causes of at least
// min_cause_bytes.
func TestDetailHeldAfterFlag(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	p, sink := newTestProcessor(t, cfg)
	base := goldenResource(t, "v2", "container.id", workloadID)
	var causes []int
	for i := range 20 {
		md := scrapeOf(base, t0.Add(time.Duration(i)*time.Minute), 0, "container.", signals{}, func(ms pmetric.MetricSlice) {
			if i >= 5 { // the page cache is dropped: 80 MiB less, no longer flagged
				for _, name := range []string{"container.memory.active_file", "container.memory.cache", "container.memory.usage", "container.memory.working_set"} {
					addValue(ms, name, -80<<20)
				}
			}
		})
		require.NoError(t, p.ConsumeMetrics(context.Background(), md))
		n := 0
		for _, s := range ownPoints(sink.AllMetrics()[i])[workloadID] {
			if strings.HasPrefix(s, "container.memory.divergence.usage") {
				n++
			}
		}
		causes = append(causes, n)
	}
	// Flagged at minutes 0-4, held until minute 14 (4 + 10 min), then the causes of at
	// least 1 MiB: page cache (~21 MB), other slab (~23 MB) and socket (1.7 MB).
	want := []int{6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 3, 3, 3, 3, 3, 3}
	assert.Equal(t, want, causes)
}
