package k8smeta

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// TestSightingsExpireWithoutFetch checks that missed lookups are forgotten after the TTL even
// when no pod list arrives (the kubelet down): the map does not grow with pod churn.
func TestSightingsExpireWithoutFetch(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSightings(time.Minute)
	for i := range 1000 {
		s.miss(sightingKey{podUID: fmt.Sprintf("gone-%d", i)}, time.Time{}, t0, 0)
	}
	s.containerMiss(sightingKey{podUID: uidA, containerID: sandboxID}, t0.Add(time.Second), t0, 0, time.Second, time.Minute)
	require.Len(t, s.seen, 1001)
	require.Len(t, s.sandbox, 1)

	s.miss(sightingKey{podUID: uidB}, time.Time{}, t0.Add(time.Minute+time.Second), 0)
	assert.Len(t, s.seen, 1, "only the fresh key is left")
	assert.Empty(t, s.sandbox, "the sandbox went with its key")
}

// TestSightingsBounded checks the hard bound: a new key finds no room while the map is full of
// keys still in use, is not taken for a sandbox, and keeps asking for refreshes.
func TestSightingsBounded(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSightings(time.Minute)
	s.max = 4
	for i := range 4 {
		s.miss(sightingKey{podUID: fmt.Sprintf("p%d", i)}, time.Time{}, t0, 0)
	}
	fetched := t0.Add(2 * time.Second)
	sandbox, ask := s.containerMiss(sightingKey{podUID: uidA, containerID: sandboxID}, fetched, t0.Add(time.Second), 0, time.Second, time.Minute)
	assert.False(t, sandbox)
	assert.True(t, ask)
	assert.Len(t, s.seen, 4)
	assert.False(t, s.miss(sightingKey{podUID: uidB}, fetched, t0.Add(time.Second), 0), "unremembered keys never settle")

	later := t0.Add(2 * time.Minute)
	s.miss(sightingKey{podUID: uidB}, time.Time{}, later, 0)
	assert.Len(t, s.seen, 1, "expired keys make room")
}

// TestContainerMissOneSandboxPerPod: of a pod's container IDs that settle unlisted, only the
// first is its sandbox; the others stay unknown and ask for refreshes at gaps that double with
// their age, up to the cap. Once the kubelet names the sandbox's ID (a slow container), the
// next unlisted ID can take its place.
func TestContainerMissOneSandboxPerPod(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const refresh, maxGap = 10 * time.Second, 40 * time.Second
	s := newSightings(time.Hour)
	pause := sightingKey{podUID: uidA, containerID: sandboxID}
	slow := sightingKey{podUID: uidA, containerID: cidB}
	other := sightingKey{podUID: uidB, containerID: cidB}
	for _, k := range []sightingKey{pause, slow, other} {
		sb, ask := s.containerMiss(k, time.Time{}, t0, 0, refresh, maxGap)
		require.False(t, sb)
		require.True(t, ask, "not settled yet: asks")
	}
	fetched := t0.Add(time.Second)
	now := t0.Add(2 * time.Second)
	sb, ask := s.containerMiss(pause, fetched, now, 0, refresh, maxGap)
	assert.True(t, sb, "the first to settle is the sandbox")
	assert.False(t, ask)
	sb, _ = s.containerMiss(other, fetched, now, 0, refresh, maxGap)
	assert.True(t, sb, "another pod has its own")

	// slow settles too, but pod A has its sandbox: it stays unnamed and asks, less and less.
	var asked []time.Duration
	for d := 2 * time.Second; d <= 3*time.Minute; d += time.Second {
		sb, ask := s.containerMiss(slow, fetched, t0.Add(d), 0, refresh, maxGap)
		require.False(t, sb, "at most one sandbox per pod")
		if ask {
			asked = append(asked, d)
		}
	}
	assert.Equal(t, []time.Duration{2 * time.Second, 12 * time.Second, 24 * time.Second, 48 * time.Second,
		88 * time.Second, 128 * time.Second, 168 * time.Second}, asked, "gaps of its age, from refresh_interval to the cap")
	sb, _ = s.containerMiss(pause, fetched, t0.Add(3*time.Minute), 0, refresh, maxGap)
	assert.True(t, sb, "the sandbox stays the sandbox")

	// The kubelet names the sandbox's ID after all: it was a slow container.
	s.prune(&snapshot{fetchedAt: t0.Add(4 * time.Minute), pods: map[string]podEntry{
		uidA: {containers: map[string]string{sandboxID: "slow-starter"}},
		uidB: {containers: map[string]string{}},
	}}, t0.Add(4*time.Minute))
	sb, _ = s.containerMiss(slow, t0.Add(4*time.Minute), t0.Add(5*time.Minute), 0, refresh, maxGap)
	assert.True(t, sb, "the pod's remaining unlisted ID is now its sandbox")
}
