package memdivergenceprocessor

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metricstest"
)

// goldenResource returns the receiver golden's resource whose attribute key is id (a
// container by container.id, a pod by k8s.pod.uid without a container.id), alone in a
// batch.
func goldenResource(t testing.TB, fixture, key, id string) pmetric.Metrics {
	t.Helper()
	in, err := golden.ReadMetrics(filepath.Join("..", "..", "testdata", "golden", "receiver-"+fixture+".yaml"))
	require.NoError(t, err)
	out := pmetric.NewMetrics()
	for _, rm := range in.ResourceMetrics().All() {
		v, ok := rm.Resource().Attributes().Get(key)
		_, isContainer := rm.Resource().Attributes().Get("container.id")
		if ok && v.Str() == id && (key == "container.id" || !isContainer) {
			rm.CopyTo(out.ResourceMetrics().AppendEmpty())
			return out
		}
	}
	t.Fatalf("%s golden has no resource %s=%s", fixture, key, id)
	return out
}

// signals are pressure counters a scrape adds, as rates from time 0, so that scrape i at
// i×step carries rate×i×step.
type signals struct {
	stallShare  float64 // PSI some: seconds of stall per second
	refaultFile float64 // pages per second
	refaultAnon float64
	maxEvents   float64 // memory.events max per second
	noPSI       bool    // the resource has no memory.pressure (v1 without the unified mirror)
}

// scrapeOf copies base to time ts and adds the counters of sig at elapsed seconds, named
// for the level (container. or k8s.pod.), on top of the golden's own counter values (one
// capture of the real kernel: a start, no rate).
func scrapeOf(base pmetric.Metrics, ts time.Time, elapsed float64, prefix string, sig signals, edit func(ms pmetric.MetricSlice)) pmetric.Metrics {
	md := pmetric.NewMetrics()
	base.CopyTo(md)
	setTimestamps(md, pcommon.NewTimestampFromTime(ts))
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	t := pcommon.NewTimestampFromTime(ts)
	stall, refaults, events := prefix+"memory.pressure.stall_time", prefix+"memory.refaults", prefix+"memory.events"
	start := func(name, key, value string) float64 { return goldenCounter(ms, name, key, value) }
	some, full := start(stall, "pressure.type", "some"), start(stall, "pressure.type", "full")
	file, anon := start(refaults, "container.memory.lru.type", "file"), start(refaults, "container.memory.lru.type", "anon")
	high, maxEv := start(events, "container.memory.event.type", "high"), start(events, "container.memory.event.type", "max")
	removeMetrics(ms, stall, refaults, events)
	if !sig.noPSI {
		addMetric(ms, stall, true,
			dp{ts: t, d: some + sig.stallShare*elapsed, isD: true, attrs: map[string]string{"pressure.type": "some"}},
			dp{ts: t, d: full + sig.stallShare*elapsed/2, isD: true, attrs: map[string]string{"pressure.type": "full"}})
	}
	addMetric(ms, refaults, true,
		dp{ts: t, i: int64(file + sig.refaultFile*elapsed), attrs: map[string]string{"container.memory.lru.type": "file"}},
		dp{ts: t, i: int64(anon + sig.refaultAnon*elapsed), attrs: map[string]string{"container.memory.lru.type": "anon"}})
	addMetric(ms, events, true,
		dp{ts: t, i: int64(high), attrs: map[string]string{"container.memory.event.type": "high"}},
		dp{ts: t, i: int64(maxEv + sig.maxEvents*elapsed), attrs: map[string]string{"container.memory.event.type": "max"}})
	if edit != nil {
		edit(ms)
	}
	return md
}

// goldenCounter returns the value of a counter's data point with the attribute, 0 without.
func goldenCounter(ms pmetric.MetricSlice, name, key, value string) float64 {
	for _, m := range ms.All() {
		if m.Name() != name {
			continue
		}
		for _, p := range numberPoints(m).All() {
			if a, ok := p.Attributes().Get(key); ok && a.Str() == value {
				if p.ValueType() == pmetric.NumberDataPointValueTypeDouble {
					return p.DoubleValue()
				}
				return float64(p.IntValue())
			}
		}
	}
	return 0
}

