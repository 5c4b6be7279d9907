//go:build linux && !noebpf

package dentrybpf

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"

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

	mu       sync.Mutex // serializes Snapshot and Close
	closed   bool
	maps     dentryMaps
	vars     dentryVariables
	progs    trackPrograms
	links    []link.Link
	negProg  *ebpf.Program
	negIter  *link.Iter
	zeroSeen map[uint64]bool // cgroups whose count was 0 at the last snapshot

	objSize   uint64
	startedAt time.Time
	watermark uint64 // highest cgroup id that existed when the accountant attached
}

// trackPrograms are the hot-path programs; the negative-dentry iterator is
// loaded separately so that a kernel refusing it costs only that count.
type trackPrograms struct {
	DentryAlloc *ebpf.Program `ebpf:"dentry_alloc"`
	DentryFree  *ebpf.Program `ebpf:"dentry_free"`
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
	for _, tp := range []string{"kmem_cache_alloc", "kmem_cache_free"} {
		if err := checkTracepoint(kernel, tp); err != nil {
			return err
		}
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

	if err := spec.LoadAndAssign(&a.maps, nil); err != nil {
		return classify("creating eBPF maps", err)
	}
	opts := &ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{
		dentryMapLive:      a.maps.Live,
		dentryMapCounts:    a.maps.Counts,
		dentryMapNegatives: a.maps.Negatives,
	}}
	if err := spec.LoadAndAssign(&a.progs, opts); err != nil {
		return classify("loading eBPF programs", err)
	}
	if err := spec.LoadAndAssign(&a.vars, opts); err != nil {
		return classify("loading eBPF variables", err)
	}
	for _, p := range []*ebpf.Program{a.progs.DentryFree, a.progs.DentryAlloc} {
		l, err := link.AttachTracing(link.TracingOptions{Program: p, AttachType: ebpf.AttachTraceRawTp})
		if err != nil {
			return classify("attaching "+p.String(), err)
		}
		a.links = append(a.links, l)
	}
	a.startedAt = time.Now()

	a.startNegative(spec, opts)
	a.watermark = a.readWatermark(cfg.CgroupRoot)
	a.objSize = a.readObjectSize()
	a.checkMerged()
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

// Snapshot returns the live dentries per memory cgroup id (the inode number
// of the cgroup directory, see CgroupID). Cgroups with none are absent.
func (a *Accountant) Snapshot() (map[uint64]Counts, error) {
	if a == nil {
		return nil, ErrClosed
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, ErrClosed
	}

	out := make(map[uint64]Counts)
	var zeros []uint64
	var id uint64
	var n int64
	it := a.maps.Counts.Iterate()
	for it.Next(&id, &n) {
		switch {
		case n > 0:
			out[id] = Counts{Live: uint64(n)}
		case n == 0:
			zeros = append(zeros, id)
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("reading dentry counts: %w", err)
	}
	if err := a.prune(zeros); err != nil {
		return nil, fmt.Errorf("pruning dentry counts: %w", err)
	}
	if a.negIter != nil {
		if err := a.countNegative(out); err != nil {
			return nil, fmt.Errorf("counting negative dentries: %w", err)
		}
	}
	return out, nil
}

// prune frees the counters of cgroups that held no dentries at two
// snapshots in a row (removed containers, mostly), so that the bounded map
// keeps room for new ones.
func (a *Accountant) prune(zeros []uint64) error {
	seen := make(map[uint64]bool, len(zeros))
	for _, id := range zeros {
		seen[id] = true
		if !a.zeroSeen[id] {
			continue
		}
		if err := a.forget(id); err != nil {
			return err
		}
		delete(seen, id)
	}
	a.zeroSeen = seen
	return nil
}

// forget deletes a cgroup's counter atomically and puts back whatever the
// kernel side added since it was read as 0.
func (a *Accountant) forget(id uint64) error {
	var v int64
	err := a.maps.Counts.LookupAndDelete(&id, &v)
	for err == nil && v != 0 {
		err = a.maps.Counts.Update(&id, &v, ebpf.UpdateNoExist)
		if errors.Is(err, ebpf.ErrKeyExist) {
			var w int64
			if err = a.maps.Counts.LookupAndDelete(&id, &w); err == nil {
				v += w
			}
		}
	}
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return nil
	}
	return err
}

// countNegative runs the map iterator over the live dentries and adds, per
// cgroup, those without an inode.
func (a *Accountant) countNegative(out map[uint64]Counts) error {
	var keys []uint64
	var id, n uint64
	it := a.maps.Negatives.Iterate()
	for it.Next(&id, &n) {
		keys = append(keys, id)
	}
	if err := it.Err(); err != nil {
		return err
	}
	for _, k := range keys {
		if err := a.maps.Negatives.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return err
		}
	}

	rd, err := a.negIter.Open()
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, rd)
	if cerr := rd.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	it = a.maps.Negatives.Iterate()
	for it.Next(&id, &n) {
		if c, ok := out[id]; ok {
			c.Negative = min(n, c.Live)
			out[id] = c
		}
	}
	return it.Err()
}

// ObjectSize is the dentry cache's per-object footprint in bytes: live
// dentries x ObjectSize = dentry slab bytes.
func (a *Accountant) ObjectSize() uint64 {
	if a == nil {
		return 0
	}
	return a.objSize
}

// StartedAt is when the accountant attached; dentries allocated before it
// are not counted.
func (a *Accountant) StartedAt() time.Time {
	if a == nil {
		return time.Time{}
	}
	return a.startedAt
}

// Covers reports whether the cgroup with this id was created after the
// accountant attached, so that every dentry charged to it was counted
// (coverage=full). It compares the id with the highest cgroup id present at
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
	for _, p := range []*ebpf.Program{a.progs.DentryAlloc, a.progs.DentryFree} {
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

	var errs []error
	if a.negIter != nil {
		errs = append(errs, a.negIter.Close())
	}
	for _, l := range a.links {
		errs = append(errs, l.Close())
	}
	errs = append(errs,
		a.negProg.Close(), a.progs.DentryAlloc.Close(), a.progs.DentryFree.Close(),
		a.maps.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing dentry accountant: %w", err)
	}
	return nil
}
