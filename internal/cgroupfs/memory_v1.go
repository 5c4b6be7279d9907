package cgroupfs

import (
	"github.com/cgroupmem/cgroupmem/internal/slabinfo"
)

// readV1 reads a cgroup v1 memory cgroup:
//
//	memory.usage_in_bytes           Usage (includes kernel memory)
//	memory.limit_in_bytes           Limit
//	memory.stat total_*             RSS, Cache, ActiveFile, InactiveFile, Swap, RSSHuge, ...
//	memory.kmem.usage_in_bytes      Kmem
//	memory.kmem.tcp.*               Sock, only when tcp accounting is active
//	memory.oom_control oom_kill     OOMKills (4.13+)
//	memory.kmem.slabinfo dentry     SlabDentry (4.2–5.8; empty since 5.9)
//
// The total_* fields count this cgroup and its children, like usage_in_bytes does.
func (r *MemoryReader) readV1(cg *Cgroup, m *Memory, opt Optional) error {
	c := collect{dir: cg.Dir}
	b, err := r.file(cg, v1Stat, true)
	if vanished(err) {
		return err
	}
	c.add(v1Stat, err)
	c.add(v1Stat, parseKV(b, m.setV1Stat))
	if m.Usage, err = r.readUint(cg, v1Usage, true, &c); vanished(err) {
		return err
	}
	m.Limit = r.readLimit(cg, v1Limit, &c)
	m.Kmem, _ = r.readUint(cg, v1Kmem, false, &c)
	if opt&OptSock != 0 {
		m.Sock = r.readTCPKmem(cg, &c)
	}
	switch {
	case opt&OptEvents != 0:
		r.readEventsV1(cg, m, &c)
	case opt&OptOOMKills != 0:
		m.OOMKills = r.readOOMKills(cg, v1OOMControl, &c)
	}
	if opt&OptPeak != 0 {
		m.Peak, _ = r.readUint(cg, v1MaxUsage, false, &c)
	}
	if opt&OptPressure != 0 {
		m.Pressure = r.readPressure(cg, v1Pressure, &c)
	}
	if opt&OptSlabDentry != 0 && !r.noSlabinfo {
		m.SlabDentry = r.readSlabDentry(cg, &c)
	}
	return c.err()
}

func (m *Memory) setV1Stat(key []byte, v uint64) {
	switch string(key) {
	case "total_rss":
		m.RSS = some(v)
	case "total_cache":
		m.Cache = some(v)
	case "total_active_file":
		m.ActiveFile = some(v)
	case "total_inactive_file":
		m.InactiveFile = some(v)
	case "total_swap":
		m.Swap = some(v)
	case "total_rss_huge":
		m.RSSHuge = some(v)
	case "total_mapped_file":
		m.MappedFile = some(v)
	case "total_shmem":
		m.Shmem = some(v)
	case "total_pgfault":
		m.PageFaults = some(v)
	case "total_pgmajfault":
		m.MajorPageFaults = some(v)
	case "total_workingset_refault_file":
		m.RefaultFile = some(v)
	case "total_workingset_refault_anon":
		m.RefaultAnon = some(v)
	case "total_workingset_activate_file":
		m.ActivateFile = some(v)
	case "total_workingset_activate_anon":
		m.ActivateAnon = some(v)
	}
}

// readTCPKmem reads memory.kmem.tcp.usage_in_bytes. That counter runs only after
// memory.kmem.tcp.limit_in_bytes was written; until then it reads 0 whatever the sockets hold.
// So it is reported only once it has counted something: a non-zero high-water mark in
// memory.kmem.tcp.max_usage_in_bytes. No container runtime writes that limit, so on most
// nodes the mark stays 0: it is checked on a cgroup's first read and after each discovery
// walk (rediscovered), not on every scrape, which saves a file read per container and
// scrape. Once it has counted, the counter runs for good and only the usage is read.
func (r *MemoryReader) readTCPKmem(cg *Cgroup, c *collect) Value {
	switch cg.tcp {
	case tcpIdle:
		return Value{}
	case tcpUnknown:
		peak, _ := r.readUint(cg, v1TCPMaxUsage, false, c)
		if !peak.OK || peak.V == 0 {
			if peak.OK {
				cg.tcp = tcpIdle
			}
			return Value{}
		}
		cg.tcp = tcpActive
	}
	usage, _ := r.readUint(cg, v1TCPUsage, false, c)
	return usage
}

func (r *MemoryReader) readSlabDentry(cg *Cgroup, c *collect) Value {
	b, err := r.file(cg, v1Slabinfo, false)
	c.add(v1Slabinfo, err)
	if b == nil {
		return Value{}
	}
	cache, table, found, err := slabinfo.Find(b, "dentry")
	c.add(v1Slabinfo, err)
	switch {
	case err != nil:
		return Value{}
	case table == slabinfo.Empty:
		r.noSlabinfo = true
		return Value{}
	case !found:
		return some(0) // a filled table without a dentry row: this cgroup allocated none
	}
	return some(cache.ActiveBytes())
}

// readUint reads a one-number file; absent when the file is. The error is returned only
// when it says the cgroup vanished; other errors go to c.
func (r *MemoryReader) readUint(cg *Cgroup, id fileID, required bool, c *collect) (Value, error) {
	b, err := r.file(cg, id, required)
	if vanished(err) {
		return Value{}, err
	}
	c.add(id, err)
	if b == nil {
		return Value{}, nil
	}
	v, err := parseUint(b)
	c.add(id, err)
	return Value{V: v, OK: err == nil}, nil
}

// readLimit reads a limit file; absent when the file is, or when it says unlimited.
func (r *MemoryReader) readLimit(cg *Cgroup, id fileID, c *collect) Value {
	b, err := r.file(cg, id, false)
	c.add(id, err)
	if b == nil {
		return Value{}
	}
	v, ok, err := parseLimit(b)
	c.add(id, err)
	return Value{V: v, OK: ok && err == nil}
}
