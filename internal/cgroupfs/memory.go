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
// containerd report, and what kubelet evicts on. It is absent unless both are known: every
// kernel prints inactive_file, so one missing is a memory.stat that failed, and usage alone
// would overstate the working set by the whole inactive page cache.
func (m Memory) WorkingSet() Value {
	if !m.Usage.OK || !m.InactiveFile.OK {
		return Value{}
	}
	if m.InactiveFile.V > m.Usage.V {
		return some(0)
	}
	return some(m.Usage.V - m.InactiveFile.V)
}

// Empty reports whether no reading at all is present: nothing to record.
func (m Memory) Empty() bool { return m == Memory{} }

// MemoryReader reads the memory files of cgroups in one hierarchy. It reuses one buffer and
// is not safe for concurrent use.
type MemoryReader struct {
	mode Mode
	buf  []byte
	mem  Memory // the reading being filled
	// noSlabinfo is set once a memory.kmem.slabinfo reads empty: kernels since 5.9 print
	// nothing there for every cgroup, so it is not read again.
	noSlabinfo bool
	oom        oomCache     // which cgroups' OOM kill counts are still right (oomkills.go)
	gate       pressureGate // whose memory.pressure is still right (psigate.go)
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
	OptEvents                          // Events (and v2 OOMKills): v2 memory.events; v1 memory.failcnt
	OptUnderOOM                        // UnderOOM (and OOMKills): v1 memory.oom_control
	OptPeak                            // Peak: v2 memory.peak, v1 memory.max_usage_in_bytes

	AllOptional = OptSock | OptOOMKills | OptSwap | OptSlabDentry | OptPressure | OptEvents | OptUnderOOM | OptPeak
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
	sources := v1Sources
	if r.mode.V2() {
		sources = v2Sources
	}
	// The reading is filled in r.mem, not in a local: the sources' functions take a pointer
	// to it, which would move a local to the heap on every read.
	r.mem = Memory{}
	err := r.readSources(cg, sources, &r.mem, opt)
	if vanished(err) {
		cg.Close()
	}
	return r.mem, err
}

// source is one kernel file of a cgroup and the readings it fills: v1Sources and v2Sources
// list every file a version reads, one line each, and readSources walks one of them.
type source struct {
	file fileID
	// opt: the file is read only when one of these optional readings is asked for; 0: always.
	opt Optional
	// required: a missing file means the cgroup vanished (memory.stat and the usage).
	required bool
	// elsewhere: the file is in another directory (the unified mount of a hybrid host), so
	// its vanishing says nothing of the cgroup's; its readings are then absent.
	elsewhere bool
	// skip, when set, says that the file need not be read this time; it may fill m from what
	// the handle kept.
	skip func(r *MemoryReader, cg *Cgroup, m *Memory, opt Optional) bool
	// fill parses the file's content into m; it is not called when the kernel lacks the file.
	fill func(r *MemoryReader, cg *Cgroup, b []byte, m *Memory) error
}

// readSources reads the files of sources that opt asks for, in order, into m. A vanished
// cgroup ends the read with ErrVanished. Otherwise a file that cannot be read or parsed adds
// an error naming it, and the other files are still read.
func (r *MemoryReader) readSources(cg *Cgroup, sources []source, m *Memory, opt Optional) error {
	c := collect{cg: cg}
	for i := range sources {
		s := &sources[i]
		if s.opt != 0 && opt&s.opt == 0 || s.skip != nil && s.skip(r, cg, m, opt) {
			continue
		}
		b, err := r.file(cg, s.file, s.required)
		switch {
		case vanished(err) && s.elsewhere:
			continue
		case vanished(err):
			return err
		case err != nil:
			c.add(s.file, err)
			continue
		case b == nil: // the kernel lacks the file: its readings are absent
			continue
		}
		c.add(s.file, s.fill(r, cg, b, m))
	}
	return c.err()
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

// The readings one-number files fill.
func usage(m *Memory) *Value     { return &m.Usage }
func limit(m *Memory) *Value     { return &m.Limit }
func kmem(m *Memory) *Value      { return &m.Kmem }
func sock(m *Memory) *Value      { return &m.Sock }
func swap(m *Memory) *Value      { return &m.Swap }
func peak(m *Memory) *Value      { return &m.Peak }
func eventsMax(m *Memory) *Value { return &m.Events.Max }

// uintInto fills a reading from a one-number file; absent when the file is.
func uintInto(field func(*Memory) *Value) func(*MemoryReader, *Cgroup, []byte, *Memory) error {
	return func(_ *MemoryReader, _ *Cgroup, b []byte, m *Memory) error {
		if b == nil {
			return nil
		}
		v, err := parseUint(b)
		if err == nil {
			*field(m) = some(v)
		}
		return err
	}
}

// limitInto fills a reading from a limit file; absent when the file is, or when it says
// unlimited.
func limitInto(field func(*Memory) *Value) func(*MemoryReader, *Cgroup, []byte, *Memory) error {
	return func(_ *MemoryReader, _ *Cgroup, b []byte, m *Memory) error {
		if b == nil {
			return nil
		}
		v, ok, err := parseLimit(b)
		if err == nil && ok {
			*field(m) = some(v)
		}
		return err
	}
}

// collect gathers the errors of one cgroup's files, each naming its file.
type collect struct {
	cg   *Cgroup
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
	c.errs = append(c.errs, fmt.Errorf("%s: %w", c.cg.path(id), err))
}

func (c *collect) err() error { return errors.Join(c.errs...) }

// vanished reports whether err says the cgroup went away.
func vanished(err error) bool { return errors.Is(err, ErrVanished) }
