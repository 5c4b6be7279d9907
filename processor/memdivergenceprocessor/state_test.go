package memdivergenceprocessor

import (
	"testing"
	"time"
	"unsafe"
)

func TestStore(t *testing.T) {
	key := func(h uint64) stateKey { return stateKey{level: levelContainer, hash: h} }
	type touch struct {
		hash uint64
		at   time.Duration
	}
	tests := []struct {
		name    string
		cfg     StateConfig
		touches []touch
		evictAt time.Duration
		want    []uint64 // keys held afterwards, most recently seen first
	}{
		{
			name:    "reporting resources stay",
			cfg:     StateConfig{TTL: time.Minute, MaxResources: 10},
			touches: []touch{{1, 0}, {2, 0}, {1, 50 * time.Second}, {2, 55 * time.Second}},
			evictAt: 100 * time.Second,
			want:    []uint64{2, 1},
		},
		{
			name:    "silent resources age out",
			cfg:     StateConfig{TTL: time.Minute, MaxResources: 10},
			touches: []touch{{1, 0}, {2, 0}, {3, 30 * time.Second}, {1, 50 * time.Second}},
			evictAt: 61 * time.Second,
			want:    []uint64{1, 3},
		},
		{
			name:    "beyond the bound the least recently seen goes",
			cfg:     StateConfig{TTL: time.Hour, MaxResources: 2},
			touches: []touch{{1, 0}, {2, 1}, {1, 2}, {3, 3}},
			want:    []uint64{3, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(tt.cfg, TrendConfig{Window: 4, MinSamples: 3})
			for _, tc := range tt.touches {
				s.touch(key(tc.hash), t0.Add(tc.at))
			}
			s.evict(t0.Add(tt.evictAt))
			var got []uint64
			for e := s.lru.Front(); e != nil; e = e.Next() {
				got = append(got, e.Value.(*series).key.hash)
			}
			if len(got) != len(tt.want) || len(s.byKey) != len(tt.want) {
				t.Fatalf("store holds %v (map %d), want %v", got, len(s.byKey), tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("store holds %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestStoreKeepsWindowAcrossTouches(t *testing.T) {
	s := newStore(StateConfig{TTL: time.Minute, MaxResources: 10}, TrendConfig{Window: 4, MinSamples: 3})
	w := s.touch(stateKey{hash: 1}, t0).win
	w.add(point{t: 1}, 0)
	if got := s.touch(stateKey{hash: 1}, t0).win.len(); got != 1 {
		t.Errorf("window after second touch holds %d points, want 1", got)
	}
	if got := s.touch(stateKey{level: levelPod, hash: 1}, t0).win.len(); got != 0 {
		t.Errorf("pod window with the same hash holds %d points, want a window of its own", got)
	}
}

// TestStateSize: the classification must not double the per-resource state. Before it, a
// resource held a window of 40-byte points and a 48-byte series.
func TestStateSize(t *testing.T) {
	window := createDefaultConfig().(*Config).Trend.Window
	before := window*40 + 48
	now := window*int(unsafe.Sizeof(point{})) + int(unsafe.Sizeof(series{}))
	t.Logf("per resource: %d B before the classification, %d B now", before, now)
	if now >= 2*before {
		t.Errorf("per-resource state %d B is twice or more the %d B before the classification", now, before)
	}
}
