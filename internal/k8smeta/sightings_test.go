package k8smeta

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSightingsMiss(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	key := sightingKey{podUID: uidA, containerID: sandboxID}
	tests := []struct {
		name      string
		firstMiss time.Time // zero: key not seen before
		fetchedAt time.Time
		settle    time.Duration
		want      bool
	}{
		{name: "first miss, nothing fetched", fetchedAt: time.Time{}, want: false},
		{name: "first miss, list older", fetchedAt: t0.Add(-time.Second), want: false},
		{name: "list requested after the first miss", firstMiss: t0, fetchedAt: t0.Add(time.Millisecond), want: true},
		{name: "list requested at the first miss", firstMiss: t0, fetchedAt: t0, want: false},
		{name: "list requested before the first miss", firstMiss: t0, fetchedAt: t0.Add(-time.Second), want: false},
		{name: "within the settle time", firstMiss: t0, fetchedAt: t0.Add(4 * time.Second), settle: 5 * time.Second, want: false},
		{name: "after the settle time", firstMiss: t0, fetchedAt: t0.Add(5 * time.Second), settle: 5 * time.Second, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSightings(time.Hour)
			if !tt.firstMiss.IsZero() {
				s.miss(key, time.Time{}, tt.firstMiss, 0)
			}
			now := t0.Add(10 * time.Second)
			assert.Equal(t, tt.want, s.miss(key, tt.fetchedAt, now, tt.settle))
		})
	}
}

func TestSightingsPrune(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	snap := &snapshot{fetchedAt: t0, pods: map[string]podEntry{
		uidA: {info: PodInfo{UID: uidA}, containers: map[string]string{cidA: "cart"}},
	}}
	tests := []struct {
		name     string
		key      sightingKey
		lastMiss time.Time
		wantKept bool
	}{
		{name: "pod now listed", key: sightingKey{podUID: uidA}, lastMiss: t0, wantKept: false},
		{name: "pod still missing", key: sightingKey{podUID: uidB}, lastMiss: t0, wantKept: true},
		{name: "pod missing, no longer looked up", key: sightingKey{podUID: uidB}, lastMiss: t0.Add(-2 * time.Hour), wantKept: false},
		{name: "container now named", key: sightingKey{podUID: uidA, containerID: cidA}, lastMiss: t0, wantKept: false},
		{name: "sandbox of a listed pod", key: sightingKey{podUID: uidA, containerID: sandboxID}, lastMiss: t0, wantKept: true},
		{name: "container of a gone pod", key: sightingKey{podUID: uidB, containerID: cidB}, lastMiss: t0, wantKept: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSightings(time.Hour)
			s.miss(tt.key, time.Time{}, tt.lastMiss, 0)
			s.prune(snap, t0)
			_, kept := s.seen[tt.key]
			assert.Equal(t, tt.wantKept, kept)
		})
	}
}
