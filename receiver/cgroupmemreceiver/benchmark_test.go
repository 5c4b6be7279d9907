package cgroupmemreceiver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/scraper/scrapererror"

	"github.com/cgroupmem/cgroupmem/internal/cgroupfs"
	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

// The benchmarks scrape N containers (N/2 burstable pods of two containers each, laid out
// kubepods/burstable/pod<uid>/<id>) from two trees: fixture-tree, the v1 capture's files
// copied N/2 times under a temporary directory (10 and 100 containers, no privilege needed),
// and live-cgroups, real cgroups of this host's v1 memory controller with one sleeping process
// in each container (100 and 1,000 containers; root only, and 1,000 not with -short).
//
// BenchmarkScrape runs the receiver's scrape as the receiver does (in batches of
// batchResources resources, handed to a consumer that drops them) twice over: metrics=container+pod has the
// container.* and k8s.pod.* metrics at their defaults with the node-wide metrics and the
// socket receive-queue metrics off; metrics=default is the receiver's default configuration
// (node dentry metrics and socket receive queues on), on live-cgroups only: a fixture tree has
// no /proc to read them from. BenchmarkRead and BenchmarkBuild split the container and pod
// scrape into its reads and its metric building, and BenchmarkLeastPdata is the least that
// building its output can cost. BenchmarkBareFileReads and
// BenchmarkBarePreads are the two floors under the scrape: they read the four files of floorFiles for
// every pod and container cgroup of the same tree, the first opening, reading and closing
// each file, the second re-reading descriptors opened once with pread at offset 0, the way
// the receiver keeps them.
//
// Every benchmark reports, per container and scrape: ns/container (wall clock),
// cpu-ns/container (user and system CPU time of the whole process from getrusage, GC and
// every thread included, which holds steady on a shared machine where runnable tasks outnumber
// the cores), and allocs/container and B/container. make bench turns them into the README's
// performance table.

// fixtureContainerCounts and liveContainerCounts are the tree sizes benchmarked.
var (
	fixtureContainerCounts = []int{10, 100}
	liveContainerCounts    = []int{100, 1000}
)

// floorFiles are the files of the floors: the four a container's memory usage,
// working set, limit, RSS, cache and kernel memory come from.
var floorFiles = []string{
	"memory.stat",
	"memory.usage_in_bytes",
	"memory.limit_in_bytes",
	"memory.kmem.usage_in_bytes",
}

// benchTree is a host root holding a pod tree, and the cgroups a scrape reads in it.
type benchTree struct {
	root       string
	cgroups    []string // every pod and container cgroup, under root
	containers int
	live       bool  // real cgroups and processes: the root's proc is the host's
	netnsPIDs  []int // socketBenchTree's: a process of each pod's network namespace
}

