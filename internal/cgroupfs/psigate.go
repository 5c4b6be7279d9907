package cgroupfs

import (
	"strings"
	"time"

	"github.com/cgroupmem/cgroupmem/internal/psi"
)

// The pressure gate, all of it. The kernel accounts a task's memory stall in the PSI state of
// its cgroup and of every ancestor on the same CPU (psi_group_change runs for each), and a
// group's "some" total grows by every CPU's stall time weighted by the group's non-idle time
// on that CPU. A CPU on which a container's task stalls is non-idle for its pod too, so the
// container's stall raises its pod's some total. So while a cgroup's some total stays the
// same, its descendants' totals stay the same, and a descendant whose memory.pressure was read
// since is not read again. The scraper applies this twice: a pod's parent (its QoS class
// cgroup, read once a scrape) gates the pod, and the pod its containers. On a node where
// nothing stalls, that is a file per QoS class and scrape instead of one per pod and container.
//
// What the rule cannot see: the kernel weighs each CPU by whole jiffies of the group's
// non-idle time in each aggregation period (at most 2 s), and prints the total in whole µs.
// A stall of a container whose pod was non-idle for less than a jiffy on that CPU in that
// period, or one the pod's weighting dilutes below a µs, adds to the container's total and not
// the pod's (and likewise a pod's and its parent's). Such a stall, shorter than a jiffy per CPU
// and period, shows at the container's next read: when its pod's total next moves, and at most
// PressureMaxAge after the last read.
//
// A cgroup's kept reading (the words say container and pod; the same holds for pod and
// parent) is used only while
//   - a gate is open (GatePressure: the scraper opens one with its pod's reading just taken),
//     and the container's pressure file lies under the pod's (its cgroup is a descendant);
//   - the pod's some total is the one read just before the container's last read;
//   - both its avg10 were 0: an average decays when nothing stalls, so a kept non-zero one
//     would go stale, while a zero one stays zero;
//   - the last read is younger than PressureMaxAge.
//
// A reading taken with no gate open is not kept. A pod whose PSI is switched off (0 written to
// its cgroup.pressure, 6.1+) stops counting while its containers go on; the kernel then hides
// its memory.pressure, so its reading has no some line and opens no gate.

// PressureMaxAge is the longest a container's memory.pressure goes unread behind its pod's.
const PressureMaxAge = 5 * time.Minute

// pressureGate is the reader's side: the pod whose containers are being read.
type pressureGate struct {
	dir   string // the pod's directory holding memory.pressure, "" when no gate is open
	total uint64 // the pod's some total as just read
	now   time.Time
	off   bool // SetPressureGate(false): every memory.pressure is read
	kept  uint64
}

// pressureReading is a container's memory.pressure as last read behind an open gate.
type pressureReading struct {
	p     psi.Pressure
	total uint64 // the gate's (its pod's) some total when it was read
	at    time.Time
	kept  bool
}

// GatePressure opens the pressure gate for the descendants of parent, whose reading p was
// just taken, at now; it closes the gate when p has no some line (no PSI, or parent's file was
// not read). The reads that follow, until ClosePressureGate, may keep their memory.pressure.
func (r *MemoryReader) GatePressure(parent *Cgroup, p psi.Pressure, now time.Time) {
	if r.gate.off || parent == nil || !p.Some.OK {
		r.ClosePressureGate()
		return
	}
	dir := r.pressureDir(parent)
	if dir == "" {
		r.ClosePressureGate()
		return
	}
	r.gate.dir, r.gate.total, r.gate.now = dir, p.Some.Total, now
}

// ClosePressureGate closes the gate: every memory.pressure is read, and none kept.
func (r *MemoryReader) ClosePressureGate() { r.gate.dir = "" }

// SetPressureGate turns the gate on (the default) or off. Off, GatePressure opens nothing:
// for benchmarks of a node where every pod stalls, and for those who want every file read.
func (r *MemoryReader) SetPressureGate(on bool) {
	r.gate.off = !on
	if !on {
		r.ClosePressureGate()
	}
}

// PressureKept is how many memory.pressure reads the gate saved so far.
func (r *MemoryReader) PressureKept() uint64 { return r.gate.kept }

// pressureDir is the directory of cg's memory.pressure: its own on v2, its unified twin's on
// a v1 hybrid host ("" when it has none).
func (r *MemoryReader) pressureDir(cg *Cgroup) string {
	if r.mode.V2() {
		return cg.Dir
	}
	return cg.Unified
}

// gated reports whether cg lies under the open gate's pod.
func (r *MemoryReader) gated(cg *Cgroup) bool {
	g := &r.gate
	if g.dir == "" {
		return false
	}
	d := r.pressureDir(cg)
	return len(d) > len(g.dir) && d[len(g.dir)] == '/' && strings.HasPrefix(d, g.dir)
}

// pressureUnchanged skips memory.pressure while the gate says the kept reading is still the
// kernel's, and fills Pressure from it.
func pressureUnchanged(r *MemoryReader, cg *Cgroup, m *Memory, _ Optional) bool {
	k := &cg.psi
	g := &r.gate
	if !k.kept || !r.gated(cg) || k.total != g.total ||
		k.p.Some.Avg10 != 0 || k.p.Full.Avg10 != 0 ||
		g.now.Before(k.at) || g.now.Sub(k.at) >= PressureMaxAge {
		return false
	}
	m.Pressure = k.p
	g.kept++
	return true
}

// fillGatedPressure reads a memory.pressure, and keeps the reading when a gate over the
// cgroup is open.
func fillGatedPressure(r *MemoryReader, cg *Cgroup, b []byte, m *Memory) error {
	cg.psi = pressureReading{}
	if err := fillPressure(r, cg, b, m); err != nil || b == nil {
		return err
	}
	if r.gated(cg) && m.Pressure.Some.OK {
		cg.psi = pressureReading{p: m.Pressure, total: r.gate.total, at: r.gate.now, kept: true}
	}
	return nil
}

// The sources of ReadPressure: memory.pressure alone, read whole, kept by no gate.
var (
	v1PressureAlone = []source{{file: v1Pressure, elsewhere: true, fill: fillPressure}}
	v2PressureAlone = []source{{file: v2Pressure, fill: fillPressure}}
)

// ReadPressure reads a cgroup's memory.pressure alone: that of pods' parents (their QoS class
// cgroups), read to open a gate for the pods. It has no lines when the kernel has no PSI
// there or the cgroup is gone.
func (r *MemoryReader) ReadPressure(cg *Cgroup) (psi.Pressure, error) {
	sources := v1PressureAlone
	if r.mode.V2() {
		sources = v2PressureAlone
	}
	r.mem = Memory{}
	if err := r.readSources(cg, sources, &r.mem, AllOptional); err != nil && !vanished(err) {
		return psi.Pressure{}, err
	}
	return r.mem.Pressure, nil
}
