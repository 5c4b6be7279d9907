package cgroupmemreceiver // import "github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper/scrapererror"
	"go.uber.org/zap"

	"github.com/cgroupmem/cgroupmem/internal/cgroupfs"
	"github.com/cgroupmem/cgroupmem/internal/k8smeta"
	"github.com/cgroupmem/cgroupmem/internal/psi"
	"github.com/cgroupmem/cgroupmem/internal/sockets"
	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver/internal/metadata"
)

// containerMetricsLen is how many metrics one container cgroup yields at most; a container
// that cannot be read counts as that many failed metrics in a partial scrape error.
const containerMetricsLen = 21

// cgroupScraper composes discovery, the cgroup readers and the node readers into metrics.
type cgroupScraper struct {
	cfg    *Config
	logger *zap.Logger
	mb     *metadata.MetricsBuilder

	hier     cgroupfs.Hierarchy
	files    *cgroupfs.Files
	catalog  *cgroupfs.Catalog
	memory   *cgroupfs.MemoryReader
	sockets  *sockets.Collector
	k8s      *k8smeta.Provider
	dentries *dentryAccounting
	oom      *oomLedger // nil when neither the kmsg watcher nor v1 pod OOM kills need it
	procRoot string

	resources resourceCache

	// containerReadings and podReadings are the optional cgroup readings a container's and a
	// pod's enabled metrics need.
	containerReadings cgroupfs.Optional
	podReadings       cgroupfs.Optional

	// containerPressure and podPressure record the pressure signals of a reading.
	containerPressure, podPressure pressureRecorders

	lastSocketGroups int
	// cgroup2IDs are the containers' cgroup2 ids by path, read since discovery walk number
	// cgroup2IDsWalk (cgroup2ID).
	cgroup2IDs     map[string]uint64
	cgroup2IDsWalk int

	// readings are the cgroups of the batch being scraped, read and not yet recorded.
	readings []cgroupReading
	// podParents are the pods' parents (their QoS class cgroups) whose memory.pressure this
	// scrape read, by path: each gates its pods' (readPod).
	podParents map[string]podParent

	budgetWarned bool
	// nodeOOMKillsWarned says that the node's OOM kill count could not be read, once.
	nodeOOMKillsWarned bool
}

func newCgroupScraper(cfg *Config, set receiver.Settings) *cgroupScraper {
	s := &cgroupScraper{
		cfg:      cfg,
		logger:   set.Logger,
		mb:       metadata.NewMetricsBuilder(cfg.MetricsBuilderConfig, set),
		procRoot: filepath.Join(cfg.RootPath, "proc"),

		containerReadings: containerReadings(cfg.Metrics),
		podReadings:       podReadings(cfg.Metrics),
		podParents:        map[string]podParent{},
	}
	s.containerPressure = containerPressureRecorders(s.mb)
	s.podPressure = podPressureRecorders(s.mb)
	if !cfg.Metrics.ContainerMemoryPressureStallShare.Enabled {
		s.containerPressure.stallShare = nil
	}
	if !cfg.Metrics.K8sPodMemoryPressureStallShare.Enabled {
		s.podPressure.stallShare = nil
	}
	return s
}

// containerReadings are the optional readings whose container metric is enabled: each costs
// a file read per container and scrape.
func containerReadings(m metadata.MetricsConfig) cgroupfs.Optional {
	var opt cgroupfs.Optional
	for _, r := range []struct {
		enabled bool
		opt     cgroupfs.Optional
	}{
		{m.ContainerMemorySock.Enabled, cgroupfs.OptSock},
		{m.ContainerMemoryOomKills.Enabled, cgroupfs.OptOOMKills},
		{m.ContainerMemorySwap.Enabled, cgroupfs.OptSwap},
		{m.ContainerMemorySlabDentry.Enabled, cgroupfs.OptSlabDentry},
	} {
		if r.enabled {
			opt |= r.opt
		}
	}
	return opt | pressureReadings(m.ContainerMemoryPressureStallTime.Enabled || m.ContainerMemoryPressureStallShare.Enabled,
		m.ContainerMemoryEvents.Enabled, m.ContainerMemoryUnderOom.Enabled,
		m.ContainerMemoryPeak.Enabled)
}

