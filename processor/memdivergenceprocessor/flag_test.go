package memdivergenceprocessor

import (
	"testing"

	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metadata"
)

// verdict is the size rule's flag and the dominant cause, as the flag carries them when
// nothing is pressing.
type verdict struct {
	flagged  bool
	dominant metadata.AttributeDominantCause
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

func TestJudge(t *testing.T) {
	const mib = 1 << 20
	defaults := Thresholds{MinBytes: 100 * mib, RSSRatio: 0.5, LimitShare: 0.2}
	tests := []struct {
		name       string
		thresholds Thresholds
		parts      breakdown
		in         *readings
		want       verdict
	}{
		{
			name:       "no divergence: none",
			thresholds: defaults,
			in:         in(map[input]int64{inRSS: 100 * mib}),
			want:       verdict{dominant: metadata.AttributeDominantCauseNone},
		},
		{
			name:       "below min_bytes: dominant cause named, not flagged",
			thresholds: defaults,
			parts:      parts(map[cause]int64{causePageCache: 50 * mib, causeOtherKernel: 10 * mib}),
			in:         in(map[input]int64{inRSS: 10 * mib}),
			want:       verdict{dominant: metadata.AttributeDominantCausePageCache},
		},
		{
			name:       "large against rss: flagged",
			thresholds: defaults,
			parts:      parts(map[cause]int64{causeDentrySlab: 1400 * mib, causeUnexplained: 100 * mib}),
			in:         in(map[input]int64{inRSS: 300 * mib, inLimit: 2048 * mib}),
			want:       verdict{flagged: true, dominant: metadata.AttributeDominantCauseDentrySlab},
		},
		{
			name:       "small against rss and limit: not flagged",
			thresholds: defaults,
			parts:      parts(map[cause]int64{causePageCache: 130 * mib}),
			in:         in(map[input]int64{inRSS: 2300 * mib, inLimit: 3000 * mib}),
			want:       verdict{dominant: metadata.AttributeDominantCausePageCache},
		},
		{
			name:       "small against rss, large share of the limit: flagged",
			thresholds: defaults,
			parts:      parts(map[cause]int64{causeSocket: 700 * mib}),
			in:         in(map[input]int64{inRSS: 2300 * mib, inLimit: 3000 * mib}),
			want:       verdict{flagged: true, dominant: metadata.AttributeDominantCauseSocket},
		},
		{
			name:       "unlimited (v1 huge number) is no limit",
			thresholds: Thresholds{MinBytes: mib, LimitShare: 0.2},
			parts:      parts(map[cause]int64{causeOtherSlab: 10 * mib}),
			in:         in(map[input]int64{inRSS: mib, inLimit: 9223372036854771712}),
			want:       verdict{flagged: true, dominant: metadata.AttributeDominantCauseOtherSlab},
		},
		{
			name:       "relative gates off: min_bytes alone",
			thresholds: Thresholds{MinBytes: 100 * mib},
			parts:      parts(map[cause]int64{causeUnexplained: 100 * mib}),
			in:         in(map[input]int64{inRSS: 4096 * mib}),
			want:       verdict{flagged: true, dominant: metadata.AttributeDominantCauseUnexplained},
		},
		{
			name:       "tie goes to the earlier cause",
			thresholds: defaults,
			parts:      parts(map[cause]int64{causeOtherKernel: 5, causeDentrySlab: 5}),
			in:         in(map[input]int64{inRSS: 1}),
			want:       verdict{dominant: metadata.AttributeDominantCauseDentrySlab},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.thresholds.judge(&tt.parts, tt.in); got != tt.want {
				t.Errorf("judge() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
