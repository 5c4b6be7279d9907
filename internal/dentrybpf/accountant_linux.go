//go:build linux && !noebpf

package dentrybpf

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"go.uber.org/zap"
)

// Accountant counts live dentries per memory cgroup with eBPF. A nil
// *Accountant is a stopped one: every method is safe to call on it.
type Accountant struct {
	logger *zap.Logger

	mu       sync.Mutex // serializes Snapshot, Stats and Close
	closed   bool
	hooks    string
	maps     dentryMaps
	vars     dentryVariables
	bss      *ebpf.Map // backs vars; shared by every program
	alloc    *ebpf.Program
	free     *ebpf.Program
	links    []link.Link
	negProg  *ebpf.Program
	negIter  *link.Iter
	zeroSeen map[uint64]bool // cgroups whose count was 0 at the last snapshot

	objSize   uint64
	watermark uint64 // highest cgroup id that existed when the accountant attached
}

// sharedObjects are loaded once: the maps and the counters' .bss. The
// hot-path programs (one pair, fentryPrograms or tracepointPrograms) and the
// negative-dentry iterator are loaded against them, each separately, so that
// a kernel refusing one costs only that one.
type sharedObjects struct {
	dentryMaps
	dentryVariables
	Bss *ebpf.Map `ebpf:".bss"`
}

type fentryPrograms struct {
	Alloc *ebpf.Program `ebpf:"alloc_fexit"`
	Free  *ebpf.Program `ebpf:"free_fentry"`
}

type tracepointPrograms struct {
	Alloc *ebpf.Program `ebpf:"alloc_tp"`
	Free  *ebpf.Program `ebpf:"free_tp"`
}

// Start loads and attaches the accountant. On failure it has released
// everything and returns an error wrapping ErrNotSupported or ErrNotPermitted,
// with the cause; callers log it once and carry on without dentry metrics.
func Start(cfg Config, logger *zap.Logger) (*Accountant, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	cfg = cfg.withDefaults()
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = defaultCgroupRoot()
	}
	a := &Accountant{logger: logger, zeroSeen: map[uint64]bool{}}
	if err := a.start(cfg); err != nil {
		_ = a.Close()
		return nil, err
	}
	return a, nil
}

func (a *Accountant) start(cfg Config) error {
	kernel, err := btf.LoadKernelSpec()
	if err != nil {
		return classify("reading kernel BTF", err)
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		// Only kernels before 5.11 charge maps to RLIMIT_MEMLOCK; on the
		// others this fails without CAP_BPF, and creating the maps below
		// reports the real cause.
		a.logger.Debug("dentry accountant: cannot raise the memlock rlimit", zap.Error(err))
	}
	spec, err := loadDentry()
	if err != nil {
		return classify("parsing the embedded eBPF object", err)
	}
	spec.Maps[dentryMapLive].MaxEntries = cfg.MaxTrackedObjects
	spec.Maps[dentryMapCounts].MaxEntries = cfg.MaxCgroups
	spec.Maps[dentryMapNegatives].MaxEntries = cfg.MaxCgroups
	spec.Maps[dentryMapOverflowed].MaxEntries = cfg.MaxCgroups

	var shared sharedObjects
	if err := spec.LoadAndAssign(&shared, nil); err != nil {
		return classify("creating eBPF maps", err)
	}
	a.maps, a.vars, a.bss = shared.dentryMaps, shared.dentryVariables, shared.Bss
	opts := &ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{
		dentryMapLive:       a.maps.Live,
		dentryMapCounts:     a.maps.Counts,
		dentryMapNegatives:  a.maps.Negatives,
		dentryMapOverflowed: a.maps.Overflowed,
		".bss":              a.bss,
	}}

	candidates := []string{HooksFentry, HooksTracepoint}
	if cfg.Hooks != HooksAuto {
		candidates = []string{cfg.Hooks}
	}
	var errs []error
	for _, hooks := range candidates {
		err := a.attach(kernel, spec, opts, hooks)
		if err == nil {
			a.hooks = hooks
			break
		}
		errs = append(errs, err)
		if derr := a.detach(); derr != nil {
			errs = append(errs, derr)
		}
	}
	if a.hooks == "" {
		return errors.Join(errs...)
	}
	if len(errs) > 0 {
		a.logger.Info("dentry accountant: preferred hooks unavailable",
			zap.String("using", a.hooks), zap.Error(errors.Join(errs...)))
	}

	a.startNegative(spec, opts)
	a.watermark = a.readWatermark(cfg.CgroupRoot)
	a.objSize = a.readObjectSize()
	a.checkMerged()
	return nil
}