func removeMetrics(ms pmetric.MetricSlice, names ...string) {
	ms.RemoveIf(func(m pmetric.Metric) bool {
		for _, n := range names {
			if m.Name() == n {
				return true
			}
		}
		return false
	})
}

// setValue replaces an int metric's value (its first data point).
func setValue(ms pmetric.MetricSlice, name string, v int64) {
	for _, m := range ms.All() {
		if m.Name() == name {
			numberPoints(m).At(0).SetIntValue(v)
		}
	}
}

func addValue(ms pmetric.MetricSlice, name string, d int64) {
	for _, m := range ms.All() {
		if m.Name() == name {
			p := numberPoints(m).At(0)
			p.SetIntValue(p.IntValue() + d)
		}
	}
}

// flagOf returns the flag data point's value, cause and classification.
func flagOf(t *testing.T, rm pmetric.ResourceMetrics, prefix string) (int64, string, string) {
	t.Helper()
	flag, ok := metricstest.Find(rm, prefix+"memory.divergence.flagged")
	require.True(t, ok, "no flag")
	require.Equal(t, 1, flag.Gauge().DataPoints().Len(), "one flag data point")
	p := flag.Gauge().DataPoints().At(0)
	c, _ := p.Attributes().Get("memdivergence.cause")
	cl, _ := p.Attributes().Get("memdivergence.classification")
	return p.IntValue(), c.Str(), cl.Str()
}

