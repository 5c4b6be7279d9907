package memdivergenceprocessor

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

const gib = int64(1) << 30

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fillWindow adds one point per step with the working set given by ws(i) and the same
// value as page cache, so cause slopes can be checked too.
func fillWindow(w *window, n int, step time.Duration, ws func(i int) float64) {
	for i := range n {
		p := point{t: t0.Add(time.Duration(i) * step).UnixNano(), ws: ws(i)}
		p.causes[causePageCache] = float32(ws(i))
		w.add(p, 0)
	}
}

func TestEstimateGrowth(t *testing.T) {
	cfg := TrendConfig{Window: 60, MinSamples: 10, MinSlopeSigmas: 3}
	const perMinute = 10e6 // bytes
	linear := func(i int) float64 { return float64(gib) + perMinute*float64(i) }
	tests := []struct {
		name      string
		n         int
		ws        func(i int) float64
		limit     int64
		wantOK    bool
		wantSlope float64
		wantETA   float64 // negative: no ETA
	}{
		{
			name: "linear growth toward a limit",
			n:    30, ws: linear, limit: 2 * gib,
			wantOK: true, wantSlope: perMinute / 60,
			wantETA: (float64(2*gib) - linear(29)) / (perMinute / 60),
		},
		{
			name: "too few samples",
			n:    9, ws: linear, limit: 2 * gib,
			wantETA: -1,
		},
		{
			name: "growth without a limit: rate, no ETA",
			n:    30, ws: linear,
			wantOK: true, wantSlope: perMinute / 60, wantETA: -1,
		},
		{
			name: "flat: no ETA",
			n:    30, ws: func(int) float64 { return float64(gib) }, limit: 2 * gib,
			wantOK: true, wantETA: -1,
		},
		{
			name: "shrinking: no ETA",
			n:    30, ws: func(i int) float64 { return float64(gib) - perMinute*float64(i) }, limit: 2 * gib,
			wantOK: true, wantSlope: -perMinute / 60, wantETA: -1,
		},
		{
			name: "already above the limit: ETA 0",
			n:    30, ws: linear, limit: gib,
			wantOK: true, wantSlope: perMinute / 60, wantETA: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWindow(cfg.Window)
			fillWindow(w, tt.n, time.Minute, tt.ws)
			r := in(map[input]int64{inWorkingSet: int64(tt.ws(tt.n - 1))})
			if tt.limit > 0 {
				r[inLimit] = reading{tt.limit, true}
			}
			g, ok := estimateGrowth(w, r, cfg)
			if ok != tt.wantOK {
				t.Fatalf("estimateGrowth() ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			assertNear(t, "working set slope", tt.wantSlope, g.workingSet, 1e-6)
			assertNear(t, "page cache slope", tt.wantSlope, g.causes[causePageCache], 1e-6)
			if got := g.etaOK; got != (tt.wantETA >= 0) {
				t.Fatalf("etaOK = %v (eta %g), want ETA %g", got, g.eta, tt.wantETA)
			}
			assertNear(t, "eta", max(tt.wantETA, 0), g.eta, 1e-6)
		})
	}
}

func TestEstimateGrowthNoise(t *testing.T) {
	cfg := TrendConfig{Window: 60, MinSamples: 10, MinSlopeSigmas: 3}
	r := in(map[input]int64{inWorkingSet: gib, inLimit: 2 * gib})
	t.Run("flat with noise: no ETA", func(t *testing.T) {
		const seeds = 200
		raised := 0
		for seed := range uint64(seeds) {
			rng := rand.New(rand.NewPCG(seed, 1))
			w := newWindow(cfg.Window)
			fillWindow(w, 60, time.Minute, func(int) float64 {
				return float64(gib) + (rng.Float64()-0.5)*100e6
			})
			if g, _ := estimateGrowth(w, r, cfg); g.etaOK {
				raised++
			}
		}
		// A 3-sigma test on white noise rises by chance about 0.1 % of the time.
		t.Logf("noise raised an ETA in %d of %d windows", raised, seeds)
		if raised > seeds/50 {
			t.Errorf("noise raised an ETA in %d of %d windows", raised, seeds)
		}
	})
	t.Run("growth under noise: ETA close to the truth", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 7))
		w := newWindow(cfg.Window)
		const perMinute = 5e6
		fillWindow(w, 60, time.Minute, func(i int) float64 {
			return float64(gib) + perMinute*float64(i) + (rng.Float64()-0.5)*40e6
		})
		g, _ := estimateGrowth(w, r, cfg)
		if !g.etaOK {
			t.Fatalf("no ETA for a 5 MB/min leak under 40 MB noise")
		}
		want := float64(gib) / (perMinute / 60) // from r's working set, 1 GiB below the limit
		assertNear(t, "eta", want, g.eta, 0.1)
	})
}

func TestWindowAdd(t *testing.T) {
	at := func(d time.Duration) point { return point{t: t0.Add(d).UnixNano(), ws: float64(d)} }
	tests := []struct {
		name   string
		size   int
		gap    time.Duration
		adds   []time.Duration
		wantWS []float64
	}{
		{
			name:   "keeps the latest when full",
			size:   3,
			adds:   []time.Duration{1, 2, 3, 4, 5},
			wantWS: []float64{3, 4, 5},
		},
		{
			name:   "thins samples closer than the gap",
			size:   5,
			gap:    time.Minute,
			adds:   []time.Duration{0, 10 * time.Second, time.Minute, 90 * time.Second, 2 * time.Minute},
			wantWS: []float64{0, float64(time.Minute), float64(2 * time.Minute)},
		},
		{
			name:   "ignores old and repeated samples",
			size:   5,
			adds:   []time.Duration{5, 3, 5, 6},
			wantWS: []float64{5, 6},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWindow(tt.size)
			for _, d := range tt.adds {
				w.add(at(d), tt.gap)
			}
			got := make([]float64, 0, w.len())
			for i := range w.len() {
				got = append(got, w.at(i).ws)
			}
			if len(got) != len(tt.wantWS) {
				t.Fatalf("window holds %v, want %v", got, tt.wantWS)
			}
			for i := range got {
				if got[i] != tt.wantWS[i] {
					t.Fatalf("window holds %v, want %v", got, tt.wantWS)
				}
			}
		})
	}
}

func TestNewPointUsesSampleTime(t *testing.T) {
	s := sample{in: *in(map[input]int64{inWorkingSet: 42}), ts: pcommon.NewTimestampFromTime(t0)}
	b := parts(map[cause]int64{causeSocket: 7})
	p := newPoint(&s, &b)
	if p.t != t0.UnixNano() || p.ws != 42 || p.causes[causeSocket] != 7 {
		t.Errorf("newPoint() = %+v", p)
	}
}

// assertNear checks got against want within a relative tolerance (absolute near zero).
func assertNear(t *testing.T, what string, want, got, rel float64) {
	t.Helper()
	if math.Abs(got-want) > rel*math.Max(math.Abs(want), 1) {
		t.Errorf("%s = %g, want %g (±%g relative)", what, got, want, rel)
	}
}
