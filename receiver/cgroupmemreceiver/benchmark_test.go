package cgroupmemreceiver

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver/internal/metadata"
)

// The benchmarks scrape N containers (N/2 burstable pods of two containers each) from two
// trees: fixture-tree, the v1 capture's files copied N times under a temporary directory, and
// live-cgroups, real empty cgroups of this host's v1 memory controller (root only).
// BenchmarkBareFileReads opens, reads and closes the files the receiver reads for each cgroup
// of the same trees; BenchmarkBarePreads re-reads them at offset 0 from descriptors opened
// once, the way the receiver keeps them: the floor under BenchmarkScrape. All report
// ns/container (wall clock) and cpu-ns/container (user and system CPU time of the process, GC
// included), which holds steady on a shared machine where runnable tasks outnumber the cores.

var benchContainerCounts = []int{10, 100}

// v1CgroupFiles are the files the receiver reads for each v1 cgroup, container or pod, at
// steady state on kernels since 5.9: memory.kmem.tcp.usage_in_bytes only once the tcp
// high-water mark is non-zero, and memory.kmem.slabinfo not again once it read empty.
var v1CgroupFiles = []string{
	"memory.stat",
	"memory.usage_in_bytes",
	"memory.limit_in_bytes",
	"memory.kmem.usage_in_bytes",
	"memory.kmem.tcp.max_usage_in_bytes",
	"memory.oom_control",
}

// benchTree is a host root holding a pod tree, and the cgroups a scrape reads in it.
type benchTree struct {
	root       string
	cgroups    []string // every pod and container cgroup, under root
	containers int
}

func BenchmarkScrape(b *testing.B) {
	runOnTrees(b, benchScrape)
}

func BenchmarkBareFileReads(b *testing.B) {
	runOnTrees(b, benchBareReads)
}

func BenchmarkBarePreads(b *testing.B) {
	runOnTrees(b, benchBarePreads)
}

func runOnTrees(b *testing.B, bench func(*testing.B, benchTree)) {
	for _, n := range benchContainerCounts {
		b.Run(fmt.Sprintf("containers=%d", n), func(b *testing.B) {
			b.Run("fixture-tree", func(b *testing.B) { bench(b, fixtureBenchTree(b, n)) })
			b.Run("live-cgroups", func(b *testing.B) { bench(b, liveBenchTree(b, n)) })
		})
	}
}

func benchScrape(b *testing.B, bt benchTree) {
	cfg := createDefaultConfig().(*Config)
	cfg.RootPath = bt.root
	// The node-wide metrics read /proc once per scrape, not per container.
	cfg.Metrics.SystemLinuxDentryCount.Enabled = false
	cfg.Metrics.SystemMemoryLinuxSlabDentry.Enabled = false
	s := newCgroupScraper(cfg, receivertest.NewNopSettings(metadata.Type))
	ctx := context.Background()
	require.NoError(b, s.start(ctx, componenttest.NewNopHost()))
	b.Cleanup(func() { require.NoError(b, s.shutdown(ctx)) })
	md, err := s.scrape(ctx)
	require.NoError(b, err)
	require.Equal(b, len(bt.cgroups), md.ResourceMetrics().Len(), "one resource per pod and container")

	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		if _, err := s.scrape(ctx); err != nil {
			b.Fatal(err)
		}
	}
	reportPerContainer(b, bt.containers, cpuTime()-cpu)
}

func benchBareReads(b *testing.B, bt benchTree) {
	var paths []string
	for _, cg := range bt.cgroups {
		for _, f := range v1CgroupFiles {
			paths = append(paths, filepath.Join(cg, f))
		}
	}
	buf := make([]byte, 8192)
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		for _, p := range paths {
			if err := openReadClose(p, buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportPerContainer(b, bt.containers, cpuTime()-cpu)
}

func benchBarePreads(b *testing.B, bt benchTree) {
	var fds []int
	b.Cleanup(func() {
		for _, fd := range fds {
			_ = syscall.Close(fd)
		}
	})
	for _, cg := range bt.cgroups {
		for _, f := range v1CgroupFiles {
			fd, err := syscall.Open(filepath.Join(cg, f), syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
			require.NoError(b, err)
			fds = append(fds, fd)
		}
	}
	buf := make([]byte, 8192)
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		for _, fd := range fds {
			if _, err := syscall.Pread(fd, buf, 0); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportPerContainer(b, bt.containers, cpuTime()-cpu)
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

func reportPerContainer(b *testing.B, containers int, cpu time.Duration) {
	per := float64(b.N) * float64(containers)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/container")
	b.ReportMetric(float64(cpu.Nanoseconds())/per, "cpu-ns/container")
}

// cpuTime is the user and system CPU time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fixtureBenchTree copies the v1 capture's burstable pod, with its two containers, n/2 times
// under a temporary host root.
func fixtureBenchTree(b *testing.B, n int) benchTree {
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

// liveBenchTree makes n/2 burstable pods of two empty containers each on the host.
func liveBenchTree(b *testing.B, n int) benchTree {
	tree := testcgroup.New(b)
	bt := benchTree{root: tree.Root(), containers: n}
	hier := filepath.Join(tree.Root(), "sys", "fs", "cgroup", "memory")
	for range n / 2 {
		uid := testcgroup.NewPodUID()
		for i := range 2 {
			dir := tree.AddContainer(testcgroup.QoSBurstable, uid, testcgroup.NewContainerID())
			if i == 0 {
				bt.cgroups = append(bt.cgroups, filepath.Join(hier, tree.Rel(filepath.Dir(dir))))
			}
			bt.cgroups = append(bt.cgroups, filepath.Join(hier, tree.Rel(dir)))
		}
	}
	return bt
}

// copyFiles copies the regular files of one directory (not its subdirectories) into dst.
func copyFiles(b *testing.B, src, dst string) {
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
