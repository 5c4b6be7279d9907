package memdivergenceprocessor

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// dp describes one data point of a test metric.
type dp struct {
	ts    pcommon.Timestamp
	i     int64
	d     float64 // used when isD
	isD   bool
	attrs map[string]string
}

// addMetric appends a gauge (or a non-monotonic sum) with the given points.
func addMetric(ms pmetric.MetricSlice, name string, sum bool, points ...dp) {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetUnit("By")
	var dps pmetric.NumberDataPointSlice
	if sum {
		m.SetEmptySum().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		dps = m.Sum().DataPoints()
	} else {
		dps = m.SetEmptyGauge().DataPoints()
	}
	for _, p := range points {
		d := dps.AppendEmpty()
		d.SetTimestamp(p.ts)
		if p.isD {
			d.SetDoubleValue(p.d)
		} else {
			d.SetIntValue(p.i)
		}
		for k, v := range p.attrs {
			d.Attributes().PutStr(k, v)
		}
	}
}

func TestRead(t *testing.T) {
	ix := newInputIndex(createDefaultConfig().(*Config).Container)
	tests := []struct {
		name   string
		build  func(ms pmetric.MetricSlice)
		want   readings
		wantTS pcommon.Timestamp
		wantOK bool
	}{
		{
			name: "gauges and sums, int and double",
			build: func(ms pmetric.MetricSlice) {
				addMetric(ms, "container.memory.working_set", false, dp{ts: 7, i: 900})
				addMetric(ms, "container.memory.rss", true, dp{ts: 7, d: 299.6, isD: true})
				addMetric(ms, "container.memory.usage", true, dp{ts: 7, i: 1000})
			},
			want:   readings{inWorkingSet: {900, true}, inRSS: {300, true}, inUsage: {1000, true}},
			wantTS: 7,
			wantOK: true,
		},
		{
			name: "slab points add up, source views take the largest",
			build: func(ms pmetric.MetricSlice) {
				addMetric(ms, "container.memory.working_set", true, dp{ts: 9, i: 900})
				addMetric(ms, "container.memory.rss", true, dp{ts: 9, i: 100})
				addMetric(ms, "container.memory.slab.usage", true,
					dp{i: 600, attrs: map[string]string{"container.memory.slab.state": "reclaimable"}},
					dp{i: 50, attrs: map[string]string{"container.memory.slab.state": "unreclaimable"}})
				addMetric(ms, "container.memory.sock_rcvq", true,
					dp{i: 400, attrs: map[string]string{"container.memory.socket.source": "sock_diag"}},
					dp{i: 30, attrs: map[string]string{"container.memory.socket.source": "proc_net"}})
			},
			want: readings{
				inWorkingSet: {900, true}, inRSS: {100, true},
				inSlab: {650, true}, inSlabUnreclaimable: {50, true}, inSockRcvq: {400, true},
			},
			wantTS: 9,
			wantOK: true,
		},
		{
			name: "pressure counters are taken by their attributes; stall seconds become µs",
			build: func(ms pmetric.MetricSlice) {
				addMetric(ms, "container.memory.working_set", true, dp{ts: 9, i: 900})
				addMetric(ms, "container.memory.rss", true, dp{ts: 9, i: 100})
				addMetric(ms, "container.memory.pressure.stall_time", true,
					dp{d: 1.2345675, isD: true, attrs: map[string]string{"pressure.type": "some"}},
					dp{d: 0.5, isD: true, attrs: map[string]string{"pressure.type": "full"}})
				addMetric(ms, "container.memory.refaults", true,
					dp{i: 357, attrs: map[string]string{"container.memory.lru.type": "file"}},
					dp{i: 2, attrs: map[string]string{"container.memory.lru.type": "anon"}})
				addMetric(ms, "container.memory.events", true,
					dp{i: 3, attrs: map[string]string{"container.memory.event.type": "high"}},
					dp{i: 11, attrs: map[string]string{"container.memory.event.type": "max"}},
					dp{i: 1, attrs: map[string]string{"container.memory.event.type": "oom_kill"}},
					dp{i: 99, attrs: map[string]string{"other": "max"}})
				addMetric(ms, "container.memory.oom_kills", true, dp{i: 1})
				addMetric(ms, "container.memory.sock_rcvq_payload", true, dp{i: 70})
			},
			want: readings{
				inWorkingSet: {900, true}, inRSS: {100, true},
				inStallSome: {1234568, true}, inRefaultFile: {357, true}, inRefaultAnon: {2, true},
				inEventsHigh: {3, true}, inEventsMax: {11, true}, inOOMKills: {1, true},
				inSockRcvqPayload: {70, true},
			},
			wantTS: 9,
			wantOK: true,
		},
		{
			name: "NaN points and other metric types are not values",
			build: func(ms pmetric.MetricSlice) {
				addMetric(ms, "container.memory.working_set", false, dp{ts: 3, i: 900})
				addMetric(ms, "container.memory.rss", false, dp{ts: 3, i: 100})
				addMetric(ms, "container.memory.kmem", false, dp{d: math.NaN(), isD: true})
				h := ms.AppendEmpty()
				h.SetName("container.memory.cache")
				h.SetEmptyHistogram().DataPoints().AppendEmpty().SetCount(1)
			},
			want:   readings{inWorkingSet: {900, true}, inRSS: {100, true}},
			wantTS: 3,
			wantOK: true,
		},
		{
			name: "no rss: nothing to explain",
			build: func(ms pmetric.MetricSlice) {
				addMetric(ms, "container.memory.working_set", false, dp{ts: 3, i: 900})
				addMetric(ms, "container.memory.cache", false, dp{ts: 3, i: 100})
			},
			want:   readings{inWorkingSet: {900, true}, inCache: {100, true}},
			wantTS: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rm := pmetric.NewResourceMetrics()
			tt.build(rm.ScopeMetrics().AppendEmpty().Metrics())
			got, ok := ix.read(rm)
			if ok != tt.wantOK {
				t.Errorf("read() ok = %v, want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, got.in, cmp.AllowUnexported(reading{})); diff != "" {
				t.Errorf("read() mismatch (-want +got):\n%s", diff)
			}
			if got.ts != tt.wantTS {
				t.Errorf("read() ts = %d, want %d", got.ts, tt.wantTS)
			}
		})
	}
}