// TestClassificationRules runs each rule on a resource of the v1 or v2 receiver golden,
// scraped several times with the pressure counters the row adds (the goldens are single
// scrapes; real counters come from the live tests).
func TestClassificationRules(t *testing.T) {
	const step = 30 * time.Second
	tests := []struct {
		name      string
		fixture   string
		key, id   string
		sig       signals
		edit      func(i int, ms pmetric.MetricSlice)
		cfg       func(*Config)
		scrapes   int
		immediate bool // the rule needs no rate: it holds from the first scrape
		wantFlag  int64
		wantCause string
		wantClass string
	}{
		{
			name: "v1 workload: active page cache, no stall, no refaults → reclaimable", fixture: "v1",
			key: "container.id", id: workloadID, wantFlag: 1, wantCause: "page_cache", wantClass: "reclaimable",
		},
		{
			name: "v2 workload: active page cache, no stall, no refaults → reclaimable", fixture: "v2",
			key: "container.id", id: workloadID, wantFlag: 1, wantCause: "page_cache", wantClass: "reclaimable",
		},
		{
			name: "v1 workload without PSI (no unified mirror): refaults alone decide", fixture: "v1",
			key: "container.id", id: workloadID, sig: signals{noPSI: true},
			wantFlag: 1, wantCause: "page_cache", wantClass: "reclaimable",
		},
		{
			name: "v1 workload refaulting its cache → pressing page_cache", fixture: "v1",
			key: "container.id", id: workloadID, sig: signals{refaultFile: 5000},
			wantFlag: 1, wantCause: "page_cache", wantClass: "pressing",
		},
		{
			name: "refaults just under the threshold stay reclaimable", fixture: "v2",
			key: "container.id", id: workloadID, sig: signals{refaultFile: 250},
			wantFlag: 1, wantCause: "page_cache", wantClass: "reclaimable",
		},
		{
			name: "v2 workload refaulting anonymous memory (swap) → pressing rss", fixture: "v2",
			key: "container.id", id: workloadID, sig: signals{refaultAnon: 5000},
			wantFlag: 1, wantCause: "rss", wantClass: "pressing",
		},
		{
			name: "v1 idle container stalling: pressure without divergence is still pressing", fixture: "v1",
			key: "container.id", id: idleID, sig: signals{stallShare: 0.05},
			wantFlag: 1, wantCause: "rss", wantClass: "pressing",
		},
		{
			name: "stall just under the threshold: not flagged", fixture: "v1",
			key: "container.id", id: idleID, sig: signals{stallShare: 0.009},
			wantFlag: 0, wantCause: "unexplained", wantClass: "unknown",
		},
		{
			name: "v2 workload hitting memory.max → pressing, cause what fills it", fixture: "v2",
			key: "container.id", id: workloadID, sig: signals{maxEvents: 0.1},
			wantFlag: 1, wantCause: "page_cache", wantClass: "pressing",
		},
		{
			name: "v1 pod stalling → pressing at pod level", fixture: "v1",
			key: "k8s.pod.uid", id: workloadUID, sig: signals{stallShare: 0.2},
			wantFlag: 1, wantCause: "page_cache", wantClass: "pressing",
		},
		{
			name: "v1 workload's real socket queues (ss -m) with a 1 MiB threshold → socket", fixture: "v1",
			key: "container.id", id: workloadID,
			edit: func(_ int, ms pmetric.MetricSlice) {
				// ss-tuanmpe.txt: UDP r1664000 for 2,000 × 10 B, TCP r48304 for 30,000 B.
				addMetric(ms, "container.memory.sock_rcvq", true, dp{i: 1664000 + 48304})
				addMetric(ms, "container.memory.sock_rcvq_payload", true, dp{i: 20000 + 30000})
			},
			cfg:       func(c *Config) { c.Thresholds.SockRcvqBytes = 1 << 20 },
			immediate: true, wantFlag: 1, wantCause: "socket", wantClass: "pressing",
		},
		{
			name: "the same queues under the default 16 MiB threshold: not socket", fixture: "v1",
			key: "container.id", id: workloadID,
			edit: func(_ int, ms pmetric.MetricSlice) {
				addMetric(ms, "container.memory.sock_rcvq", true, dp{i: 1664000 + 48304})
				addMetric(ms, "container.memory.sock_rcvq_payload", true, dp{i: 20000 + 30000})
			},
			wantFlag: 1, wantCause: "page_cache", wantClass: "reclaimable",
		},
		{
			name: "a large queue of bulk payload (ratio under 4) is not incident 5", fixture: "v1",
			key: "container.id", id: idleID,
			edit: func(_ int, ms pmetric.MetricSlice) {
				addMetric(ms, "container.memory.sock_rcvq", true, dp{i: 40 << 20})
				addMetric(ms, "container.memory.sock_rcvq_payload", true, dp{i: 30 << 20})
			},
			wantFlag: 0, wantCause: "unexplained", wantClass: "unknown",
		},
		{
			name: "v1 idle container whose kernel memory grows 2 MiB a minute → pressing other_kernel", fixture: "v1",
			key: "container.id", id: idleID, scrapes: 12,
			edit: func(i int, ms pmetric.MetricSlice) {
				grown := int64(150<<20) + int64(i)*(2<<20)
				for _, n := range []string{"container.memory.kmem", "container.memory.usage", "container.memory.working_set"} {
					addValue(ms, n, grown)
				}
			},
			cfg:      func(c *Config) { c.Trend.SampleInterval = step },
			wantFlag: 1, wantCause: "other_kernel", wantClass: "pressing",
		},
		{
			name: "the same kernel memory, steady: flagged, neither reclaimable nor pressing", fixture: "v1",
			key: "container.id", id: idleID, scrapes: 12,
			edit: func(i int, ms pmetric.MetricSlice) {
				for _, n := range []string{"container.memory.kmem", "container.memory.usage", "container.memory.working_set"} {
					addValue(ms, n, 150<<20)
				}
			},
			cfg:      func(c *Config) { c.Trend.SampleInterval = step },
			wantFlag: 1, wantCause: "other_kernel", wantClass: "unknown",
		},
		{
			name: "kubeletstats-shaped input (working set, RSS, usage only) → unknown", fixture: "v2",
			key: "container.id", id: workloadID,
			edit: func(_ int, ms pmetric.MetricSlice) {
				ms.RemoveIf(func(m pmetric.Metric) bool {
					switch m.Name() {
					case "container.memory.working_set", "container.memory.rss", "container.memory.usage":
						return false
					}
					return true
				})
			},
			wantFlag: 1, wantCause: "unexplained", wantClass: "unknown",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			p, sink := newTestProcessor(t, cfg)
			base := goldenResource(t, tt.fixture, tt.key, tt.id)
			prefix := "container."
			if tt.key == "k8s.pod.uid" {
				prefix = "k8s.pod."
			}
			n := max(tt.scrapes, 3)
			for i := range n {
				md := scrapeOf(base, t0.Add(time.Duration(i)*step), float64(i)*step.Seconds(), prefix, tt.sig, func(ms pmetric.MetricSlice) {
					if tt.edit != nil {
						tt.edit(i, ms)
					}
				})
				require.NoError(t, p.ConsumeMetrics(context.Background(), md))
			}
			all := sink.AllMetrics()
			require.Len(t, all, n)
			// The first scrape has no rate yet: unknown while the counters warm up.
			if !tt.immediate {
				_, _, firstClass := flagOf(t, all[0].ResourceMetrics().At(0), prefix)
				assert.Equal(t, "unknown", firstClass, "first scrape")
			}
			v, c, cl := flagOf(t, all[n-1].ResourceMetrics().At(0), prefix)
			assert.Equal(t, tt.wantFlag, v, "flag")
			assert.Equal(t, tt.wantCause, c, "cause")
			assert.Equal(t, tt.wantClass, cl, "classification")
		})
	}
}