// attach loads the hot-path programs for hooks and attaches them, free
// before alloc so that no tracked dentry's free is missed.
func (a *Accountant) attach(kernel *btf.Spec, spec *ebpf.CollectionSpec, opts *ebpf.CollectionOptions, hooks string) error {
	var allocName, freeName string
	switch hooks {
	case HooksFentry:
		var progs fentryPrograms
		if err := spec.LoadAndAssign(&progs, opts); err != nil {
			return classify("loading fentry/fexit programs", err)
		}
		a.alloc, a.free = progs.Alloc, progs.Free
		allocName, freeName = dentryProgAllocFexit, dentryProgFreeFentry
	case HooksTracepoint:
		for _, tp := range []string{"kmem_cache_alloc", "kmem_cache_free"} {
			if err := checkTracepoint(kernel, tp); err != nil {
				return err
			}
		}
		var progs tracepointPrograms
		if err := spec.LoadAndAssign(&progs, opts); err != nil {
			return classify("loading tracepoint programs", err)
		}
		a.alloc, a.free = progs.Alloc, progs.Free
		allocName, freeName = dentryProgAllocTp, dentryProgFreeTp
	default:
		return fmt.Errorf("%w: unknown hooks %q (want %q, %q or empty)",
			ErrNotSupported, hooks, HooksFentry, HooksTracepoint)
	}
	for _, p := range []struct {
		name string
		prog *ebpf.Program
	}{{freeName, a.free}, {allocName, a.alloc}} {
		l, err := link.AttachTracing(link.TracingOptions{
			Program:    p.prog,
			AttachType: spec.Programs[p.name].AttachType,
		})
		if err != nil {
			return classify(fmt.Sprintf("attaching %s to %s", p.name, spec.Programs[p.name].AttachTo), err)
		}
		a.links = append(a.links, l)
	}
	return nil
}

