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
func (r *MemoryReader) readV1(dir string) (Memory, error) {
	var m Memory
	c := collect{dir: dir}
	b, err := r.file(dir, "memory.stat", true)
	if vanished(err) {
		return m, err
	}
	c.add("memory.stat", err)
	if b != nil {
		c.add("memory.stat", parseKV(b, m.setV1Stat))
	}
	b, err = r.file(dir, "memory.usage_in_bytes", true)
	if vanished(err) {
		return m, err
	}
	c.add("memory.usage_in_bytes", err)
	if b != nil {
		v, err := parseUint(b)
		c.add("memory.usage_in_bytes", err)
		m.Usage = Value{V: v, OK: err == nil}
	}
	m.Limit = r.readLimit(dir, "memory.limit_in_bytes", &c)
	m.Kmem = r.readUint(dir, "memory.kmem.usage_in_bytes", &c)
	m.Sock = r.readTCPKmem(dir, &c)
	if b, err := r.file(dir, "memory.oom_control", false); err != nil || b != nil {
		c.add("memory.oom_control", err)
		c.add("memory.oom_control", parseKV(b, func(k []byte, v uint64) {
			if string(k) == "oom_kill" {
				m.OOMKills = some(v)
			}
		}))
	}
	m.SlabDentry = r.readSlabDentry(dir, &c)
	return m, c.err()
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
	}
}

// readTCPKmem reads memory.kmem.tcp.usage_in_bytes. That counter runs only after
// memory.kmem.tcp.limit_in_bytes was written; until then it reads 0 whatever the sockets hold,
// so it is reported only when it shows signs of life: a limit below "unlimited", or a non-zero
// usage or high-water mark.
func (r *MemoryReader) readTCPKmem(dir string, c *collect) Value {
	usage := r.readUint(dir, "memory.kmem.tcp.usage_in_bytes", c)
	if !usage.OK {
		return Value{}
	}
	if usage.V > 0 {
		return usage
	}
	if peak := r.readUint(dir, "memory.kmem.tcp.max_usage_in_bytes", c); peak.OK && peak.V > 0 {
		return usage
	}
	if limit := r.readLimit(dir, "memory.kmem.tcp.limit_in_bytes", c); limit.OK {
		return usage
	}
	return Value{}
}

func (r *MemoryReader) readSlabDentry(dir string, c *collect) Value {
	b, err := r.file(dir, "memory.kmem.slabinfo", false)
	c.add("memory.kmem.slabinfo", err)
	if b == nil {
		return Value{}
	}
	cache, table, found, err := slabinfo.Find(b, "dentry")
	c.add("memory.kmem.slabinfo", err)
	switch {
	case err != nil, table == slabinfo.Empty:
		return Value{}
	case !found:
		return some(0) // a filled table without a dentry row: this cgroup allocated none
	}
	return some(cache.ActiveBytes())
}

// readUint reads a one-number file; absent when the file is.
func (r *MemoryReader) readUint(dir, name string, c *collect) Value {
	b, err := r.file(dir, name, false)
	c.add(name, err)
	if b == nil {
		return Value{}
	}
	v, err := parseUint(b)
	c.add(name, err)
	return Value{V: v, OK: err == nil}
}

// readLimit reads a limit file; absent when the file is, or when it says unlimited.
func (r *MemoryReader) readLimit(dir, name string, c *collect) Value {
	b, err := r.file(dir, name, false)
	c.add(name, err)
	if b == nil {
		return Value{}
	}
	v, ok, err := parseLimit(b)
	c.add(name, err)
	return Value{V: v, OK: ok && err == nil}
}
