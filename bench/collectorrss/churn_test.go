package main

import (
	"strings"
	"testing"
)

// series makes samples: steady ones at steadyMiB, then churn ones whose RSS is f(i) MiB.
func series(steadyMiB float64, churn int, f func(i int) float64) []Sample {
	var ss []Sample
	for range 6 {
		ss = append(ss, Sample{Phase: "steady", RSSBytes: uint64(steadyMiB * (1 << 20)), HeapBytes: 4 << 20, Threads: 9, FDs: 1000, Scrapes: 5})
	}
	for i := range churn {
		alive := 80 + (i*7)%40 // the live churned containers move, and their fds with them
		ss = append(ss, Sample{At: float64(5 * i), Phase: "churn", RSSBytes: uint64(f(i) * (1 << 20)), HeapBytes: 5 << 20, Threads: 9,
			FDs: 1000 + 10*alive, Scrapes: 5, Alive: alive})
	}
	return ss
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name    string
		samples []Sample
		want    []string // substrings of the failures, none for a pass
	}{
		{name: "flat within the tolerance", samples: series(38, 40, func(i int) float64 { return 40 + float64(i%3) })},
		{name: "growing without bound", samples: series(38, 40, func(i int) float64 { return 40 + 2*float64(i) }),
			want: []string{"over the steady", "RSS (MiB) still growing"}},
		{name: "high but flat", samples: series(38, 40, func(int) float64 { return 50 }), want: []string{"over the steady"}},
		{name: "too few samples", samples: series(38, 2, func(int) float64 { return 38 }), want: []string{"too few samples"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := ChurnReport{Samples: tt.samples}
			judge(&rep, 0.2, 0.9)
			if len(rep.Failures) != len(tt.want) {
				t.Fatalf("failures %q, want %d matching %q", rep.Failures, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(rep.Failures[i], w) {
					t.Errorf("failure %q does not say %q", rep.Failures[i], w)
				}
			}
		})
	}
	// fds that move with the live churned containers are no leak; fds that grow are.
	ss := series(38, 40, func(int) float64 { return 39 })
	for i := range ss {
		if ss[i].Phase == "churn" {
			ss[i].FDs += 3 * i // a leak of 3 a sample (0.6 a second, ~120 over the run, over the 64 allowed)
		}
	}
	rep := ChurnReport{Samples: ss}
	judge(&rep, 0.2, 0.9)
	if len(rep.Failures) != 1 || !strings.Contains(rep.Failures[0], "fds still growing") {
		t.Fatalf("failures %q, want fds still growing", rep.Failures)
	}
}