// start finds the memory hierarchy under root_path; a root path without one fails the start.
func (s *cgroupScraper) start(ctx context.Context, _ component.Host) error {
	if fi, err := os.Stat(s.cfg.RootPath); err != nil || !fi.IsDir() {
		return fmt.Errorf("root_path %q is not a readable directory: %w", s.cfg.RootPath, errors.Join(err, errNotDir(fi)))
	}
	hier, err := cgroupfs.DetectHierarchy(s.cfg.RootPath)
	if err != nil {
		return fmt.Errorf("root_path %q: %w (is the host's /sys/fs/cgroup mounted there?)", s.cfg.RootPath, err)
	}
	s.hier = hier
	s.files = cgroupfs.NewFiles(s.cfg.MaxOpenFiles)
	s.catalog = cgroupfs.NewCatalog(hier, s.files, s.cfg.DiscoveryInterval)
	s.memory = cgroupfs.NewMemoryReader(hier.Mode)
	if !hier.Mode.V2() && s.cfg.Metrics.K8sPodMemoryOomKills.Enabled {
		s.containerReadings |= cgroupfs.OptOOMKills // a v1 pod's count is its containers'
	}
	s.oom = s.startOOMLedger()
	if s.socketsEnabled() {
		s.sockets = sockets.NewCollector(s.procRoot, s.cfg.Sockets.limits(), s.logger)
		s.sockets.UseSockopt(s.cfg.Sockets.Attribution == socketAttributionSockopt)
		s.sockets.SetRefreshInterval(s.cfg.Sockets.RefreshInterval)
	}
	s.startDentryAccounting()
	if s.k8s, err = k8smeta.NewProvider(s.cfg.K8sMetadata, s.logger); err != nil {
		return fmt.Errorf("k8s_metadata: %w", err)
	}
	if err := s.k8s.Start(ctx); err != nil {
		return fmt.Errorf("k8s_metadata: %w", err)
	}
	s.logger.Info("Reading container memory cgroups",
		zap.String("mode", hier.Mode.String()), zap.String("hierarchy", hier.Dir),
		zap.Int("max_open_files", s.files.Limit()))
	return nil
}

func errNotDir(fi os.FileInfo) error {
	if fi != nil && !fi.IsDir() {
		return errors.New("not a directory")
	}
	return nil
}

func (s *cgroupScraper) shutdown(ctx context.Context) error {
	var errs []error
	if s.k8s != nil {
		errs = append(errs, s.k8s.Shutdown(ctx))
	}
	errs = append(errs, s.dentries.close())
	errs = append(errs, s.oom.close())
	if s.sockets != nil {
		errs = append(errs, s.sockets.Close())
	}
	if s.catalog != nil {
		errs = append(errs, s.catalog.Close())
	}
	return errors.Join(errs...)
}

// batchResources is how many resources the receiver hands on at once. A node's scrape is
// passed down the pipeline in batches of this size rather than whole, so that the pdata in
// flight stays the size of one batch however many containers the node runs: at 1,000
// containers a whole scrape is 1,500 resources, and with the memdivergence processor's
// analysis about 10 MiB of pdata at once. The batch processor downstream regroups them.
const batchResources = 100

// scrape discovers the container cgroups, reads each and records its metrics with one
// timestamp, and returns them as one batch. Tests and benchmarks use it; the receiver
// scrapes in batches.
func (s *cgroupScraper) scrape(ctx context.Context) (pmetric.Metrics, error) {
	all := pmetric.NewMetrics()
	err := s.scrapeInBatches(ctx, 0, func(md pmetric.Metrics) {
		md.ResourceMetrics().MoveAndAppendTo(all.ResourceMetrics())
	})
	return all, err
}

// scrapeInBatches scrapes every container, pod and the node, and calls emit with the metrics
// of every batchResources resources (0: once, with all of them). A pod's containers and the
// pod go in the same batch. A container that vanished is skipped; one that fails is a
// partial error, returned once all batches are emitted.
//
// Each batch's cgroups are all read first and then all recorded: reading the kernel's files
// and building pdata alternating cgroup by cgroup cost 7 % more CPU per container at 100
// containers and 12 % more at 1,000 (BenchmarkScrape, medians of 5 runs each).
func (s *cgroupScraper) scrapeInBatches(ctx context.Context, batchResources int, emit func(pmetric.Metrics)) error {
	now := pcommon.NewTimestampFromTime(time.Now())
	var errs scrapererror.ScrapeErrors

	tree, err := s.catalog.Refresh(now.AsTime())
	if err != nil {
		errs.AddPartial(containerMetricsLen, err)
	}
	s.trackNodeOOMKills()
	clear(s.podParents)
	s.oom.begin(s)
	socks := s.collectSockets(ctx, tree, &errs)
	if err := s.dentries.snapshot(s.logger); err != nil {
		errs.AddPartial(1, err)
	}
	flush := func() {
		s.recordReadings(now, socks, &errs)
		if md := s.mb.Emit(); md.ResourceMetrics().Len() > 0 {
			emit(md)
		}
	}
	full := func() bool { return batchResources > 0 && len(s.readings) >= batchResources }
	for i := range tree.Pods {
		s.readPodWithContainers(&tree.Pods[i], now.AsTime(), &errs)
		if full() {
			flush()
		}
	}
	for j := range tree.Standalone {
		s.readContainer(&tree.Standalone[j], &errs)
		if full() {
			flush()
		}
	}
	s.recordReadings(now, socks, &errs) // the last batch's pods and containers before the node
	s.oom.end(s, now)
	s.scrapeNode(now, &errs)
	flush()
	s.resources.endScrape()
	s.warnFileBudget()
	return errs.Combine()
}

