package cgroupfs

// readV2 reads a cgroup v2 memory cgroup:
//
//	memory.current                  Usage (includes kernel and sock)
//	memory.max                      Limit ("max" = none)
//	memory.stat                     anon, file, active_file, inactive_file, kernel (5.18+),
//	                                slab_reclaimable, slab_unreclaimable, sock, anon_thp, ...
//	memory.swap.current             Swap
//	memory.events oom_kill          OOMKills
//
// Before 5.18 there is no "kernel" key; Kmem is then the sum of kernel_stack, pagetables,
// percpu, slab and vmalloc, those of them the kernel prints.
func (r *MemoryReader) readV2(cg *Cgroup, m *Memory, opt Optional) error {
	c := collect{dir: cg.Dir}
	b, err := r.file(cg, v2Stat, true)
	if vanished(err) {
		return err
	}
	c.add(v2Stat, err)
	var parts kernelParts
	c.add(v2Stat, parseKV(b, func(k []byte, v uint64) { m.setV2Stat(k, v, &parts) }))
	if !m.Kmem.OK && parts.slab.OK {
		m.Kmem = some(parts.sum())
	}
	if m.Usage, err = r.readUint(cg, v2Current, true, &c); vanished(err) {
		return err
	}
	m.Limit = r.readLimit(cg, v2Max, &c)
	if opt&OptSwap != 0 {
		m.Swap, _ = r.readUint(cg, v2SwapCurrent, false, &c)
	}
	switch {
	case opt&OptEvents != 0:
		r.readEventsV2(cg, m, &c)
	case opt&OptOOMKills != 0:
		m.OOMKills = r.readOOMKills(cg, v2Events, &c)
	}
	if opt&OptPeak != 0 {
		m.Peak, _ = r.readUint(cg, v2Peak, false, &c)
	}
	if opt&OptPressure != 0 {
		m.Pressure = r.readPressure(cg, v2Pressure, &c)
	}
	return c.err()
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