// BenchmarkScrape's live trees are socketBenchTree's: each pod in a network namespace of its
// own, a few sockets in each container, half of them with unread data, so that the default
// config reads one namespace per pod. metrics=default attributes the sockets by their cgroup
// id (testcgroup mirrors the tree into the unified hierarchy, as runc does on this hybrid
// host); metrics=default_fd_walk and metrics=default_sockopt are the same with
// sockets.attribution fd_walk and sockopt; metrics=default_refresh_every_scrape is the
// default with sockets.refresh_interval 0 (every namespace dumped every scrape). The bench's
// sockets are never created or closed, so in metrics=default every namespace's read is put
// off once its period ends (its socket counts stay those of its first read);
// metrics=default_sockets_changing is the default without that, as on a node where every
// pod's sockets come and go: each namespace dumped once per refresh interval.
// The floor= rows are floors under metrics=default: floor=socket_lookups its socket part, the
// lookups of the same sockets alone, with nothing of the receiver around them
// (benchBareLookups); floor=least_pdata_default BenchmarkLeastPdata of its output;
// floor=least_export_default the least an OTLP exporter does with that output
// (benchLeastExport).
//
// Nothing in the bench's containers stalls on memory, so their pods' PSI totals stay the same
// and in every row but one each container's memory.pressure is read once, then kept
// (cgroupfs/psigate.go); metrics=container+pod_pressure_changing is metrics=container+pod with
// the gate off, as on a node where every pod stalls all the time: every memory.pressure read
// on every scrape. metrics=container+pod_without_pressure has the pressure signals off.
func BenchmarkScrape(b *testing.B) {
	runOnTreesBuiltBy(b, socketBenchTree, func(b *testing.B, bt benchTree) {
		b.Run("metrics=container+pod", func(b *testing.B) { benchScrape(b, bt, containerPodConfig(bt.root)) })
		b.Run("metrics=container+pod_without_pressure", func(b *testing.B) {
			benchScrape(b, bt, withoutPressure(containerPodConfig(bt.root)))
		})
		b.Run("metrics=container+pod_pressure_changing", func(b *testing.B) {
			benchScrapeWith(b, bt, containerPodConfig(bt.root), func(s *cgroupScraper) { s.memory.SetPressureGate(false) })
		})
		if bt.live {
			b.Run("metrics=default", func(b *testing.B) { benchScrape(b, bt, defaultConfig(bt.root)) })
			b.Run("metrics=default_sockets_changing", func(b *testing.B) {
				benchScrapeWith(b, bt, defaultConfig(bt.root), func(s *cgroupScraper) { s.sockets.SetPutOff(false) })
			})
			b.Run("metrics=default_refresh_1m", func(b *testing.B) {
				cfg := defaultConfig(bt.root)
				cfg.Sockets.RefreshInterval = time.Minute
				benchScrape(b, bt, cfg)
			})
			b.Run("metrics=default_refresh_every_scrape", func(b *testing.B) {
				cfg := defaultConfig(bt.root)
				cfg.Sockets.RefreshInterval = 0
				benchScrape(b, bt, cfg)
			})
			for _, a := range []string{socketAttributionFDWalk, socketAttributionSockopt} {
				b.Run("metrics=default_"+a, func(b *testing.B) {
					cfg := defaultConfig(bt.root)
					cfg.Sockets.Attribution = a
					benchScrape(b, bt, cfg)
				})
			}
			b.Run("floor=socket_lookups", func(b *testing.B) { benchBareLookups(b, bt) })
			b.Run("floor=least_pdata_default", func(b *testing.B) { benchLeastPdataOf(b, bt, defaultConfig(bt.root)) })
			b.Run("floor=least_export_default", func(b *testing.B) { benchLeastExport(b, bt, defaultConfig(bt.root)) })
		}
	})
}

// BenchmarkRead is the scrape without building metrics: discovery (cached), the node's OOM
// kill count, and the cgroup reader over every pod and container, with the files the default
// container and pod metrics need. It splits the scrape's cost between reading the kernel
// files and building pdata.
func BenchmarkRead(b *testing.B) {
	runOnTrees(b, benchRead)
}

// BenchmarkBuild is the other share of the scrape: the same container and pod metrics built
// into pdata, in the receiver's batches, from readings taken once before the loop, with no
// file read in it.
func BenchmarkBuild(b *testing.B) {
	runOnTrees(b, benchBuild)
}

// BenchmarkLeastPdata is a floor for BenchmarkBuild: the container and pod scrape's own
// output (its batches, resources, metrics and data points, taken from one real scrape) built
// again with nothing but pmetric calls: each resource copied from a finished one, as the
// receiver's resource cache does, and each metric and data point set from a flat list of
// what the scrape produced. No reading is converted, no metric is looked up or checked for
// being enabled: what is left is what handing these data points down a collector pipeline
// as pdata costs at the least.
func BenchmarkLeastPdata(b *testing.B) {
	runOnTrees(b, benchLeastPdata)
}

func BenchmarkBareFileReads(b *testing.B) {
	runOnTrees(b, benchBareReads)
}

func BenchmarkBarePreads(b *testing.B) {
	runOnTrees(b, benchBarePreads)
}

func runOnTrees(b *testing.B, bench func(*testing.B, benchTree)) {
	runOnTreesBuiltBy(b, liveBenchTree, bench)
}

