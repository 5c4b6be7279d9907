package k8smeta

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestScheduleWait(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		fetches  []bool // outcome of fetches started at t0
		now      time.Time
		wantWait time.Duration
	}{
		{name: "first fetch at once", now: t0, wantWait: 0},
		{name: "after success, interval", fetches: []bool{true}, now: t0.Add(3 * time.Second), wantWait: 7 * time.Second},
		{name: "interval already past", fetches: []bool{true}, now: t0.Add(time.Minute), wantWait: 0},
		{name: "first failure retries after interval", fetches: []bool{false}, now: t0, wantWait: 10 * time.Second},
		{name: "second failure doubles", fetches: []bool{false, false}, now: t0, wantWait: 20 * time.Second},
		{name: "fourth failure", fetches: []bool{false, false, false, false}, now: t0, wantWait: 80 * time.Second},
		{name: "capped", fetches: make([]bool, 40), now: t0, wantWait: 5 * time.Minute},
		{name: "success resets", fetches: []bool{false, false, false, true}, now: t0, wantWait: 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := schedule{interval: 10 * time.Second, maxBackoff: 5 * time.Minute}
			for _, ok := range tt.fetches {
				s.record(t0, ok)
			}
			assert.Equal(t, tt.wantWait, s.wait(tt.now))
		})
	}
}
