package k8smeta

import (
	"sync"
	"time"
)

// maxSightings bounds the missed lookups remembered. Each is a pod UID or container ID taken
// from a cgroup path, which tenants create: past the bound, expired keys are dropped and a new
// key that still finds no room is not remembered (its lookups keep asking for refreshes, which
// the loop rate-limits, and it is never taken for a sandbox).
const maxSightings = 1 << 16

// sightingKey names a pod (containerID empty) or a container of a pod.
type sightingKey struct {
	podUID      string
	containerID string
}

type sighting struct {
	first time.Time // first lookup that missed
	last  time.Time // latest lookup that missed
	asked time.Time // latest refresh this key asked for once settled
}

// sightings remembers the lookups that missed, to tell "not fetched yet" (refresh) from "fetched
// and not listed" (a pod that is gone, or a sandbox container): a key is settled once a pod list
// was requested settle after the key's first miss. It also holds each pod's sandbox: the first
// container ID of the pod that settled unlisted, at most one per pod.
type sightings struct {
	mu  sync.Mutex
	ttl time.Duration // forget keys that no lookup missed for that long
	// max bounds len(seen); maxSightings, tests lower it.
	max       int
	seen      map[sightingKey]sighting
	sandbox   map[string]string // pod UID → the container ID taken for its sandbox
	lastSweep time.Time
}

func newSightings(ttl time.Duration) *sightings {
	return &sightings{ttl: ttl, max: maxSightings, seen: make(map[sightingKey]sighting), sandbox: make(map[string]string)}
}

// record notes a missed lookup of key at now; ok is false when the key is not remembered
// (no room).
func (s *sightings) record(key sightingKey, now time.Time) (sighting, bool) {
	if now.Sub(s.lastSweep) > s.ttl/4 {
		s.sweep(now)
	}
	sg, ok := s.seen[key]
	if !ok {
		if len(s.seen) >= s.max {
			s.sweep(now)
			if len(s.seen) >= s.max {
				return sighting{}, false
			}
		}
		sg.first = now
	}
	sg.last = now
	s.seen[key] = sg
	return sg, true
}

// settled reports whether a pod list fetched at fetchedAt, requested settle after the key's
// first miss, answers it.
func settled(sg sighting, fetchedAt time.Time, settle time.Duration) bool {
	return !fetchedAt.Before(sg.first.Add(settle)) && fetchedAt.After(sg.first)
}

// miss records a lookup of key that missed at now, and reports whether the pod list fetched at
// fetchedAt settles it.
func (s *sightings) miss(key sightingKey, fetchedAt, now time.Time, settle time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sg, ok := s.record(key, now)
	return ok && settled(sg, fetchedAt, settle)
}

// containerMiss records a lookup of a container ID that its listed pod's statuses lack, and
// says what it is. sandbox: the ID settled and is the pod's sandbox (the first of the pod's IDs
// to settle unlisted; at most one per pod). ask: a refresh should be requested — always while
// the ID has not settled, then for an ID that settled while another holds the pod's sandbox
// (a container the kubelet is slow to list, a postStart hook) at gaps that double with its
// age, from refresh up to maxGap, for as long as it stays unknown.
func (s *sightings) containerMiss(key sightingKey, fetchedAt, now time.Time, settle, refresh, maxGap time.Duration) (sandbox, ask bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sg, ok := s.record(key, now)
	if !ok || !settled(sg, fetchedAt, settle) {
		return false, true
	}
	switch claim, claimed := s.sandbox[key.podUID]; {
	case !claimed:
		s.sandbox[key.podUID] = key.containerID
		return true, false
	case claim == key.containerID:
		return true, false
	}
	// The next gap is the key's age at its last ask: asks at ages a, 2a, 4a ...
	gap := min(max(sg.asked.Sub(sg.first), refresh), maxGap)
	if !sg.asked.IsZero() && now.Sub(sg.asked) < gap {
		return false, false
	}
	sg.asked = now
	s.seen[key] = sg
	return false, true
}

// sweep drops the keys no lookup missed for ttl, and the sandboxes of pods whose sandbox ID
// was dropped. s.mu is held.
func (s *sightings) sweep(now time.Time) {
	s.lastSweep = now
	for key, sg := range s.seen {
		if now.Sub(sg.last) > s.ttl {
			delete(s.seen, key)
		}
	}
	s.dropStaleSandboxes()
}

func (s *sightings) dropStaleSandboxes() {
	for pod, id := range s.sandbox {
		if _, ok := s.seen[sightingKey{podUID: pod, containerID: id}]; !ok {
			delete(s.sandbox, pod)
		}
	}
}

// prune drops the keys that snap resolves (pods it lists, containers it names), containers of
// pods it no longer lists, and keys no lookup missed for ttl. A sandbox whose ID snap names
// (a container that was only slow to be listed) is given up, so that the pod's next unlisted
// ID can take its place.
func (s *sightings) prune(snap *snapshot, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastSweep = now
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
	s.dropStaleSandboxes()
}