// cgroupReading is a pod or container cgroup read, waiting to be recorded.
type cgroupReading struct {
	container *cgroupfs.Container // nil for a pod
	pod       *cgroupfs.Pod       // nil for a container
	names     containerNames      // for a pod, only names.pod
	mem       cgroupfs.Memory
}

// readContainer reads one container cgroup into s.readings, unless the filters leave it out
// or there is nothing to record.
func (s *cgroupScraper) readContainer(c *cgroupfs.Container, errs *scrapererror.ScrapeErrors) {
	names := s.containerNames(*c)
	if !names.included {
		return
	}
	mem, ok := s.readCgroup(c.Path, s.containerReadings, errs)
	s.oom.observe(c, names, mem.OOMKills)
	if ok {
		s.readings = append(s.readings, cgroupReading{container: c, names: names, mem: mem})
	}
}

// readPodWithContainers reads a pod's containers and the pod into s.readings, the pod first
// (readPod), and the pod's reading after its containers'.
func (s *cgroupScraper) readPodWithContainers(pod *cgroupfs.Pod, now time.Time, errs *scrapererror.ScrapeErrors) {
	podRead := s.readPod(pod, now, errs)
	for j := range pod.Containers {
		s.readContainer(&pod.Containers[j], errs)
	}
	s.memory.ClosePressureGate()
	podRead.add(s)
}

// readPod reads one pod cgroup, before its containers, unless the filters leave it out. The
// pressure gates (cgroupfs/psigate.go) go down the tree: the pod's parent's memory.pressure
// opens one for the pod's, and the pod's for its containers' read next, each of which need
// not be read while the total above it stays the same.
func (s *cgroupScraper) readPod(pod *cgroupfs.Pod, now time.Time, errs *scrapererror.ScrapeErrors) podReading {
	info, _ := s.k8s.Pod(pod.UID)
	if !s.k8s.Include(info.Namespace, info.Name, "") {
		return podReading{}
	}
	h := s.catalog.Handle(pod.Path)
	s.gateByParent(pod.Path, now)
	mem, ok := s.readCgroup(pod.Path, s.podReadings, errs)
	s.memory.ClosePressureGate()
	if ok {
		s.memory.GatePressure(h, mem.Pressure, now)
	}
	return podReading{cgroupReading: cgroupReading{pod: pod, names: containerNames{pod: info}, mem: mem}, ok: ok}
}

// podParent is a pod's parent cgroup and its memory.pressure as read this scrape.
type podParent struct {
	h *cgroupfs.Cgroup
	p psi.Pressure
}

// gateByParent opens the pressure gate of the pod at rel's parent, reading the parent's
// memory.pressure once a scrape, when the pods' is read at all. A parent that is the
// hierarchy's root, or whose file cannot be read, opens none: the pod's file is read.
func (s *cgroupScraper) gateByParent(rel string, now time.Time) {
	if s.podReadings&cgroupfs.OptPressure == 0 {
		return
	}
	dir := path.Dir(rel)
	if dir == "/" || dir == "." {
		return
	}
	parent, seen := s.podParents[dir]
	if !seen {
		parent.h = s.catalog.Handle(dir)
		var err error
		if parent.p, err = s.memory.ReadPressure(parent.h); err != nil {
			s.logger.Debug("A pod parent's memory.pressure could not be read: its pods' are read", zap.Error(err))
		}
		s.podParents[dir] = parent
	}
	s.memory.GatePressure(parent.h, parent.p, now)
}

