package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

import "time"

// minTrendSamples is the fewest samples a line with a standard error can be fitted to.
const minTrendSamples = 3

// point is one kept sample of a resource: the working set and each cause, in bytes, at a
// time in Unix nanoseconds. The causes are kept as float32, 40 bytes a point instead of 64:
// every resource holds a window of them for as long as it reports, so at 1,000 containers
// that is 2 MiB less heap. Their 24-bit mantissa rounds a cause to within 1 part in 16
// million (64 bytes of 1 GiB), far below what moves a growth rate; the working set, which
// the ETA is projected from, keeps float64.
//
// press holds how much each pressure counter rose since the reference before this point
// (the previous kept point, see pressureRef): 16 more bytes a point, so that the rates over
// the window are exact window averages of the kernel's counters.
type point struct {
	t      int64
	ws     float64
	causes [numCauses]float32
	press  [numCounters]float32
}

// window is a ring of the latest points of one resource, oldest first, of at most size
// points. Its storage grows with the points it holds, not to size at once: a resource that
// lives for a few samples, as churning containers do, costs a few points, and only one that
// reports for size samples holds a full window.
type window struct {
	pts  []point // len(pts) is the ring's length once full; before, the points held
	head int     // index of the oldest point
	size int
}

func newWindow(size int) *window {
	return &window{size: size}
}

// add keeps p when it is at least gap after the latest kept point, and drops the oldest
// point when the window is full. Points that are not newer are ignored, so a producer that
// resends old data cannot bend the trend. It reports whether p was kept.
func (w *window) add(p point, gap time.Duration) bool {
	if n := w.len(); n > 0 && p.t-w.at(n-1).t < max(int64(gap), 1) {
		return false
	}
	if len(w.pts) < w.size {
		if len(w.pts) == cap(w.pts) {
			grown := make([]point, len(w.pts), min(max(2*cap(w.pts), 2), w.size))
			copy(grown, w.pts)
			w.pts = grown
		}
		w.pts = append(w.pts, p)
		return true
	}
	w.pts[w.head] = p
	w.head = (w.head + 1) % len(w.pts)
	return true
}

// at returns the i-th point, oldest first.
func (w *window) at(i int) *point {
	return &w.pts[(w.head+i)%len(w.pts)]
}

// len is the number of points held.
func (w *window) len() int { return len(w.pts) }
