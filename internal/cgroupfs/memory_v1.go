package cgroupfs

import (
	"github.com/cgroupmem/cgroupmem/internal/slabinfo"
)

// v1Sources are the files of a cgroup v1 memory cgroup, in reading order. The total_* fields
// of memory.stat count this cgroup and its children, like usage_in_bytes does.
var v1Sources = []source{
	{file: v1Stat, required: true, fill: fillV1Stat},                                                        // RSS, Cache, ActiveFile, InactiveFile, Swap, RSSHuge, ...
	{file: v1Usage, required: true, fill: uintInto(usage)},                                                  // Usage (includes kernel memory)
	{file: v1Limit, fill: limitInto(limit)},                                                                 // Limit
	{file: v1Kmem, fill: uintInto(kmem)},                                                                    // Kmem
	{file: v1TCPMaxUsage, opt: OptSock, skip: tcpChecked, fill: fillTCPAccounting},                          // whether Sock counts (below)
	{file: v1TCPUsage, opt: OptSock, skip: tcpNotActive, fill: uintInto(sock)},                              // Sock, once tcp accounting runs
	{file: v1Failcnt, opt: OptEvents, skip: failcntUnchanged, fill: fillFailcnt},                            // Events.Max (read once while unlimited)
	{file: v1OOMControl, opt: OptUnderOOM, fill: fillOOMControl},                                            // UnderOOM, OOMKills (4.13+)
	{file: v1OOMControl, opt: OptOOMKills, skip: oomKillsKnown(OptUnderOOM), fill: fillOOMKillsV1},          // OOMKills alone
	{file: v1MaxUsage, opt: OptPeak, fill: uintInto(peak)},                                                  // Peak
	{file: v1Pressure, opt: OptPressure, elsewhere: true, skip: pressureUnchanged, fill: fillGatedPressure}, // Pressure, in the unified mount
	{file: v1Slabinfo, opt: OptSlabDentry, skip: slabinfoEmpty, fill: fillSlabDentry},                       // SlabDentry (4.2–5.8; empty since 5.9)
}

func fillV1Stat(_ *MemoryReader, _ *Cgroup, b []byte, m *Memory) error {
	return parseKV(b, m.setV1Stat)
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

// Sock on v1 is memory.kmem.tcp.usage_in_bytes. That counter runs only after
// memory.kmem.tcp.limit_in_bytes was written; until then it reads 0 whatever the sockets hold.
// So it is reported only once it has counted something: a non-zero high-water mark in
// memory.kmem.tcp.max_usage_in_bytes. No container runtime writes that limit, so on most
// nodes the mark stays 0: it is checked on a cgroup's first read and after each discovery
// walk (rediscovered), not on every scrape, which saves a file read per container and
// scrape. Once it has counted, the counter runs for good and only the usage is read.

// tcpChecked: the high-water mark is read only while the handle does not know yet.
func tcpChecked(_ *MemoryReader, cg *Cgroup, _ *Memory, _ Optional) bool {
	return cg.tcp != tcpUnknown
}

// failcntUnchanged skips memory.failcnt of a cgroup without a limit once it was read: the
// kernel counts a failed charge only on the page counter whose limit was hit
// (page_counter_try_charge), so while a cgroup has no limit of its own its count cannot move,
// whatever its ancestors' limits do. It is read again as soon as a limit is set: one file
// less per scrape for every unlimited container and pod. The limit is read before it.
func failcntUnchanged(_ *MemoryReader, cg *Cgroup, m *Memory, _ Optional) bool {
	if m.Limit.OK || !cg.failcnt.OK {
		return false
	}
	m.Events.Max = cg.failcnt
	return true
}

func fillFailcnt(r *MemoryReader, cg *Cgroup, b []byte, m *Memory) error {
	err := uintInto(eventsMax)(r, cg, b, m)
	cg.failcnt = m.Events.Max
	return err
}

// tcpNotActive: the usage is read only once the counter runs.
func tcpNotActive(_ *MemoryReader, cg *Cgroup, _ *Memory, _ Optional) bool {
	return cg.tcp != tcpActive
}

// fillTCPAccounting learns from the high-water mark whether tcp accounting ever ran; a
// missing file leaves it unknown.
func fillTCPAccounting(_ *MemoryReader, cg *Cgroup, b []byte, _ *Memory) error {
	if b == nil {
		return nil
	}
	v, err := parseUint(b)
	switch {
	case err != nil:
	case v == 0:
		cg.tcp = tcpIdle
	default:
		cg.tcp = tcpActive
	}
	return err
}

// slabinfoEmpty: kernels since 5.9 print nothing in memory.kmem.slabinfo for every cgroup;
// once one read empty, it is not read again.
func slabinfoEmpty(r *MemoryReader, _ *Cgroup, _ *Memory, _ Optional) bool {
	return r.noSlabinfo
}

func fillSlabDentry(r *MemoryReader, _ *Cgroup, b []byte, m *Memory) error {
	if b == nil {
		return nil
	}
	cache, table, found, err := slabinfo.Find(b, "dentry")
	switch {
	case err != nil:
	case table == slabinfo.Empty:
		r.noSlabinfo = true
	case !found:
		m.SlabDentry = some(0) // a filled table without a dentry row: this cgroup allocated none
	default:
		m.SlabDentry = some(cache.ActiveBytes())
	}
	return err
}

// fillOOMControl reads memory.oom_control into UnderOOM and OOMKills, and keeps the OOM kill
// count on the handle (see oomKillsKnown).
func fillOOMControl(r *MemoryReader, cg *Cgroup, b []byte, m *Memory) error {
	o, err := parseOOMControl(b)
	if err != nil {
		return err
	}
	m.UnderOOM, m.OOMKills = o.UnderOOM, o.OOMKill
	r.keepOOMKills(cg, o.OOMKill)
	return nil
}

// fillOOMKillsV1 reads only OOMKills from memory.oom_control, and keeps it on the handle.
func fillOOMKillsV1(r *MemoryReader, cg *Cgroup, b []byte, m *Memory) error {
	o, err := parseOOMControl(b)
	if err != nil {
		return err
	}
	m.OOMKills = o.OOMKill
	r.keepOOMKills(cg, o.OOMKill)
	return nil
}
