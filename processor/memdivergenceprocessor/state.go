package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

import (
	"container/list"
	"time"
)

// stateKey identifies one resource at one level.
type stateKey struct {
	level levelKind
	hash  uint64
}

// series is the state of one resource: its trend window, its verdict and when it last
// reported.
type series struct {
	key  stateKey
	win  *window
	vs   verdictState
	seen time.Time
}

// store keeps the series of the resources that report, bounded in number and in age: a
// resource that has not reported for ttl is evicted, and beyond maxResources the least
// recently seen goes first. Its list is ordered from most to least recently seen, so both
// evictions take from the back.
type store struct {
	ttl          time.Duration
	maxResources int
	windowSize   int
	byKey        map[stateKey]*list.Element
	lru          *list.List
}

func newStore(cfg StateConfig, windowSize int) *store {
	return &store{
		ttl:          cfg.TTL,
		maxResources: cfg.MaxResources,
		windowSize:   windowSize,
		byKey:        make(map[stateKey]*list.Element),
		lru:          list.New(),
	}
}

// touch returns the state of a resource, creating it if needed, and marks it seen now.
func (s *store) touch(key stateKey, now time.Time) *series {
	if e, ok := s.byKey[key]; ok {
		sr := e.Value.(*series)
		sr.seen = now
		s.lru.MoveToFront(e)
		return sr
	}
	for s.lru.Len() >= s.maxResources {
		s.remove(s.lru.Back())
	}
	sr := &series{key: key, win: newWindow(s.windowSize), seen: now}
	s.byKey[key] = s.lru.PushFront(sr)
	return sr
}

// evict drops the resources that have not reported since now − ttl.
func (s *store) evict(now time.Time) {
	for e := s.lru.Back(); e != nil && now.Sub(e.Value.(*series).seen) > s.ttl; e = s.lru.Back() {
		s.remove(e)
	}
}

func (s *store) remove(e *list.Element) {
	delete(s.byKey, e.Value.(*series).key)
	s.lru.Remove(e)
}

// len is the number of resources held.
func (s *store) len() int { return s.lru.Len() }
