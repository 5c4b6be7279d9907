package k8smeta

import (
	"sync"
	"time"
)

// sightingKey names a pod (containerID empty) or a container of a pod.
type sightingKey struct {
	podUID      string
	containerID string
}

type sighting struct {
	first time.Time // first lookup that missed
	last  time.Time // latest lookup that missed
}

// sightings remembers the lookups that missed, to tell "not fetched yet" (refresh) from "fetched
// and not listed" (a pod that is gone, or a sandbox container): a key is settled once a pod list
// was requested settle after the key's first miss.
type sightings struct {
	mu   sync.Mutex
	ttl  time.Duration // forget keys that no lookup missed for that long
	seen map[sightingKey]sighting
}

func newSightings(ttl time.Duration) *sightings {
	return &sightings{ttl: ttl, seen: make(map[sightingKey]sighting)}
}

// miss records a lookup of key that missed at now, and reports whether the pod list fetched at
// fetchedAt settles it.
func (s *sightings) miss(key sightingKey, fetchedAt, now time.Time, settle time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sg, ok := s.seen[key]
	if !ok {
		sg.first = now
	}
	sg.last = now
	s.seen[key] = sg
	return !fetchedAt.Before(sg.first.Add(settle)) && fetchedAt.After(sg.first)
}

// prune drops the keys that snap resolves (pods it lists, containers it names), containers of
// pods it no longer lists, and keys no lookup missed for ttl.
func (s *sightings) prune(snap *snapshot, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, sg := range s.seen {
		pod, listed := snap.pod(key.podUID)
		_, named := pod.containers[key.containerID]
		switch {
		case now.Sub(sg.last) > s.ttl,
			key.containerID == "" && listed,
			key.containerID != "" && (!listed || named):
			delete(s.seen, key)
		}
	}
}
