package cgroupmemreceiver // import "github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"

import (
	"errors"
	"fmt"
	"path/filepath"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/cgroupmem/cgroupmem/internal/dentrybpf"
	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver/internal/metadata"
)

// Values of dentry_accounting.
const (
	dentryAccountingOff  = "off"
	dentryAccountingEBPF = "ebpf"
)

// DentryAccountingConfig turns on the eBPF accountant of live dentries per memory cgroup.
type DentryAccountingConfig struct {
	// Mode is "off" (default) or "ebpf".
	Mode string `mapstructure:"mode"`
	// MaxTrackedObjects bounds the kernel map of live dentries (preallocated, 80 B a slot,
	// charged to the collector's memory cgroup); 0 means 1,048,576.
	MaxTrackedObjects uint32 `mapstructure:"max_tracked_objects"`
	// Hooks picks the kernel hooks: "" (fentry where allowed, else tracepoints), "fentry" or
	// "tracepoint".
	Hooks string `mapstructure:"hooks"`
}

// Validate checks the mode and hooks.
func (c *DentryAccountingConfig) Validate() error {
	switch c.Mode {
	case dentryAccountingOff, dentryAccountingEBPF:
	default:
		return fmt.Errorf("dentry_accounting.mode must be %q or %q, got %q", dentryAccountingOff, dentryAccountingEBPF, c.Mode)
	}
	switch c.Hooks {
	case dentrybpf.HooksAuto, dentrybpf.HooksFentry, dentrybpf.HooksTracepoint:
	default:
		return fmt.Errorf("dentry_accounting.hooks must be empty, %q or %q, got %q", dentrybpf.HooksFentry, dentrybpf.HooksTracepoint, c.Hooks)
	}
	return nil
}

// dentryAccounting joins the accountant's per-cgroup counts to containers by cgroup id (the
// inode number of the cgroup directory).
type dentryAccounting struct {
	acc    *dentrybpf.Accountant
	counts map[uint64]dentrybpf.Counts
	ids    map[string]uint64 // cgroup directory → id, kept while the container exists
	seen   map[string]bool
	// partial are the cgroup directories that lost dentries to a full map: their counts are
	// lower bounds (coverage=partial) for as long as the container exists, even once the
	// kernel's LRU map of per-cgroup overflows has forgotten them.
	partial        map[string]bool
	overflowWarned bool
}

// startDentryAccounting starts the accountant when configured. A kernel or a permission that
// does not allow it is logged once and leaves the receiver running without dentry metrics.
func (s *cgroupScraper) startDentryAccounting() {
	cfg := s.cfg.DentryAccounting
	if cfg.Mode != dentryAccountingEBPF {
		return
	}
	acc, err := dentrybpf.Start(dentrybpf.Config{
		Hooks:             cfg.Hooks,
		MaxTrackedObjects: cfg.MaxTrackedObjects,
		CgroupRoot:        s.hier.Dir,
	}, s.logger)
	if err != nil {
		s.logger.Warn("eBPF dentry accounting is not available: container.memory.slab.dentry from ebpf is not emitted",
			zap.Bool("not_permitted", errors.Is(err, dentrybpf.ErrNotPermitted)),
			zap.Bool("not_supported", errors.Is(err, dentrybpf.ErrNotSupported)), zap.Error(err))
		return
	}
	s.logger.Info("eBPF dentry accounting started", zap.String("hooks", acc.Hooks()),
		zap.Uint64("object_size", acc.ObjectSize()), zap.Bool("negative_counted", acc.NegativeCounted()))
	s.dentries = &dentryAccounting{acc: acc, ids: map[string]uint64{}, seen: map[string]bool{}, partial: map[string]bool{}}
}

// snapshot reads the counters once per scrape.
func (d *dentryAccounting) snapshot(logger *zap.Logger) error {
	if d == nil {
		return nil
	}
	for dir := range d.ids {
		if !d.seen[dir] {
			delete(d.ids, dir)
			delete(d.partial, dir)
		}
	}
	clear(d.seen)
	counts, err := d.acc.Snapshot()
	if err != nil {
		d.counts = nil
		return fmt.Errorf("reading the eBPF dentry counters: %w", err)
	}
	d.counts = counts
	if o := d.acc.Overflows(); o > 0 && !d.overflowWarned {
		d.overflowWarned = true
		var cgroups int
		for _, c := range counts {
			if c.Overflows > 0 {
				cgroups++
			}
		}
		logger.Warn("The eBPF map of live dentries is full: the dentries of containers allocating while it is are not all counted, and those containers report container.memory.dentry.coverage=partial (lower bounds) from now on. Raise dentry_accounting.max_tracked_objects. Logged once.",
			zap.Uint64("overflows", o), zap.Int("cgroups", cgroups))
	}
	return nil
}

// record records the dentry metrics of the container whose cgroup directory is dir.
func (d *dentryAccounting) record(mb *metadata.MetricsBuilder, now pcommon.Timestamp, dir string) error {
	if d == nil || d.counts == nil {
		return nil
	}
	d.seen[dir] = true
	id, ok := d.ids[dir]
	if !ok {
		var err error
		if id, err = dentrybpf.CgroupID(dir); err != nil {
			return fmt.Errorf("cgroup id of %s: %w", filepath.Clean(dir), err)
		}
		d.ids[dir] = id
	}
	c := d.counts[id]
	if c.Overflows > 0 {
		d.partial[dir] = true
	}
	coverage := metadata.AttributeCoveragePartial
	if d.acc.Covers(id) && !d.partial[dir] {
		coverage = metadata.AttributeCoverageFull
	}
	mb.RecordContainerMemorySlabDentryDataPoint(now, int64(c.Live*d.acc.ObjectSize()), metadata.AttributeDentrySourceEbpf, coverage)
	if d.acc.NegativeCounted() {
		mb.RecordContainerMemorySlabDentryNegativeDataPoint(now, int64(c.Negative), coverage)
	}
	return nil
}

func (d *dentryAccounting) close() error {
	if d == nil {
		return nil
	}
	return d.acc.Close()
}