// runOnTreesBuiltBy is runOnTrees with the live trees built by live.
func runOnTreesBuiltBy(b *testing.B, live func(*testing.B, int) benchTree, bench func(*testing.B, benchTree)) {
	for _, n := range fixtureContainerCounts {
		b.Run(fmt.Sprintf("containers=%d/fixture-tree", n), func(b *testing.B) { bench(b, fixtureBenchTree(b, n)) })
	}
	for _, n := range liveContainerCounts {
		b.Run(fmt.Sprintf("containers=%d/live-cgroups", n), func(b *testing.B) {
			if n > 100 && testing.Short() {
				b.Skipf("%d live containers: not with -short", n)
			}
			bench(b, live(b, n))
		})
	}
}

// defaultConfig is the receiver's default configuration on root.
func defaultConfig(root string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.RootPath = root
	return cfg
}

// containerPodConfig keeps the container and pod metrics at their defaults and turns off the
// node-wide ones (read from /proc once per scrape) and the socket receive queues (read from
// /proc/<pid>/fd and sock_diag; internal/sockets measures them).
func containerPodConfig(root string) *Config {
	cfg := defaultConfig(root)
	m := &cfg.Metrics
	m.SystemLinuxDentryCount.Enabled = false
	m.SystemMemoryLinuxSlabDentry.Enabled = false
	m.SystemMemoryPressureStallTime.Enabled = false
	m.ContainerMemorySockRcvq.Enabled = false
	m.ContainerMemorySockRcvqPayload.Enabled = false
	m.ContainerMemorySockRcvqSockets.Enabled = false
	return cfg
}

// withoutPressure turns off the pressure signals (issue 14: PSI, memory events, under_oom,
// refaults, peak, available, reclaim, the pod's OOM kills), so that the container and pod
// scrape is benchmarked as it was before them, beside itself with them at their defaults.
func withoutPressure(cfg *Config) *Config {
	m := &cfg.Metrics
	for _, e := range []*bool{
		&m.ContainerMemoryPressureStallTime.Enabled, &m.ContainerMemoryPressureStallShare.Enabled,
		&m.ContainerMemoryEvents.Enabled, &m.ContainerMemoryUnderOom.Enabled,
		&m.ContainerMemoryRefaults.Enabled, &m.ContainerMemoryRefaultActivations.Enabled,
		&m.ContainerMemoryReclaimScanned.Enabled, &m.ContainerMemoryReclaimReclaimed.Enabled,
		&m.ContainerMemoryPeak.Enabled, &m.ContainerMemoryAvailable.Enabled,
		&m.K8sPodMemoryPressureStallTime.Enabled, &m.K8sPodMemoryPressureStallShare.Enabled,
		&m.K8sPodMemoryEvents.Enabled, &m.K8sPodMemoryUnderOom.Enabled,
		&m.K8sPodMemoryRefaults.Enabled, &m.K8sPodMemoryRefaultActivations.Enabled,
		&m.K8sPodMemoryReclaimScanned.Enabled, &m.K8sPodMemoryReclaimReclaimed.Enabled,
		&m.K8sPodMemoryPeak.Enabled, &m.K8sPodMemoryAvailable.Enabled, &m.K8sPodMemoryOomKills.Enabled,
		&m.SystemMemoryPressureStallTime.Enabled,
	} {
		*e = false
	}
	return cfg
}

func benchScrape(b *testing.B, bt benchTree, cfg *Config) { benchScrapeWith(b, bt, cfg, nil) }

