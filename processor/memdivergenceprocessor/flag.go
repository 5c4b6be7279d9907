package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

// sizeFlag is the size rule of the flag: the divergence reaches MinBytes and, among the
// relative gates that are on and can be evaluated, passes at least one: RSSRatio × rss, or
// LimitShare × limit (only when a limit is known). When no relative gate applies, MinBytes
// alone decides. Each threshold is multiplied by factor: 1 to raise the flag, hysteresis to
// keep it raised. classify adds the pressing rules.
func (t Thresholds) sizeFlag(d int64, r *readings, factor float64) bool {
	if d <= 0 || float64(d) < factor*float64(t.MinBytes) {
		return false
	}
	gated, passed := false, false
	if t.RSSRatio > 0 {
		rss, _ := r.get(inRSS)
		gated = true
		passed = float64(d) >= factor*t.RSSRatio*float64(rss)
	}
	if limit, ok := r.limit(); ok && t.LimitShare > 0 {
		gated = true
		passed = passed || float64(d) >= factor*t.LimitShare*float64(limit)
	}
	return !gated || passed
}
