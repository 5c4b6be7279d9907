// Package dentrybpf is an opt-in eBPF accountant of live dentries per memory
// cgroup.
//
// Since Linux 5.9 memory.kmem.slabinfo is empty and cgroup v2 has no per-cache
// file at all, so the dentry slab a container holds (incident 1: 7.9 M
// negative dentries x 192 B = 1.4 GB) cannot be read from cgroupfs. The
// accountant watches the dentry cache's allocations and frees in the kernel,
// charges each dentry to the memory cgroup the kernel charges it to, and keys
// it by object pointer so that the free decrements the same cgroup.
//
// It only sees dentries allocated after it attached: Covers says which
// cgroups it has seen from birth. See README.md for the hooks, their
// measured overhead, the capabilities and the kernels it needs.
package dentrybpf

import "errors"

var (
	// ErrNotSupported: the kernel or the build lacks what the accountant
	// needs (BTF, the tracepoints' typed arguments, eBPF compiled out, not
	// Linux). Log once and run without dentry metrics.
	ErrNotSupported = errors.New("dentrybpf: not supported")
	// ErrNotPermitted: the kernel refused to create maps or load or attach
	// programs (missing CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN, or a
	// security policy). Log once and run without dentry metrics.
	ErrNotPermitted = errors.New("dentrybpf: not permitted")
	// ErrClosed is returned by Snapshot after Close.
	ErrClosed = errors.New("dentrybpf: accountant closed")
)

const (
	// DefaultMaxTrackedObjects bounds the map of live dentries. The map is
	// preallocated at 80 B per slot (80 MiB for the default), charged to
	// the collector's memory cgroup.
	DefaultMaxTrackedObjects = 1 << 20
	// DefaultMaxCgroups bounds the per-cgroup counter maps (two maps,
	// about 80 B per slot each).
	DefaultMaxCgroups = 1 << 14
	// DefaultObjectSize is the x86-64 dentry object size, used when neither
	// /sys/kernel/slab/dentry nor /proc/slabinfo can be read.
	DefaultObjectSize = 192
)

// Hooks select the kernel hooks the accountant counts with.
const (
	// HooksAuto tries HooksFentry, then HooksTracepoint.
	HooksAuto = ""
	// HooksFentry: fexit on __d_alloc and fentry on dentry_free. They run
	// only for dentries; they need BPF trampolines, which some kernels and
	// hosts refuse.
	HooksFentry = "fentry"
	// HooksTracepoint: BTF-typed raw tracepoints kmem_cache_alloc and
	// kmem_cache_free (Linux 6.1+), filtered in the kernel to the dentry
	// cache. They run for every slab allocation and free on the node.
	HooksTracepoint = "tracepoint"
)

// Config bounds the accountant's kernel maps. Zero values take the defaults.
type Config struct {
	// Hooks: HooksAuto (default), HooksFentry or HooksTracepoint.
	Hooks string
	// MaxTrackedObjects is the most live dentries tracked at once, node-wide.
	// Allocations beyond it are not counted and add to Overflows.
	MaxTrackedObjects uint32
	// MaxCgroups is the most memory cgroups counted at once.
	MaxCgroups uint32
	// CgroupRoot is the memory controller's mount, used to tell which
	// cgroups were created after the accountant started (Covers). Empty:
	// /sys/fs/cgroup/memory when it is a cgroup v1 memory hierarchy, else
	// /sys/fs/cgroup.
	CgroupRoot string
}

func (c Config) withDefaults() Config {
	if c.MaxTrackedObjects == 0 {
		c.MaxTrackedObjects = DefaultMaxTrackedObjects
	}
	if c.MaxCgroups == 0 {
		c.MaxCgroups = DefaultMaxCgroups
	}
	return c
}

// Counts are one memory cgroup's live dentries, and how many of them are
// negative (no inode) when NegativeCounted is true.
type Counts struct {
	Live, Negative uint64
	// Overflows are the cgroup's dentry allocations not tracked because a map
	// was full, since Start: a cgroup with any has Live as a lower bound. They
	// are kept per cgroup in an LRU map of MaxCgroups entries, so that a
	// cgroup's may be forgotten only after MaxCgroups other cgroups overflowed
	// since its last.
	Overflows uint64
}

// Stats are the accountant's own error counters, cumulative since Start.
type Stats struct {
	// Overflows: dentry allocations not counted because a map was full.
	Overflows uint64
	// StaleFrees: dentry frees the programs did not see, found and
	// corrected when the kernel reused the object for a new dentry.
	StaleFrees uint64
	// Missed: times the kernel skipped the programs because one was
	// already running on that CPU (an interrupt during a run). Most are
	// allocations from other caches, which the programs would ignore; a
	// missed dentry allocation is never counted, a missed free shows up in
	// StaleFrees once the object is reused.
	Missed uint64
}