// benchScrapeWith is benchScrape with setup applied to the scraper once started.
func benchScrapeWith(b *testing.B, bt benchTree, cfg *Config, setup func(*cgroupScraper)) {
	s := startScraper(b, cfg)
	if setup != nil {
		setup(s)
	}
	ctx := context.Background()
	if s.sockets != nil {
		// Each scrape is one collection_interval after the last in the socket refresh
		// schedule's time, as in the deployed receiver: with the default refresh_interval
		// (10m) and collection_interval (10s), each timed scrape reaches the end of the
		// period of about one namespace in 60 (the untimed first scrape reads them all, seen
		// for the first time).
		clock := time.Unix(1_700_000_000, 0)
		s.sockets.SetClock(func() time.Time {
			clock = clock.Add(cfg.CollectionInterval)
			return clock
		})
	}
	md, err := s.scrape(ctx)
	require.NoError(b, err)
	require.GreaterOrEqual(b, md.ResourceMetrics().Len(), len(bt.cgroups), "one resource per pod and container")
	if s.sockets != nil {
		requireSocketPoints(b, md, bt.containers)
	}

	discard := func(pmetric.Metrics) {}
	m := startMeasure(b)
	for b.Loop() {
		if err := s.scrapeInBatches(ctx, batchResources, discard); err != nil {
			b.Fatal(err)
		}
	}
	m.report(b, bt.containers)
}

func benchRead(b *testing.B, bt benchTree) {
	s := startScraper(b, containerPodConfig(bt.root))
	var errs scrapererror.ScrapeErrors
	// read is the scrape's read phase, its readings dropped where the scrape records them.
	read := func() int {
		tree, err := s.catalog.Refresh(time.Now())
		if err != nil {
			b.Fatal(err)
		}
		s.trackNodeOOMKills()
		n := 0
		readInBatches(s, tree, &errs, func(batch []cgroupReading) { n += len(batch) })
		return n
	}
	require.Equal(b, len(bt.cgroups), read(), "every pod and container cgroup is read")
	m := startMeasure(b)
	for b.Loop() {
		read()
	}
	m.report(b, bt.containers)
	require.NoError(b, errs.Combine())
}

func benchBuild(b *testing.B, bt benchTree) {
	s := startScraper(b, containerPodConfig(bt.root))
	var errs scrapererror.ScrapeErrors
	tree, err := s.catalog.Refresh(time.Now())
	require.NoError(b, err)
	var batches [][]cgroupReading
	read := 0
	readInBatches(s, tree, &errs, func(batch []cgroupReading) {
		batches = append(batches, slices.Clone(batch))
		read += len(batch)
	})
	require.NoError(b, errs.Combine())
	require.Equal(b, len(bt.cgroups), read, "every pod and container cgroup is read")

	m := startMeasure(b)
	for b.Loop() {
		now := pcommon.NewTimestampFromTime(time.Now())
		for _, batch := range batches {
			s.readings = append(s.readings[:0], batch...) // recordReadings empties it
			s.recordReadings(now, nil, &errs)
			s.mb.Emit()
		}
		s.resources.endScrape()
	}
	m.report(b, bt.containers)
}

// readInBatches reads the pods and containers of tree as scrapeInBatches does, calling batch
// with the readings of each batch where the scrape would record them, and drops them.
func readInBatches(s *cgroupScraper, tree cgroupfs.Tree, errs *scrapererror.ScrapeErrors, batch func([]cgroupReading)) {
	for i := range tree.Pods {
		s.readPodWithContainers(&tree.Pods[i], time.Now(), errs)
		if len(s.readings) >= batchResources || i == len(tree.Pods)-1 {
			batch(s.readings)
			s.readings = s.readings[:0]
		}
	}
}

func benchLeastPdata(b *testing.B, bt benchTree) {
	benchLeastPdataOf(b, bt, containerPodConfig(bt.root))
}

// benchLeastPdataOf is benchLeastPdata of a scrape with cfg.
func benchLeastPdataOf(b *testing.B, bt benchTree, cfg *Config) {
	shapes := scrapeShapes(b, bt, cfg)
	m := startMeasure(b)
	for b.Loop() {
		now := pcommon.NewTimestampFromTime(time.Now())
		for i := range shapes {
			shapes[i].build(now)
		}
	}
	m.report(b, bt.containers)
}

