package k8smeta

import "time"

// schedule spaces pod-list fetches: at least interval apart, and after consecutive failures
// interval, 2×interval, 4×interval ... up to maxBackoff.
type schedule struct {
	interval   time.Duration
	maxBackoff time.Duration
	last       time.Time // start of the latest fetch; zero before the first
	failures   int       // consecutive failed fetches
}

// record notes a fetch that started at start.
func (s *schedule) record(start time.Time, ok bool) {
	s.last = start
	if ok {
		s.failures = 0
	} else {
		s.failures++
	}
}

// gap is the least time between the latest fetch and the next.
func (s *schedule) gap() time.Duration {
	d := s.interval
	for i := 1; i < s.failures && d < s.maxBackoff; i++ {
		d *= 2
	}
	return min(d, s.maxBackoff)
}

// wait is how long, from now, until the next fetch may start.
func (s *schedule) wait(now time.Time) time.Duration {
	if s.last.IsZero() {
		return 0
	}
	return max(s.last.Add(s.gap()).Sub(now), 0)
}
