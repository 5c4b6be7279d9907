package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

// growth is what the trend window says about one resource.
type growth struct {
	workingSet float64            // bytes per second
	wsSigmas   float64            // standard errors the working-set slope lies above 0
	causes     [numCauses]float64 // bytes per second
	causeSigma [numCauses]float64 // standard errors each cause's slope lies above 0
	eta        float64            // seconds until the working set reaches the limit
	etaOK      bool               // false when no limit is known or the working set is not growing significantly
	etaRising  bool               // eta holds a value: a limit is known and the slope is above 0
}

// newPoint turns a sample and its breakdown into a window point.
func newPoint(s *sample, b *breakdown) point {
	ws, _ := s.in.get(inWorkingSet)
	p := point{t: int64(s.ts), ws: float64(ws)}
	for c := range numCauses {
		p.causes[c] = float32(b[c])
	}
	return p
}

// estimateGrowth returns the growth rates once the window holds MinSamples points, and the
// projected time until the working set reaches the limit when the working set grows
// significantly (its slope at least MinSlopeSigmas standard errors above zero). The
// projection starts from the latest working set: (limit − working_set) / slope, 0 when the
// working set is already at the limit.
func estimateGrowth(w *window, r *readings, cfg TrendConfig) (growth, bool) {
	if w.len() < cfg.MinSamples {
		return growth{}, false
	}
	f, causes := w.slopes()
	g := growth{workingSet: f.slope, wsSigmas: f.sigmas}
	for c := range numCauses {
		g.causes[c], g.causeSigma[c] = causes[c].slope, causes[c].sigmas
	}
	limit, ok := r.limit()
	if !ok || f.slope <= 0 {
		return g, true
	}
	ws, _ := r.get(inWorkingSet)
	g.eta = float64(max(limit-ws, 0)) / f.slope
	g.etaRising = true
	g.etaOK = f.sigmas >= cfg.MinSlopeSigmas
	return g, true
}