// checkTracepoint verifies that the kernel's tracepoint passes the slab cache
// as its third argument (Linux >= 6.1); older kernels pass sizes there, and a
// program reading them as a cache would silently count nothing.
func checkTracepoint(kernel *btf.Spec, name string) error {
	var td *btf.Typedef
	if err := kernel.TypeByName("btf_trace_"+name, &td); err != nil {
		return fmt.Errorf("%w: tracepoint %s: %w", ErrNotSupported, name, err)
	}
	if ptr, ok := btf.UnderlyingType(td.Type).(*btf.Pointer); ok {
		// Params: the tracepoint's data pointer, call_site, ptr, s, ...
		if fp, ok := btf.UnderlyingType(ptr.Target).(*btf.FuncProto); ok && len(fp.Params) >= 4 {
			if arg, ok := btf.UnderlyingType(fp.Params[3].Type).(*btf.Pointer); ok {
				if st, ok := btf.UnderlyingType(arg.Target).(*btf.Struct); ok && st.Name == "kmem_cache" {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("%w: tracepoint %s does not pass struct kmem_cache * (needs Linux 6.1 or later): %s",
		ErrNotSupported, name, td.Type)
}

// startNegative loads the iterator that counts negative dentries. It is
// optional: without it NegativeCounted reports false.
func (a *Accountant) startNegative(spec *ebpf.CollectionSpec, opts *ebpf.CollectionOptions) {
	var objs struct {
		CountNegative *ebpf.Program `ebpf:"count_negative"`
	}
	if err := spec.LoadAndAssign(&objs, opts); err != nil {
		a.logger.Warn("dentry accountant: negative dentries will not be counted",
			zap.Error(classify("loading the map iterator", err)))
		return
	}
	it, err := link.AttachIter(link.IterOptions{Program: objs.CountNegative, Map: a.maps.Live})
	if err != nil {
		_ = objs.CountNegative.Close()
		a.logger.Warn("dentry accountant: negative dentries will not be counted",
			zap.Error(classify("attaching the map iterator", err)))
		return
	}
	a.negProg, a.negIter = objs.CountNegative, it
}

func (a *Accountant) readWatermark(root string) uint64 {
	id, err := maxCgroupID(root)
	if err != nil {
		a.logger.Warn("dentry accountant: cannot tell which cgroups it saw from birth; all are partial",
			zap.Error(err))
		return math.MaxUint64
	}
	return id
}

func (a *Accountant) readObjectSize() uint64 {
	size, err := readObjectSize("/sys", "/proc")
	if err != nil {
		a.logger.Info("dentry accountant: dentry object size unreadable, using the default",
			zap.Uint64("bytes", size.bytes), zap.Error(err))
	}
	return size.bytes
}

// checkMerged warns when SLUB merged other caches into the dentry cache:
// their objects are then counted as dentries.
func (a *Accountant) checkMerged() {
	b, err := os.ReadFile("/sys/kernel/slab/dentry/aliases")
	if err != nil {
		return
	}
	if s := strings.TrimSpace(string(b)); s != "0" {
		a.logger.Warn("dentry accountant: the dentry slab cache is shared with other caches; their objects count as dentries",
			zap.String("aliases", s))
	}
}

// classify wraps err from setup step with ErrNotPermitted when the kernel
// refused for lack of privilege, else with ErrNotSupported.
func classify(step string, err error) error {
	var verr *ebpf.VerifierError
	if !errors.As(err, &verr) && errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%w: %s: %w", ErrNotPermitted, step, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrNotSupported, step, err)
}

// ObjectSize is the dentry cache's per-object footprint in bytes: live
// dentries x ObjectSize = dentry slab bytes.
func (a *Accountant) ObjectSize() uint64 {
	if a == nil {
		return 0
	}
	return a.objSize
}

// Covers reports whether the cgroup with this id was created after the
// accountant attached, so that every dentry charged to it was counted
// (container.memory.dentry.coverage=full). It compares the id with the highest cgroup id present at
// start; kernfs ids only grow.
func (a *Accountant) Covers(cgroupID uint64) bool {
	return a != nil && cgroupID > a.watermark
}

// Overflows is the number of dentry allocations not counted because a map
// was full (Config.MaxTrackedObjects or MaxCgroups).
func (a *Accountant) Overflows() uint64 {
	return a.Stats().Overflows
}

// Stats returns the accountant's own error counters.
func (a *Accountant) Stats() Stats {
	if a == nil {
		return Stats{}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return Stats{}
	}
	var st Stats
	for _, v := range []struct {
		name string
		v    *ebpf.Variable
		out  *uint64
	}{{"overflows", a.vars.Overflows, &st.Overflows}, {"stale", a.vars.Stale, &st.StaleFrees}} {
		if err := v.v.Get(v.out); err != nil {
			a.logger.Debug("dentry accountant: reading a counter", zap.String("counter", v.name), zap.Error(err))
		}
	}
	for _, p := range []*ebpf.Program{a.alloc, a.free} {
		if ps, err := p.Stats(); err == nil {
			st.Missed += ps.RecursionMisses
		}
	}
	return st
}

// NegativeCounted reports whether Snapshot fills Counts.Negative.
func (a *Accountant) NegativeCounted() bool {
	return a != nil && a.negIter != nil
}

// Hooks names the hooks in use: HooksFentry or HooksTracepoint.
func (a *Accountant) Hooks() string {
	if a == nil {
		return ""
	}
	return a.hooks
}

// Close detaches the programs and frees the maps. It is safe to call on a
// nil or closed Accountant, and more than once.
func (a *Accountant) Close() error {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	if err := a.release(); err != nil {
		return fmt.Errorf("closing dentry accountant: %w", err)
	}
	return nil
}

// release detaches and closes whatever is loaded, links first.
func (a *Accountant) release() error {
	var errs []error
	if a.negIter != nil {
		errs = append(errs, a.negIter.Close())
	}
	errs = append(errs, a.detach(), a.negProg.Close(), a.maps.Close(), a.bss.Close())
	a.negIter, a.negProg, a.bss = nil, nil, nil
	a.maps, a.vars = dentryMaps{}, dentryVariables{}
	return errors.Join(errs...)
}

// detach detaches and closes the hot-path programs.
func (a *Accountant) detach() error {
	var errs []error
	for _, l := range a.links {
		errs = append(errs, l.Close())
	}
	errs = append(errs, a.alloc.Close(), a.free.Close())
	a.links, a.alloc, a.free = nil, nil, nil
	return errors.Join(errs...)
}
