package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

// oomState counts a resource's OOM kills by cause: when its OOM kill counter rises, the
// rise is counted under what the working set mostly held at the last breakdown seen
// before (largestHeld), or unknown when none was seen.
type oomState struct {
	last       int64 // the counter at the last sample that had it
	seen       bool  // last holds a value
	before     cause // largest held at the last breakdown
	haveBefore bool
	kills      [numAllCauses]uint32
}

// observe takes one sample's OOM kill counter. The first value seen is a baseline: kills
// before it happened before the processor could see a breakdown. A counter that went down
// was reset (the cgroup was recreated) and counts from 0.
func (o *oomState) observe(v int64, ok bool) {
	if !ok {
		return
	}
	if o.seen {
		if d := increase(v, o.last); d > 0 {
			c := causeUnknown
			if o.haveBefore {
				c = o.before
			}
			o.kills[c] += uint32(min(d, 1<<31))
		}
	}
	o.last, o.seen = v, true
}

// remember records the breakdown that the next kill will be counted under.
func (o *oomState) remember(c cause) {
	if c == causeNone {
		return // nothing held: keep the breakdown before
	}
	o.before, o.haveBefore = c, true
}

// series is how many causes have kills, each one data point.
func (o *oomState) series() int {
	n := 0
	for _, k := range o.kills {
		if k > 0 {
			n++
		}
	}
	return n
}
