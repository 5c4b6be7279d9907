package cgroupfs

// v2Sources are the files of a cgroup v2 memory cgroup, in reading order.
var v2Sources = []source{
	{file: v2Stat, required: true, fill: fillV2Stat},                                         // RSS, Cache, ActiveFile, InactiveFile, Kmem, Slab*, Sock, ...
	{file: v2Current, required: true, fill: uintInto(usage)},                                 // Usage (includes kernel and sock)
	{file: v2Max, fill: limitInto(limit)},                                                    // Limit ("max" = none)
	{file: v2SwapCurrent, opt: OptSwap, fill: uintInto(swap)},                                // Swap
	{file: v2Events, opt: OptEvents, fill: fillEventsV2},                                     // Events, OOMKills
	{file: v2Events, opt: OptOOMKills, skip: oomKillsKnown(OptEvents), fill: fillOOMKillsV2}, // OOMKills alone
	{file: v2Peak, opt: OptPeak, fill: uintInto(peak)},                                       // Peak (5.19+)
	{file: v2Pressure, opt: OptPressure, skip: pressureUnchanged, fill: fillGatedPressure},   // Pressure
}

// fillV2Stat reads memory.stat. Before 5.18 there is no "kernel" key; Kmem is then the sum
// of kernel_stack, pagetables, percpu, slab and vmalloc, those of them the kernel prints.
func fillV2Stat(_ *MemoryReader, _ *Cgroup, b []byte, m *Memory) error {
	var parts kernelParts
	err := parseKV(b, func(k []byte, v uint64) { m.setV2Stat(k, v, &parts) })
	// The sum of the parts needs all of them: a bad line may have been one.
	if !m.Kmem.OK && parts.slab.OK && err == nil {
		m.Kmem = some(parts.sum())
	}
	return err
}

// kernelParts are the memory.stat fields whose sum is "kernel" on kernels before 5.18.
type kernelParts struct {
	stack, pagetables, percpu, slab, vmalloc Value
}

func (p kernelParts) sum() uint64 {
	return p.stack.V + p.pagetables.V + p.percpu.V + p.slab.V + p.vmalloc.V
}

func (m *Memory) setV2Stat(key []byte, v uint64, parts *kernelParts) {
	switch string(key) {
	case "anon":
		m.RSS = some(v)
	case "file":
		m.Cache = some(v)
	case "active_file":
		m.ActiveFile = some(v)
	case "inactive_file":
		m.InactiveFile = some(v)
	case "kernel":
		m.Kmem = some(v)
	case "slab_reclaimable":
		m.SlabReclaimable = some(v)
	case "slab_unreclaimable":
		m.SlabUnreclaimable = some(v)
	case "sock":
		m.Sock = some(v)
	case "anon_thp":
		m.RSSHuge = some(v)
	case "file_mapped":
		m.MappedFile = some(v)
	case "shmem":
		m.Shmem = some(v)
	case "pgfault":
		m.PageFaults = some(v)
	case "pgmajfault":
		m.MajorPageFaults = some(v)
	case "workingset_refault_file":
		m.RefaultFile = some(v)
	case "workingset_refault_anon":
		m.RefaultAnon = some(v)
	case "workingset_activate_file":
		m.ActivateFile = some(v)
	case "workingset_activate_anon":
		m.ActivateAnon = some(v)
	case "pgscan":
		m.PgScan = some(v)
	case "pgsteal":
		m.PgSteal = some(v)
	case "kernel_stack":
		parts.stack = some(v)
	case "pagetables":
		parts.pagetables = some(v)
	case "percpu":
		parts.percpu = some(v)
	case "slab":
		parts.slab = some(v)
	case "vmalloc":
		parts.vmalloc = some(v)
	}
}

// fillEventsV2 reads memory.events into Events and OOMKills, and keeps the OOM kill count on
// the handle (see oomKillsKnown).
func fillEventsV2(r *MemoryReader, cg *Cgroup, b []byte, m *Memory) error {
	e, err := parseEvents(b)
	if err != nil {
		return err
	}
	m.Events, m.OOMKills = e, e.OOMKill
	r.keepOOMKills(cg, e.OOMKill)
	return nil
}

// fillOOMKillsV2 reads only OOMKills from memory.events, and keeps it on the handle.
func fillOOMKillsV2(r *MemoryReader, cg *Cgroup, b []byte, m *Memory) error {
	e, err := parseEvents(b)
	if err != nil {
		return err
	}
	m.OOMKills = e.OOMKill
	r.keepOOMKills(cg, e.OOMKill)
	return nil
}
