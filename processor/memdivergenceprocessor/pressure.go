package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

// counter is one of the kernel's pressure counters the classification reads.
type counter int

const (
	ctStall       counter = iota // memory PSI some, µs
	ctRefaultFile                // workingset_refault_file, pages
	ctRefaultAnon                // workingset_refault_anon, pages
	ctLimitEvents                // memory.events high + max (v1: failcnt), events
	numCounters
)

// counters is the cumulative value of each counter a resource reported in one sample, and
// which it reported (bit c of has).
type counters struct {
	v   [numCounters]int64
	has uint8
}

// readCounters takes the counters out of a sample; limit events are high + max, present
// when either is.
func readCounters(r *readings) counters {
	var c counters
	set := func(k counter, ins ...input) {
		for _, in := range ins {
			if v, ok := r.get(in); ok {
				c.v[k] += v
				c.has |= 1 << k
			}
		}
	}
	set(ctStall, inStallSome)
	set(ctRefaultFile, inRefaultFile)
	set(ctRefaultAnon, inRefaultAnon)
	set(ctLimitEvents, inEventsHigh, inEventsMax)
	return c
}

// pressureRef is the per-resource reference the window's counter increases are taken
// from: the counters at the latest kept point (or at the sample where the set of reported
// counters last changed), and since, the time from which increases are valid.
type pressureRef struct {
	at    counters
	t     int64
	since int64
	ok    bool
}

// increase is how much c rose from the reference to now; a counter that went down was
// reset (its cgroup was recreated under the same resource) and counts from 0.
func increase(now, ref int64) int64 {
	if now < ref {
		return now
	}
	return now - ref
}

// pressureRates is what the window says about the counters: their increases over span
// seconds, for the counters in known.
type pressureRates struct {
	inc   [numCounters]float64
	span  float64 // seconds; 0 when no rate is known yet
	known uint8
}

func (p *pressureRates) has(k counter) bool { return p.span > 0 && p.known&(1<<k) != 0 }

// rate is the counter's increase per second over the window.
func (p *pressureRates) rate(k counter) float64 {
	if !p.has(k) {
		return 0
	}
	return p.inc[k] / p.span
}

// stallShare is the share of wall time in which some task of the resource stalled on
// memory, over the window.
func (p *pressureRates) stallShare() float64 { return p.rate(ctStall) / usPerSecond }

// refaultRate is the workingset refaults (file + anon) per second over the window.
func (p *pressureRates) refaultRate() float64 {
	return p.rate(ctRefaultFile) + p.rate(ctRefaultAnon)
}

// anyKnown reports whether the stall or the refault rate is known: the signals that can
// call a divergence reclaimable.
func (p *pressureRates) anyKnown() bool {
	return p.has(ctStall) || p.has(ctRefaultFile) || p.has(ctRefaultAnon)
}

// pending reports whether counters are reported but no rate is known yet (a single sample).
func (p *pressureRates) pending(c *counters) bool { return c.has != 0 && p.span <= 0 }

// pressurePoint fills a new point's counter increases from the reference.
func (ref *pressureRef) pressurePoint(p *point, cur *counters) {
	if !ref.ok || ref.at.has != cur.has {
		return
	}
	for k := range numCounters {
		p.press[k] = float32(increase(cur.v[k], ref.at.v[k]))
	}
}

// update moves the reference after the sample at t was offered to the window: to the
// sample when it was kept, or when the set of counters changed (increases before it are
// meaningless then).
func (ref *pressureRef) update(cur *counters, t int64, kept bool) {
	switch {
	case !ref.ok || ref.at.has != cur.has:
		*ref = pressureRef{at: *cur, t: t, since: t, ok: true}
	case kept:
		ref.at, ref.t = *cur, t
	}
}

// rates sums the increases over the window since the counters were last reset: the kept
// points after the oldest and after since (their increases lie before), plus the current
// sample's increase when it was not kept. The span runs from the later of the oldest point
// and since to now.
func (ref *pressureRef) rates(w *window, cur *counters, t int64, kept bool) pressureRates {
	var out pressureRates
	if !ref.ok || cur.has == 0 || ref.at.has != cur.has || w.len() == 0 {
		return out // no counters, or the set just changed: the window starts over
	}
	start := max(w.at(0).t, ref.since)
	for i := range w.len() {
		p := w.at(i)
		if p.t <= start || p.t > t {
			continue // the oldest point's increase lies before the window
		}
		for k := range numCounters {
			out.inc[k] += float64(p.press[k])
		}
	}
	if !kept && t > ref.t {
		for k := range numCounters {
			out.inc[k] += float64(increase(cur.v[k], ref.at.v[k]))
		}
	}
	if t > start {
		out.span = float64(t-start) / 1e9
		out.known = cur.has
	}
	return out
}