// TestClassificationHysteresis: a stall share that rises past stall_share makes the
// container pressing; it stays pressing while the share stays above 0.8 × stall_share and
// leaves below it.
func TestClassificationHysteresis(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Trend.SampleInterval = time.Minute
	cfg.Trend.Window = 5 // the rate is over the last 4 minutes
	cfg.Trend.MinSamples = 3
	p, sink := newTestProcessor(t, cfg)
	base := goldenResource(t, "v1", "container.id", idleID)
	// Stall share per minute: 0, then 2 %, then 0.9 %, 0.9 %, … then 0.3 %.
	shares := []float64{0, 0.02, 0.02, 0.02, 0.02, 0.009, 0.009, 0.009, 0.009, 0.009, 0.003, 0.003, 0.003, 0.003, 0.003}
	var stall float64
	var classes []string
	for i, share := range shares {
		if i > 0 {
			stall += share * 60
		}
		md := scrapeOf(base, t0.Add(time.Duration(i)*time.Minute), 0, "container.", signals{}, func(ms pmetric.MetricSlice) {
			removeMetrics(ms, "container.memory.pressure.stall_time")
			addMetric(ms, "container.memory.pressure.stall_time", true,
				dp{d: stall, isD: true, attrs: map[string]string{"pressure.type": "some"}})
		})
		require.NoError(t, p.ConsumeMetrics(context.Background(), md))
		_, _, cl := flagOf(t, sink.AllMetrics()[i].ResourceMetrics().At(0), "container.")
		classes = append(classes, cl)
	}
	// Window rates (the 4 minutes before): 2 % from minute 1; as 0.9 % minutes replace the
	// 2 % ones the rate falls through 1.7, 1.45, 1.2, 0.9, 0.9 % (held: at least 0.8 %); the
	// first 0.3 % minute takes it to 0.75 %, below 0.8 %.
	want := []string{
		"unknown", "pressing", "pressing", "pressing", "pressing",
		"pressing", "pressing", "pressing", "pressing", "pressing",
		"unknown", "unknown", "unknown", "unknown", "unknown",
	}
	assert.Equal(t, want, classes)

	// Without the history, a 0.9 % share never raises it.
	p2, sink2 := newTestProcessor(t, cfg)
	stall = 0
	for i := range 6 {
		if i > 0 {
			stall += 0.009 * 60
		}
		md := scrapeOf(base, t0.Add(time.Duration(i)*time.Minute), 0, "container.", signals{}, func(ms pmetric.MetricSlice) {
			removeMetrics(ms, "container.memory.pressure.stall_time")
			addMetric(ms, "container.memory.pressure.stall_time", true,
				dp{d: stall, isD: true, attrs: map[string]string{"pressure.type": "some"}})
		})
		require.NoError(t, p2.ConsumeMetrics(context.Background(), md))
		_, _, cl := flagOf(t, sink2.AllMetrics()[i].ResourceMetrics().At(0), "container.")
		assert.NotEqual(t, "pressing", cl, "scrape %d", i)
	}
}

