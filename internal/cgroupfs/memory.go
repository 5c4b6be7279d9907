package cgroupfs

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"

	"github.com/cgroupmem/cgroupmem/internal/psi"
)

// Value is a reading that may be absent: a file or field this kernel does not have is not a zero.
type Value struct {
	V  uint64
	OK bool
}

func some(v uint64) Value { return Value{V: v, OK: true} }

// Memory is one cgroup's memory breakdown, in bytes unless noted. Fields are named after what
// they mean; memory_v1.go and memory_v2.go say which file and key fill each.
type Memory struct {
	Usage             Value
	Limit             Value // absent when unlimited
	RSS               Value
	Cache             Value
	ActiveFile        Value
	InactiveFile      Value
	Kmem              Value
	SlabReclaimable   Value
	SlabUnreclaimable Value
	SlabDentry        Value // v1 memory.kmem.slabinfo, kernels up to 5.8
	Sock              Value
	Swap              Value
	OOMKills          Value // count
	RSSHuge           Value
	MappedFile        Value
	Shmem             Value
	PageFaults        Value // count, all faults
	MajorPageFaults   Value // count

	// The kernel's pressure signals (pressure.go says which file fills each).
	Pressure     psi.Pressure // memory.pressure: v2, or the unified mount of a hybrid host
	Events       Events       // v2 memory.events; v1 only Max, from memory.failcnt
	UnderOOM     Value        // v1 under_oom of memory.oom_control, 0 or 1
	Peak         Value        // v2 memory.peak (5.19+), v1 memory.max_usage_in_bytes
	RefaultFile  Value        // pages, workingset_refault_file (v1 total_workingset_refault_file)
	RefaultAnon  Value        // pages, workingset_refault_anon (v1 total_workingset_refault_anon)
	ActivateFile Value        // pages, workingset_activate_file (v1 total_ when the kernel has it)
	ActivateAnon Value        // pages, workingset_activate_anon
	PgScan       Value        // pages, pgscan (v2 only)
	PgSteal      Value        // pages, pgsteal (v2 only)
}

// WorkingSet is usage minus inactive file pages, floored at 0: what cAdvisor, kubelet and
// containerd report, and what kubelet evicts on.
func (m Memory) WorkingSet() Value {
	if !m.Usage.OK {
		return Value{}
	}
	if !m.InactiveFile.OK || m.InactiveFile.V > m.Usage.V {
		if m.InactiveFile.OK {
			return some(0)
		}
		return m.Usage
	}
	return some(m.Usage.V - m.InactiveFile.V)
}

// MemoryReader reads the memory files of cgroups in one hierarchy. It reuses one buffer and
// is not safe for concurrent use.
type MemoryReader struct {
	mode Mode
	buf  []byte
	// noSlabinfo is set once a memory.kmem.slabinfo reads empty: kernels since 5.9 print
	// nothing there for every cgroup, so it is not read again.
	noSlabinfo bool
	// oomEpoch counts changes of the node's OOM kill count; oomTracked says that count is
	// known, so that a cgroup's oom_kill read in the current epoch is still right.
	oomEpoch   uint64
	oomCount   uint64
	oomTracked bool
}

// NewMemoryReader returns a reader for cgroups of a hierarchy in the given mode.
func NewMemoryReader(mode Mode) *MemoryReader {
	return &MemoryReader{mode: mode, buf: make([]byte, 0, 4096)}
}

// Optional names the readings that cost a file of their own per cgroup and scrape, which a
// caller that does not report them can leave unread: a pod's metrics need none of them.
type Optional uint8

const (
	OptSock       Optional = 1 << iota // Sock: v1 memory.kmem.tcp.* (v2 reads it from memory.stat)
	OptOOMKills                        // OOMKills: v1 memory.oom_control, v2 memory.events
	OptSwap                            // Swap: v2 memory.swap.current (v1 reads it from memory.stat)
	OptSlabDentry                      // SlabDentry: v1 memory.kmem.slabinfo
	OptPressure                        // Pressure: memory.pressure (hybrid: unified mount)
	OptEvents                          // Events, UnderOOM (and OOMKills): v2 memory.events; v1 memory.failcnt, memory.oom_control
	OptPeak                            // Peak: v2 memory.peak, v1 memory.max_usage_in_bytes

	AllOptional = OptSock | OptOOMKills | OptSwap | OptSlabDentry | OptPressure | OptEvents | OptPeak
)

