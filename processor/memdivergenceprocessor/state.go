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

// series is the state of one resource: its trend window, its verdict, when it last reported,
// and how often it reports.
type series struct {
	key  stateKey
	win  *window
	vs   verdictState
	seen time.Time
	// interval is the resource's own reporting interval as observed: the latest gap between
	// two of its reports, or the previous estimate decayed by an eighth when that is more,
	// so that one late scrape widens it at once and it narrows back slowly. 0 until it
	// reported twice.
	interval time.Duration
}

// missedIntervals is how many of its own reporting intervals a resource that has not proved
// long-lived may miss before it is forgotten: a container removed between scrapes is gone
// after a few scrapes, not after state.ttl.
const missedIntervals = 4

// sweepEvery is the least time between two walks over every resource for the ones that
// missed their intervals; the walk costs about 10 ns a resource.
const sweepEvery = time.Second

// store keeps the series of the resources that report, bounded in number and in age.
//
//   - A resource that has not proved long-lived (fewer than longLived points in its window)
//     is forgotten once it has not reported for missedIntervals of its own intervals. One
//     that reported only once has no interval of its own yet: it is kept for missedIntervals
//     of the longest interval seen of any resource, and at least for trend.sample_interval,
//     so that the first resources of a slower source in the same pipeline live to their
//     second report.
//   - A long-lived resource is kept for ttl after its last report, so that a scrape that
//     stalls for a while does not cost the trends the processor has built.
//   - Beyond maxResources the least recently seen goes first.
//
// A window's storage grows with its points, so a resource costs little until it has proved
// long-lived. The list is ordered from most to least recently seen, so the ttl and the
// maxResources evictions take from the back.
type store struct {
	ttl          time.Duration
	maxResources int
	windowSize   int
	// longLived is how many trend points prove a resource long-lived: the points the trend
	// needs (trend.min_samples), which it would lose with the state.
	longLived int
	// onceGrace is the least time a resource that reported once is kept: trend.sample_interval.
	onceGrace time.Duration
	byKey     map[stateKey]*list.Element
	lru       *list.List
	// typical is the longest reporting interval seen of any resource, decayed by 1/64 at
	// each sweep (a half-life of 44 sweeps): what a resource that has reported only once is
	// judged by. It decays per sweep, not per report, so that the many reports of a fast
	// scraper do not narrow it below a slower one's interval in the same pipeline.
	typical   time.Duration
	lastSweep time.Time
}

func newStore(cfg StateConfig, trend TrendConfig) *store {
	return &store{
		ttl:          cfg.TTL,
		maxResources: cfg.MaxResources,
		windowSize:   trend.Window,
		longLived:    trend.MinSamples,
		onceGrace:    trend.SampleInterval,
		byKey:        make(map[stateKey]*list.Element),
		lru:          list.New(),
	}
}

// touch returns the state of a resource, creating it if needed, and marks it seen now.
func (s *store) touch(key stateKey, now time.Time) *series {
	if e, ok := s.byKey[key]; ok {
		sr := e.Value.(*series)
		if gap := now.Sub(sr.seen); gap > 0 {
			sr.interval = decayedMax(sr.interval, gap)
			s.typical = max(s.typical, gap)
		}
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

// decayedMax is gap when that is more than the estimate decayed by an eighth, else the
// decayed estimate.
func decayedMax(est, gap time.Duration) time.Duration {
	return max(est-est/8, gap)
}

// evict drops the resources that have not reported since now − ttl, and at most once per
// sweepEvery those that missed missedIntervals of their intervals before proving
// long-lived.
func (s *store) evict(now time.Time) {
	for e := s.lru.Back(); e != nil && now.Sub(e.Value.(*series).seen) > s.ttl; e = s.lru.Back() {
		s.remove(e)
	}
	if now.Sub(s.lastSweep) < sweepEvery && !now.Before(s.lastSweep) {
		return
	}
	s.lastSweep = now
	s.typical -= s.typical / 64
	for e := s.lru.Back(); e != nil; {
		prev := e.Prev()
		if s.missed(e.Value.(*series), now) {
			s.remove(e)
		}
		e = prev
	}
}

// missed reports whether a resource that has not proved long-lived has been silent for
// missedIntervals of its interval.
func (s *store) missed(sr *series, now time.Time) bool {
	if sr.win.len() >= s.longLived {
		return false
	}
	silent := now.Sub(sr.seen)
	if sr.interval == 0 {
		return s.typical > 0 && silent > max(missedIntervals*s.typical, s.onceGrace)
	}
	return silent > missedIntervals*sr.interval
}

func (s *store) remove(e *list.Element) {
	delete(s.byKey, e.Value.(*series).key)
	s.lru.Remove(e)
}

// len is the number of resources held.
func (s *store) len() int { return s.lru.Len() }