func TestPressureRates(t *testing.T) {
	const sec = int64(time.Second)
	type obs struct {
		t     int64
		stall int64 // µs
		file  int64
		has   uint8
	}
	all := uint8(1<<ctStall | 1<<ctRefaultFile)
	tests := []struct {
		name      string
		gap       time.Duration
		obs       []obs
		wantShare float64
		wantFile  float64 // pages/s
		wantKnown bool
	}{
		{
			name: "one sample: no rate", gap: time.Minute,
			obs: []obs{{0, 5e6, 10, all}},
		},
		{
			name: "a second sample inside the sample interval gives a rate", gap: time.Minute,
			obs:       []obs{{0, 5e6, 10, all}, {10 * sec, 5e6 + 1e6, 110, all}},
			wantShare: 0.1, wantFile: 10, wantKnown: true,
		},
		{
			name: "kept and thinned samples add up over the window", gap: 20 * time.Second,
			obs: []obs{
				{0, 0, 0, all}, {10 * sec, 1e6, 10, all}, {20 * sec, 2e6, 20, all},
				{30 * sec, 3e6, 30, all}, {40 * sec, 4e6, 40, all},
			},
			wantShare: 0.1, wantFile: 1, wantKnown: true,
		},
		{
			name: "increases of points that left the window do not count", gap: 0,
			obs: []obs{
				{0, 0, 0, all}, {10 * sec, 10e6, 500, all}, {20 * sec, 20e6, 1000, all},
				{30 * sec, 21e6, 1010, all}, {40 * sec, 22e6, 1020, all},
			},
			wantShare: 0.1, wantFile: 1, wantKnown: true,
		},
		{
			name: "a counter that went down was reset and counts from 0", gap: 0,
			obs:       []obs{{0, 50e6, 1000, all}, {10 * sec, 1e6, 100, all}},
			wantShare: 0.1, wantFile: 10, wantKnown: true,
		},
		{
			name: "the set of counters changed: the window starts over", gap: 0,
			obs: []obs{{0, 0, 0, 1 << ctStall}, {10 * sec, 1e6, 100, all}},
		},
		{
			name: "after a change, rates count from the change only", gap: 0,
			obs: []obs{
				{0, 0, 0, 1 << ctStall}, {10 * sec, 9e6, 100, all},
				{20 * sec, 10e6, 110, all}, {30 * sec, 11e6, 120, all},
			},
			wantShare: 0.1, wantFile: 1, wantKnown: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWindow(3)
			var ref pressureRef
			var got pressureRates
			for _, o := range tt.obs {
				c := counters{has: o.has}
				c.v[ctStall], c.v[ctRefaultFile] = o.stall, o.file
				p := point{t: o.t}
				ref.pressurePoint(&p, &c)
				kept := w.add(p, tt.gap)
				got = ref.rates(w, &c, o.t, kept)
				ref.update(&c, o.t, kept)
			}
			assert.Equal(t, tt.wantKnown, got.has(ctStall), "known")
			assert.InDelta(t, tt.wantShare, got.stallShare(), 1e-9, "stall share")
			assert.InDelta(t, tt.wantFile, got.rate(ctRefaultFile), 1e-9, "refaults/s")
		})
	}
}