// Read reads the memory breakdown of a cgroup, every reading included. A cgroup removed while
// being read gives ErrVanished and its handle is closed. A file this kernel lacks leaves its
// values absent; a file that cannot be read or parsed gives an error naming it, and the values
// of the other files are kept.
func (r *MemoryReader) Read(cg *Cgroup) (Memory, error) {
	return r.ReadOptional(cg, AllOptional)
}

// ReadOptional is Read with only the optional readings in opt: the files that only the others
// come from are not read, and those readings are absent unless a file read anyway holds them.
func (r *MemoryReader) ReadOptional(cg *Cgroup, opt Optional) (Memory, error) {
	var m Memory
	var err error
	if r.mode.V2() {
		err = r.readV2(cg, &m, opt)
	} else {
		err = r.readV1(cg, &m, opt)
	}
	if vanished(err) {
		cg.Close()
	}
	return m, err
}

// file reads one file of a cgroup. A missing optional file is absent (nil, nil); a missing
// required file, or ENODEV from a removed cgroup, is ErrVanished.
func (r *MemoryReader) file(cg *Cgroup, id fileID, required bool) ([]byte, error) {
	b, err := cg.read(id, r.buf[:0])
	if cap(b) > cap(r.buf) {
		r.buf = b[:0]
	}
	switch {
	case err == nil && b == nil && required:
		return nil, fmt.Errorf("%w: %s", ErrVanished, filepath.Join(cg.Dir, fileNames[id]))
	case err == nil:
		return b, nil
	case errors.Is(err, syscall.ENODEV), errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %w", ErrVanished, err)
	}
	return nil, err
}

// NodeOOMKills tells the reader the node's OOM kill count (oom_kill of /proc/vmstat) before
// a scrape, known false when it could not be read. The kernel counts every OOM kill there and
// in the victim's memory cgroup at once, so while the node's count stays the same no cgroup's
// oom_kill has changed, and a cgroup whose count was read since is not read again: one file
// less per container and scrape. A reader never told reads it every time.
func (r *MemoryReader) NodeOOMKills(count uint64, known bool) {
	if !known || !r.oomTracked || count != r.oomCount {
		r.oomEpoch++
	}
	r.oomCount, r.oomTracked = count, known
}

// readOOMKills reads oom_kill from memory.oom_control (v1) or memory.events (v2); absent
// when the file or the key is. It returns the handle's value when that was read in the
// current epoch without error.
func (r *MemoryReader) readOOMKills(cg *Cgroup, id fileID, c *collect) Value {
	if r.oomTracked && cg.oom.read && cg.oom.epoch == r.oomEpoch {
		return cg.oom.kills
	}
	var v Value
	b, err := r.file(cg, id, false)
	c.add(id, err)
	perr := parseKV(b, func(k []byte, n uint64) {
		if string(k) == "oom_kill" {
			v = some(n)
		}
	})
	c.add(id, perr)
	cg.oom = oomReading{kills: v, epoch: r.oomEpoch, read: err == nil && perr == nil}
	return v
}

// collect gathers the errors of one cgroup's files, each naming its file.
type collect struct {
	dir  string
	errs []error
}

// add records err of the file id, unless err already names it (read errors do).
func (c *collect) add(id fileID, err error) {
	if err == nil {
		return
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		c.errs = append(c.errs, err)
		return
	}
	c.errs = append(c.errs, fmt.Errorf("%s: %w", filepath.Join(c.dir, fileNames[id]), err))
}

func (c *collect) err() error { return errors.Join(c.errs...) }

// vanished reports whether err says the cgroup went away.
func vanished(err error) bool { return errors.Is(err, ErrVanished) }
