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

// fillPressure reads a memory.pressure; absent lines when the file is.
func fillPressure(_ *MemoryReader, _ *Cgroup, b []byte, m *Memory) error {
	if b == nil {
		return nil
	}
	p, err := psi.Parse(b)
	if err == nil {
		m.Pressure = p
	}
	return err
}