// scrapeShapes runs one scrape of bt with cfg and keeps the shape of each of its batches,
// after checking that the shape builds that batch again.
func scrapeShapes(tb testing.TB, bt benchTree, cfg *Config) []pdataShape {
	batches := scrapeBatches(tb, bt, cfg)
	shapes := make([]pdataShape, len(batches))
	for i, md := range batches {
		shapes[i] = shapeOf(md)
		built := shapes[i].build(pcommon.NewTimestampFromTime(time.Now()))
		require.NoError(tb, pmetrictest.CompareMetrics(md, built,
			pmetrictest.IgnoreTimestamp(), pmetrictest.IgnoreStartTimestamp()), "batch %d is built again as the scrape made it", i)
	}
	return shapes
}

// scrapeBatches runs one scrape of bt with cfg and returns its batches, after checking that
// they hold a resource per pod and container (and the node's, where cfg has node metrics).
func scrapeBatches(tb testing.TB, bt benchTree, cfg *Config) []pmetric.Metrics {
	s := startScraper(tb, cfg)
	var batches []pmetric.Metrics
	require.NoError(tb, s.scrapeInBatches(context.Background(), batchResources, func(md pmetric.Metrics) { batches = append(batches, md) }))
	resources := 0
	for _, md := range batches {
		resources += md.ResourceMetrics().Len()
	}
	want := len(bt.cgroups)
	if cfg.Metrics.SystemLinuxDentryCount.Enabled || cfg.Metrics.SystemMemoryLinuxSlabDentry.Enabled || cfg.Metrics.SystemMemoryPressureStallTime.Enabled {
		want++
	}
	require.Equal(tb, want, resources, "one resource per pod and container, and the node's where its metrics are on")
	return batches
}

// TestLeastPdataBuildsTheScrapeAgain checks BenchmarkLeastPdata's premise on a fixture tree:
// the shapes it keeps build the scrape's batches again, data point for data point.
func TestLeastPdataBuildsTheScrapeAgain(t *testing.T) {
	bt := fixtureBenchTree(t, 2*batchResources)
	shapes := scrapeShapes(t, bt, containerPodConfig(bt.root))
	require.Greater(t, len(shapes), 1, "more than one batch")
	points := 0
	for _, ps := range shapes {
		md := ps.build(pcommon.NewTimestampFromTime(time.Now()))
		points += md.DataPointCount()
	}
	require.Greater(t, points, 2*batchResources*5, "a few data points per container at least")
}

// pdataShape is one batch of a scrape's output, kept so that the same pmetric.Metrics can be
// built again with the fewest pmetric calls.
type pdataShape struct {
	resources []resourceShape
}

type resourceShape struct {
	resource            pcommon.Resource
	scopeName, scopeVer string
	metrics             []metricShape
}

type metricShape struct {
	name, unit, description string
	sum                     bool // a sum (else a gauge)
	monotonic               bool
	temporality             pmetric.AggregationTemporality
	points                  []pointShape
}

type pointShape struct {
	attributes pcommon.Map // empty for most
	start      pcommon.Timestamp
	value      int64
	double     float64
	isDouble   bool
}

// shapeOf keeps what md is made of; it takes int and double gauges and sums, the only kinds
// the receiver emits.
func shapeOf(md pmetric.Metrics) pdataShape {
	var ps pdataShape
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			rs := resourceShape{resource: rm.Resource(), scopeName: sm.Scope().Name(), scopeVer: sm.Scope().Version()}
			for _, m := range sm.Metrics().All() {
				ms := metricShape{name: m.Name(), unit: m.Unit(), description: m.Description()}
				var dps pmetric.NumberDataPointSlice
				if m.Type() == pmetric.MetricTypeSum {
					ms.sum, ms.monotonic, ms.temporality = true, m.Sum().IsMonotonic(), m.Sum().AggregationTemporality()
					dps = m.Sum().DataPoints()
				} else {
					dps = m.Gauge().DataPoints()
				}
				for _, dp := range dps.All() {
					ms.points = append(ms.points, pointShape{attributes: dp.Attributes(), start: dp.StartTimestamp(), value: dp.IntValue(),
						double: dp.DoubleValue(), isDouble: dp.ValueType() == pmetric.NumberDataPointValueTypeDouble})
				}
				rs.metrics = append(rs.metrics, ms)
			}
			ps.resources = append(ps.resources, rs)
		}
	}
	return ps
}