// podReading is a pod cgroup read before its containers, to be added to s.readings after
// them: a v1 pod's OOM kills are its containers' (oomLedger.podKills).
type podReading struct {
	cgroupReading
	ok bool // there is something to record
}

// add adds the pod's reading to s.readings, when there is something to record.
func (r *podReading) add(s *cgroupScraper) {
	if !r.ok {
		return
	}
	r.mem.OOMKills = s.oom.podKills(r.pod.Path, r.mem.OOMKills)
	s.readings = append(s.readings, r.cgroupReading)
}

// recordReadings records every reading in s.readings as a resource, and empties it.
func (s *cgroupScraper) recordReadings(now pcommon.Timestamp, socks map[string]sockets.Usage, errs *scrapererror.ScrapeErrors) {
	for i := range s.readings {
		r := &s.readings[i]
		if r.container != nil {
			s.emitContainer(now, *r.container, r.names, r.mem, socks, errs)
		} else {
			s.emitPod(now, r.pod, r.names.pod, r.mem)
		}
	}
	clear(s.readings) // drops the pointers into this scrape's tree
	s.readings = s.readings[:0]
}

// emitContainer records a container's readings and closes its resource.
func (s *cgroupScraper) emitContainer(now pcommon.Timestamp, c cgroupfs.Container, names containerNames, mem cgroupfs.Memory, socks map[string]sockets.Usage, errs *scrapererror.ScrapeErrors) {
	s.recordContainer(now, mem)
	if s.dentries != nil { // the path is joined only for it: two allocations per container
		if err := s.dentries.record(s.mb, now, filepath.Join(s.hier.Dir, c.Path)); err != nil {
			errs.AddPartial(1, err)
		}
	}
	u, found := socks[c.Path]
	s.recordSockets(now, u, found)
	s.mb.EmitForResource(metadata.WithResource(s.containerResource(c, names)))
}

// emitPod records a pod's readings and closes its resource; info is what the kubelet says of
// the pod (zero when unknown).
func (s *cgroupScraper) emitPod(now pcommon.Timestamp, pod *cgroupfs.Pod, info k8smeta.PodInfo, mem cgroupfs.Memory) {
	s.recordPod(now, mem)
	s.mb.EmitForResource(metadata.WithResource(s.podResource(pod, info)))
}

// trackNodeOOMKills gives the cgroup reader the node's OOM kill count, so that containers'
// oom_kill files are read again only after an OOM kill somewhere on the node.
func (s *cgroupScraper) trackNodeOOMKills() {
	if !s.cfg.Metrics.ContainerMemoryOomKills.Enabled {
		return
	}
	known, err := s.memory.TrackNodeOOMKills(s.procRoot)
	if !known && !s.nodeOOMKillsWarned {
		s.nodeOOMKillsWarned = true
		s.logger.Info("The node's OOM kill count (oom_kill of /proc/vmstat) is not available: every container's OOM kill count is read on every scrape",
			zap.String("proc", s.procRoot), zap.Error(err))
	}
}

// readCgroup reads one cgroup, with the optional readings in opt. ok is false when there is
// nothing to record: the cgroup vanished (quietly skipped) or none of its files could be read.
// A file that could not be read or parsed costs only the readings it holds: the error names
// it, and counts one failed metric per file.
func (s *cgroupScraper) readCgroup(rel string, opt cgroupfs.Optional, errs *scrapererror.ScrapeErrors) (cgroupfs.Memory, bool) {
	mem, err := s.memory.ReadOptional(s.catalog.Handle(rel), opt)
	switch {
	case errors.Is(err, cgroupfs.ErrVanished):
		s.logger.Debug("Cgroup vanished during the scrape", zap.String("cgroup", rel), zap.Error(err))
		s.catalog.Forget(rel)
		return mem, false
	case err != nil:
		errs.AddPartial(failedFiles(err), err)
	}
	return mem, !mem.Empty()
}

// failedFiles is how many files a cgroup read's error reports: it joins one error per file.
func failedFiles(err error) int {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return len(j.Unwrap())
	}
	return 1
}

// warnFileBudget says once that the node has more cgroup files than descriptors to keep open.
func (s *cgroupScraper) warnFileBudget() {
	if s.budgetWarned || !s.files.Exhausted() {
		return
	}
	s.budgetWarned = true
	s.logger.Warn("More cgroup files than max_open_files: the rest are opened, read and closed on each scrape, which costs more CPU. Raise the open-file limit (ulimit -n) or max_open_files.",
		zap.Int("max_open_files", s.files.Limit()))
}
