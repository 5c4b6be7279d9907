package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

// growth is what the trend window says about one resource.
type growth struct {
	workingSet float64            // bytes per second
	causes     [numCauses]float64 // bytes per second
	eta        float64            // seconds until the working set reaches the limit
	etaOK      bool               // false when no limit is known or the working set is not growing
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
	g := growth{workingSet: f.slope, causes: causes}
	limit, ok := r.limit()
	if !ok || f.slope <= 0 || f.sigmas < cfg.MinSlopeSigmas {
		return g, true
	}
	ws, _ := r.get(inWorkingSet)
	g.eta = float64(max(limit-ws, 0)) / f.slope
	g.etaOK = true
	return g, true
}