// build makes the batch again, stamped now.
func (ps pdataShape) build(now pcommon.Timestamp) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rms := md.ResourceMetrics()
	rms.EnsureCapacity(len(ps.resources))
	for i := range ps.resources {
		rs := &ps.resources[i]
		rm := rms.AppendEmpty()
		rs.resource.CopyTo(rm.Resource())
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName(rs.scopeName)
		sm.Scope().SetVersion(rs.scopeVer)
		ms := sm.Metrics()
		ms.EnsureCapacity(len(rs.metrics))
		for j := range rs.metrics {
			mshape := &rs.metrics[j]
			m := ms.AppendEmpty()
			m.SetName(mshape.name)
			m.SetUnit(mshape.unit)
			m.SetDescription(mshape.description)
			var dps pmetric.NumberDataPointSlice
			if mshape.sum {
				sum := m.SetEmptySum()
				sum.SetIsMonotonic(mshape.monotonic)
				sum.SetAggregationTemporality(mshape.temporality)
				dps = sum.DataPoints()
			} else {
				dps = m.SetEmptyGauge().DataPoints()
			}
			dps.EnsureCapacity(len(mshape.points))
			for k := range mshape.points {
				p := &mshape.points[k]
				dp := dps.AppendEmpty()
				dp.SetStartTimestamp(p.start)
				dp.SetTimestamp(now)
				if p.isDouble {
					dp.SetDoubleValue(p.double)
				} else {
					dp.SetIntValue(p.value)
				}
				if p.attributes.Len() > 0 {
					p.attributes.CopyTo(dp.Attributes())
				}
			}
		}
	}
	return md
}

