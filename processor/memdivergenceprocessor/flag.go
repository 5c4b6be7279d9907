package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metadata"

// verdict is the flag raised on one resource's divergence.
type verdict struct {
	flagged  bool
	dominant metadata.AttributeDominantCause
}

// value is the flag as a 0/1 data point.
func (v verdict) value() int64 {
	if v.flagged {
		return 1
	}
	return 0
}

// judge flags a divergence that reaches MinBytes and, among the relative gates that are on
// and can be evaluated, passes at least one: RSSRatio × rss, or LimitShare × limit (only
// when a limit is known). When no relative gate applies, MinBytes alone decides.
func (t Thresholds) judge(b *breakdown, r *readings) verdict {
	v := verdict{dominant: metadata.AttributeDominantCauseNone}
	c, ok := b.dominant()
	if !ok {
		return v
	}
	v.dominant = dominantAttributes[c]
	v.flagged = t.sizeFlag(b.total(), r, 1)
	return v
}

// sizeFlag applies the size gates to a divergence d, each threshold times factor: 1 to
// raise the flag, hysteresis to keep it raised.
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