func TestReclaimableSlab(t *testing.T) {
	// v2 workload: slab_reclaimable 22,884,776, slab_unreclaimable 32,848 (testdata/README.md).
	v2 := in(map[input]int64{inSlab: 22884776 + 32848, inSlabUnreclaimable: 32848})
	assert.True(t, reclaimable(causeOtherSlab, v2))
	assert.False(t, growable(causeOtherSlab, v2))
	mostlyUnreclaimable := in(map[input]int64{inSlab: 100, inSlabUnreclaimable: 60})
	assert.False(t, reclaimable(causeOtherSlab, mostlyUnreclaimable))
	assert.True(t, growable(causeOtherSlab, mostlyUnreclaimable))
	noSplit := in(map[input]int64{inSlab: 100})
	assert.False(t, reclaimable(causeOtherSlab, noSplit), "without the split the slab is not known to be reclaimable")
	for _, c := range []cause{causePageCache, causeDentrySlab} {
		assert.True(t, reclaimable(c, noSplit), c.String())
	}
	for _, c := range []cause{causeOtherKernel, causeSocket, causeUnexplained} {
		assert.False(t, reclaimable(c, noSplit), c.String())
	}
	assert.False(t, growable(causeUnexplained, noSplit), "unexplained is not a growth cause")
}

func ExampleverdictLine() {
	fmt.Println(bytesText(1503238553), bytesText(3<<20), bytesText(512), durationText(3*3600+100))
	// Output: 1.4 GiB 3.0 MiB 512 B 3 h
}

// TestClassificationKeptWhileCountersChange: when a resource's set of counters changes (PSI
// appears, say), no rate is known for one scrape; the classification stays what it was.
func TestClassificationKeptWhileCountersChange(t *testing.T) {
	for _, tt := range []struct {
		name string
		sig  signals
		want string
	}{
		{"reclaimable", signals{}, "reclaimable"},
		{"pressing", signals{refaultFile: 5000}, "pressing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, sink := newTestProcessor(t, createDefaultConfig().(*Config))
			base := goldenResource(t, "v1", "container.id", workloadID)
			for i := range 6 {
				sig := tt.sig
				sig.noPSI = i < 3 // PSI appears at scrape 3
				md := scrapeOf(base, t0.Add(time.Duration(i)*30*time.Second), float64(i)*30, "container.", sig, nil)
				require.NoError(t, p.ConsumeMetrics(context.Background(), md))
			}
			for i, md := range sink.AllMetrics()[1:] {
				v, _, cl := flagOf(t, md.ResourceMetrics().At(0), "container.")
				assert.Equal(t, tt.want, cl, "scrape %d", i+1)
				assert.Equal(t, int64(1), v, "scrape %d", i+1)
			}
		})
	}
}

// TestPressingCauseHysteresis: a stalling container whose anonymous memory and page cache
// take turns at being the larger by a few percent keeps the cause it was flagged with.
func TestPressingCauseHysteresis(t *testing.T) {
	p, sink := newTestProcessor(t, createDefaultConfig().(*Config))
	base := goldenResource(t, "v1", "container.id", workloadID) // page cache 100.7 MB, rss 76.8 MB
	var causes []string
	for i := range 8 {
		md := scrapeOf(base, t0.Add(time.Duration(i)*30*time.Second), float64(i)*30, "container.", signals{stallShare: 0.1}, func(ms pmetric.MetricSlice) {
			extra := int64(20 << 20) // rss 97.8 MB
			if i%2 == 1 {
				extra = 30 << 20 // rss 108.3 MB
			}
			for _, n := range []string{"container.memory.rss", "container.memory.usage", "container.memory.working_set"} {
				addValue(ms, n, extra)
			}
		})
		require.NoError(t, p.ConsumeMetrics(context.Background(), md))
		_, c, _ := flagOf(t, sink.AllMetrics()[i].ResourceMetrics().At(0), "container.")
		causes = append(causes, c)
	}
	// Scrape 0 has no rate yet: the divergence's dominant cause, page cache. From scrape 1
	// the stall names what the working set mostly holds, rss (98 or 108 MB) or page cache
	// (101 MB): the page cache shown before is kept, never less than 0.8 × rss.
	assert.Equal(t, []string{"page_cache", "page_cache", "page_cache", "page_cache", "page_cache", "page_cache", "page_cache", "page_cache"}, causes)
}