func benchBareReads(b *testing.B, bt benchTree) {
	paths := floorPaths(bt)
	buf := make([]byte, 8192)
	m := startMeasure(b)
	for b.Loop() {
		for _, p := range paths {
			if err := openReadClose(p, buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	m.report(b, bt.containers)
}

func benchBarePreads(b *testing.B, bt benchTree) {
	var fds []int
	b.Cleanup(func() {
		for _, fd := range fds {
			_ = syscall.Close(fd)
		}
	})
	for _, p := range floorPaths(bt) {
		fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		require.NoError(b, err)
		fds = append(fds, fd)
	}
	buf := make([]byte, 8192)
	m := startMeasure(b)
	for b.Loop() {
		for _, fd := range fds {
			if _, err := syscall.Pread(fd, buf, 0); err != nil {
				b.Fatal(err)
			}
		}
	}
	m.report(b, bt.containers)
}

// floorPaths are the floor files of every cgroup of the tree.
func floorPaths(bt benchTree) []string {
	var paths []string
	for _, cg := range bt.cgroups {
		for _, f := range floorFiles {
			paths = append(paths, filepath.Join(cg, f))
		}
	}
	return paths
}

// openReadClose reads a whole file into buf (the files are smaller) and discards it.
func openReadClose(path string, buf []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		if _, err := f.Read(buf); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// measure holds the process's CPU time and allocations when the timed loop started.
type measure struct {
	cpu            time.Duration
	mallocs, bytes uint64
}

func startMeasure(b *testing.B) measure {
	b.ReportAllocs()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return measure{cpu: testcgroup.CPUTime(), mallocs: ms.Mallocs, bytes: ms.TotalAlloc}
}

// report divides what the loop cost by b.N scrapes of containers containers.
func (m measure) report(b *testing.B, containers int) {
	cpu := testcgroup.CPUTime() - m.cpu
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	per := float64(b.N) * float64(containers)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/container")
	b.ReportMetric(float64(cpu.Nanoseconds())/per, "cpu-ns/container")
	b.ReportMetric(float64(ms.Mallocs-m.mallocs)/per, "allocs/container")
	b.ReportMetric(float64(ms.TotalAlloc-m.bytes)/per, "B/container")
}

// fixtureBenchTree copies the v1 capture's burstable pod, with its two containers, n/2 times
// under a temporary host root.
func fixtureBenchTree(b testing.TB, n int) benchTree {
	src := filepath.Join(fixtureRoot("v1-hybrid-kernel-6.18"), "sys", "fs", "cgroup", "memory")
	srcPod := filepath.Join(src, "kubepods", "burstable", "pod3f0a9d1e-7c55-4b8e-9a31-2d4be2f1c0aa")
	srcContainers := []string{
		filepath.Join(srcPod, "aaaaaaaa11111111111111111111111111111111111111111111111111111111"),
		filepath.Join(srcPod, "bbbbbbbb22222222222222222222222222222222222222222222222222222222"),
	}
	root := b.TempDir()
	hier := filepath.Join(root, "sys", "fs", "cgroup", "memory")
	require.NoError(b, os.MkdirAll(filepath.Join(root, "sys", "fs", "cgroup", "unified"), 0o755))
	copyFiles(b, src, hier)
	bt := benchTree{root: root, containers: n}
	for range n / 2 {
		pod := filepath.Join(hier, "kubepods", "burstable", "pod"+testcgroup.NewPodUID())
		copyFiles(b, srcPod, pod)
		bt.cgroups = append(bt.cgroups, pod)
		for _, c := range srcContainers {
			dst := filepath.Join(pod, testcgroup.NewContainerID())
			copyFiles(b, c, dst)
			bt.cgroups = append(bt.cgroups, dst)
		}
	}
	return bt
}

// liveBenchTree makes n/2 burstable pods of two containers each on the host, with a sleeping
// process in each container. It skips unless cgroups can be created (root, v1 memory
// controller); the tree's cleanup stops the processes and removes the cgroups.
func liveBenchTree(b *testing.B, n int) benchTree {
	tree := testcgroup.New(b)
	bt := benchTree{root: tree.Root(), containers: n, live: true}
	hier := filepath.Join(tree.Root(), "sys", "fs", "cgroup", "memory")
	for range n / 2 {
		uid := testcgroup.NewPodUID()
		for i := range 2 {
			dir := tree.AddContainer(testcgroup.QoSBurstable, uid, testcgroup.NewContainerID())
			tree.Start(b, dir, exec.Command("sleep", "infinity"))
			if i == 0 {
				bt.cgroups = append(bt.cgroups, filepath.Join(hier, tree.Rel(filepath.Dir(dir))))
			}
			bt.cgroups = append(bt.cgroups, filepath.Join(hier, tree.Rel(dir)))
		}
	}
	return bt
}

// copyFiles copies the regular files of one directory (not its subdirectories) into dst.
func copyFiles(b testing.TB, src, dst string) {
	require.NoError(b, os.MkdirAll(dst, 0o755))
	entries, err := os.ReadDir(src)
	require.NoError(b, err)
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(b, err)
		require.NoError(b, os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644))
	}
}

// benchLeastExport is the least an OTLP/gRPC exporter with the DaemonSet's compression
// (snappy) does with a scrape's batches: each marshalled into an export request's protobuf,
// as gRPC's codec does, and compressed with snappy's framed writer, as the snappy codec
// does. No connection, HTTP/2 framing, queue or retry is in it.
func benchLeastExport(b *testing.B, bt benchTree, cfg *Config) {
	batches := scrapeBatches(b, bt, cfg)
	var out bytes.Buffer
	w := snappy.NewBufferedWriter(&out)
	export := func() {
		for _, md := range batches {
			buf, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
			if err != nil {
				b.Fatal(err)
			}
			out.Reset()
			w.Reset(&out)
			if _, err := w.Write(buf); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
	export()
	got, err := io.ReadAll(snappy.NewReader(bytes.NewReader(out.Bytes())))
	require.NoError(b, err)
	req := pmetricotlp.NewExportRequest()
	require.NoError(b, req.UnmarshalProto(got))
	require.NoError(b, pmetrictest.CompareMetrics(batches[len(batches)-1], req.Metrics()), "the last batch comes back from its compressed export request")
	m := startMeasure(b)
	for b.Loop() {
		export()
	}
	m.report(b, bt.containers)
}
