package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

import (
	"math/bits"
	"time"
)

// verdictState is what the processor remembers of one resource besides its trend window:
// the pressure counters' reference, the OOM kills by cause, the last verdict (for
// hysteresis and the verdict log) and which series it emits. About 140 bytes.
type verdictState struct {
	ref pressureRef
	oom oomState

	valid    bool // the fields below hold the previous verdict
	sizeFlag bool
	flagged  bool
	reasons  uint8
	class    class
	cause    cause

	logged      bool // a verdict line was logged for the current flagged period
	loggedClass class

	etaOn       bool  // the ETA is emitted (hysteresis on its slope's sigmas)
	shown       uint8 // compact mode: bit c, the series of cause c is emitted
	kept        uint8 // shown causes that reached hysteresis × min_cause_bytes since the last review
	detailUntil int64 // compact mode: full detail until this time (ns), after the flag drops
	reviewAt    int64 // next time shown causes may be dropped (ns)
}

func (vs *verdictState) remember(j *judgement) {
	vs.valid = true
	vs.sizeFlag, vs.flagged, vs.reasons = j.sizeFlag, j.flagged, j.reasons
	vs.class, vs.cause = j.class, j.cause
}

// emission says which data points one resource gets at one sample.
type emission struct {
	causes uint8 // bit c: the divergence data point of cause c
	growth bool  // the working-set growth and the six cause growth rates
	eta    bool
}

// maxCompactCauses is how many cause series a resource that is not flagged gets in
// compact mode, less one per cause its OOM kills are counted under: with the flag and the
// ETA that makes at most 6 data points.
const maxCompactCauses = 4

const allCauses = 1<<numCauses - 1

// selectSeries applies the series rules (README "Series per container"). Full detail
// emits everything there is. Compact:
//   - the flag, always;
//   - while flagged, and for hold after, all six causes and, once the window is long
//     enough, the growth rates;
//   - otherwise the causes that reached min_cause_bytes, at most maxCompactCauses less the
//     kill series, largest first; a cause's series is dropped only at a review (every hold)
//     when it stayed below hysteresis × min_cause_bytes since the review before;
//   - the ETA while the working set grows (both modes, see etaShown);
//   - the OOM kills by cause that are not zero.
func selectSeries(vs *verdictState, a *analysis, t int64, cfg SeriesConfig) emission {
	e := emission{eta: etaShown(vs, a)}
	if cfg.Detail == detailFull {
		e.causes, e.growth = allCauses, a.growthOK
		return e
	}
	hold := int64(cfg.Hold / time.Nanosecond)
	if a.judgement.flagged {
		vs.detailUntil = t + hold
	}
	updateShown(vs, &a.parts, t, hold, cfg.MinCauseBytes)
	if a.judgement.flagged || t < vs.detailUntil {
		e.causes, e.growth = allCauses, a.growthOK
		return e
	}
	e.causes = vs.shown
	return e
}

func updateShown(vs *verdictState, parts *breakdown, t, hold, minBytes int64) {
	for c := range numCauses {
		if vs.shown&(1<<c) != 0 && parts[c] > 0 && float64(parts[c]) >= hysteresis*float64(minBytes) {
			vs.kept |= 1 << c
		}
	}
	if vs.reviewAt == 0 {
		vs.reviewAt = t + hold
	}
	if t >= vs.reviewAt {
		vs.shown &= vs.kept
		vs.kept = 0
		vs.reviewAt = t + hold
	}
	limit := max(maxCompactCauses-vs.oom.series(), 0)
	for bits.OnesCount8(vs.shown) < limit {
		best, found := cause(0), false
		for c := range numCauses {
			if vs.shown&(1<<c) == 0 && parts[c] > 0 && parts[c] >= minBytes && (!found || parts[c] > parts[best]) {
				best, found = c, true
			}
		}
		if !found {
			break
		}
		vs.shown |= 1 << best
		vs.kept |= 1 << best
	}
	for bits.OnesCount8(vs.shown) > limit {
		smallest := cause(-1)
		for c := range numCauses {
			if vs.shown&(1<<c) != 0 && (smallest < 0 || parts[c] < parts[smallest]) {
				smallest = c
			}
		}
		vs.shown &^= 1 << smallest
	}
}

// etaShown turns the ETA on when the working set grows min_slope_sigmas standard errors
// above 0 toward a known limit that it reaches within eta_horizon, and keeps it while the
// slope stays above hysteresis × min_slope_sigmas and the ETA within eta_horizon ÷
// hysteresis.
func etaShown(vs *verdictState, a *analysis) bool {
	g := &a.growth
	within := func(f float64) bool { return a.etaHorizon <= 0 || g.eta <= f*a.etaHorizon }
	var on bool
	if vs.etaOn {
		on = g.etaRising && g.wsSigmas >= hysteresis*a.minSigmas && within(1/hysteresis)
	} else {
		on = g.etaOK && within(1)
	}
	on = on && a.growthOK
	vs.etaOn = on
	return on
}
