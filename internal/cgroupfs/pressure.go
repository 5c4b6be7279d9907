package cgroupfs

import (
	"github.com/cgroupmem/cgroupmem/internal/psi"
)

// The pressure signals of a cgroup, each read only when asked for (OptPressure, OptEvents,
// OptPeak), each from a file kept open like the others:
//
//	                 v2 (cgroup dir)                   v1 hybrid
//	Pressure         memory.pressure                   <unified mount>/<same path>/memory.pressure
//	Events           memory.events                     Max only: memory.failcnt
//	UnderOOM         -                                 under_oom of memory.oom_control
//	OOMKills         oom_kill of memory.events         oom_kill of memory.oom_control
//	Peak             memory.peak (5.19+)               memory.max_usage_in_bytes
//	Refault*, Activate*, PgScan, PgSteal come from memory.stat, which is read anyway.
//
// A file the kernel lacks (no PSI: CONFIG_PSI off, psi=0, or no unified mount; memory.peak
// before 5.19) leaves its readings absent.

// readEventsV2 reads memory.events into m.Events, and m.OOMKills from the same read. The
// OOM kill count it reads is kept on the handle as readOOMKills would.
func (r *MemoryReader) readEventsV2(cg *Cgroup, m *Memory, c *collect) {
	b, err := r.file(cg, v2Events, false)
	c.add(v2Events, err)
	e, perr := parseEvents(b)
	c.add(v2Events, perr)
	m.Events, m.OOMKills = e, e.OOMKill
	cg.oom = oomReading{kills: e.OOMKill, epoch: r.oomEpoch, read: err == nil && perr == nil}
}

// readEventsV1 reads memory.failcnt into m.Events.Max, and memory.oom_control into
// m.UnderOOM and m.OOMKills.
func (r *MemoryReader) readEventsV1(cg *Cgroup, m *Memory, c *collect) {
	m.Events.Max, _ = r.readUint(cg, v1Failcnt, false, c)
	b, err := r.file(cg, v1OOMControl, false)
	c.add(v1OOMControl, err)
	o, perr := parseOOMControl(b)
	c.add(v1OOMControl, perr)
	m.UnderOOM, m.OOMKills = o.UnderOOM, o.OOMKill
	cg.oom = oomReading{kills: o.OOMKill, epoch: r.oomEpoch, read: err == nil && perr == nil}
}

// readPressure reads a memory.pressure; absent lines when the file is.
func (r *MemoryReader) readPressure(cg *Cgroup, id fileID, c *collect) psi.Pressure {
	b, err := r.file(cg, id, false)
	if id == v1Pressure && vanished(err) {
		// The unified directory went away while the memory cgroup is still there: no PSI,
		// and not a vanished cgroup (the memory files tell that).
		return psi.Pressure{}
	}
	c.add(id, err)
	if b == nil {
		return psi.Pressure{}
	}
	p, err := psi.Parse(b)
	c.add(id, err)
	return p
}
