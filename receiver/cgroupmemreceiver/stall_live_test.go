package cgroupmemreceiver

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

const tmpfsMagic = 0x01021994

// kernelPSI reads the total= fields of a memory.pressure, in µs, parsed here with no code
// shared with the receiver.
func kernelPSI(t *testing.T, path string) map[string]uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	out := map[string]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		require.Len(t, f, 5, line)
		v, err := strconv.ParseUint(strings.TrimPrefix(f[4], "total="), 10, 64)
		require.NoError(t, err, line)
		out[f[0]] = v
	}
	return out
}

// startThrashing gives the container cgroup dir a 32 MiB memory limit and starts in it a
// process that keeps reading a 96 MiB file: reclaim evicts the file's pages, reading them
// again refaults them, and the process stalls on memory. It skips the test where the scratch
// directory is tmpfs, whose pages are not reclaimed without swap.
func startThrashing(t *testing.T, tree *testcgroup.Tree, dir string) {
	t.Helper()
	tree.SetMemoryLimit(dir, 32*mib)
	scratch := t.TempDir()
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(scratch, &st))
	if st.Type == tmpfsMagic {
		t.Skipf("%s is tmpfs: its pages are not reclaimed without swap", scratch)
	}
	file := filepath.Join(scratch, "thrash")
	tree.Start(t, dir, exec.Command("sh", "-c", "head -c 100663296 /dev/zero > "+file+"; while :; do cat "+file+" > /dev/null; done"))
}

// scrapedPSI is the some and full stall time, in µs, of the prefix.memory.pressure.stall_time
// data points among the values (points) of resource what, which must be there.
func scrapedPSI(t *testing.T, what, prefix string, values map[string]string) (some, full uint64) {
	t.Helper()
	for typ, dst := range map[string]*uint64{"some": &some, "full": &full} {
		f, err := strconv.ParseFloat(values[prefix+".memory.pressure.stall_time "+typ], 64)
		require.NoError(t, err, "%s: %s.memory.pressure.stall_time %s emitted", what, prefix, typ)
		*dst = uint64(math.Round(f * 1e6))
	}
	return some, full
}

// stallReading is what the kernel says of a stalling cgroup, or what a scrape said of it.
type stallReading struct {
	refaultFile uint64
	some, full  uint64 // µs
}

// TestLiveStallRaisesRefaultsAndPSI runs a process that keeps reading a 96 MiB file through
// a 32 MiB memory limit: reclaim evicts the file's pages, reading them again refaults them,
// and the process stalls on memory. The container's and the pod's refaults (v1
// total_workingset_refault_file) and PSI (memory.pressure of the unified twin, the host being
// hybrid) must rise from scrape to scrape (the pod's refaults, which the kernel flushes up
// the hierarchy lazily, at least never fall) and lie between the kernel's files read just
// before and just after each scrape.
func TestLiveStallRaisesRefaultsAndPSI(t *testing.T) {
	tree := testcgroup.New(t)
	uid, id := testcgroup.NewPodUID(), testcgroup.NewContainerID()
	dir := tree.AddContainer(testcgroup.QoSBurstable, uid, id)
	podDir := filepath.Dir(dir)
	startThrashing(t, tree, dir)
	hasPSI := false // PSI of the unified twin: a hybrid host whose kernel accounts it (not psi=0)
	if u := tree.Unified(dir); u != "" {
		_, err := os.Stat(filepath.Join(u, "memory.pressure"))
		hasPSI = err == nil
	}

	kernel := func(d string) stallReading {
		t.Helper()
		r := stallReading{refaultFile: testcgroup.ReadKernel(t, d).Stat["total_workingset_refault_file"]}
		if hasPSI {
			p := kernelPSI(t, filepath.Join(tree.Unified(d), "memory.pressure"))
			r.some, r.full = p["some"], p["full"]
		}
		return r
	}
	require.Eventually(t, func() bool {
		k := kernel(dir)
		return k.refaultFile > 0 && (!hasPSI || k.some > 0)
	}, 60*time.Second, 50*time.Millisecond, "the cgroup thrashes")

	s := startLiveScraper(t, tree)
	scraped := func(prefix string, values map[string]string) stallReading {
		t.Helper()
		var r stallReading
		v, err := strconv.ParseUint(values[prefix+".memory.refaults file"], 10, 64)
		require.NoError(t, err, "%s.memory.refaults file emitted", prefix)
		r.refaultFile = v
		if hasPSI {
			r.some, r.full = scrapedPSI(t, prefix, prefix, values)
		}
		return r
	}
	between := func(name string, got, before, after stallReading) {
		t.Helper()
		requireBetween(t, name+" refaults", int64(got.refaultFile), before.refaultFile, after.refaultFile)
		requireBetween(t, name+" PSI some µs", int64(got.some), before.some, after.some)
		requireBetween(t, name+" PSI full µs", int64(got.full), before.full, after.full)
	}
	var last [2]stallReading
	for i := range 3 {
		if i > 0 {
			time.Sleep(300 * time.Millisecond)
		}
		before := [2]stallReading{kernel(dir), kernel(podDir)}
		md, err := s.scrape(context.Background())
		require.NoError(t, err)
		after := [2]stallReading{kernel(dir), kernel(podDir)}
		got := [2]stallReading{
			scraped("container", points(containerMetrics(md, id))),
			scraped("k8s.pod", points(podMetrics(md, uid))),
		}
		t.Logf("scrape %d: container %+v, pod %+v (kernel before %+v, after %+v)", i, got[0], got[1], before[0], after[0])
		between("container", got[0], before[0], after[0])
		between("pod", got[1], before[1], after[1])
		if i > 0 {
			// The pod's hierarchical total_* of memory.stat lags its container's until the
			// kernel flushes its per-cpu counters (every 2 s, or after enough updates): it
			// never falls, and the scrape must say what the pod's own file says.
			require.Greater(t, got[0].refaultFile, last[0].refaultFile, "container refaults rise")
			require.GreaterOrEqual(t, got[1].refaultFile, last[1].refaultFile, "pod refaults never fall")
			for j, name := range []string{"container", "pod"} {
				if hasPSI {
					require.Greater(t, got[j].some, last[j].some, "%s PSI some rises", name)
				}
			}
		}
		last = got
	}
	if !hasPSI {
		t.Log("no PSI in a unified mount on this host: refaults checked, PSI not")
	}
}

// podMetrics returns the metrics of one pod's resource.
func podMetrics(md pmetric.Metrics, uid string) pmetric.MetricSlice {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		attrs := rms.At(i).Resource().Attributes()
		_, isContainer := attrs.Get("container.id")
		if v, ok := attrs.Get("k8s.pod.uid"); ok && !isContainer && v.Str() == uid {
			return rms.At(i).ScopeMetrics().At(0).Metrics()
		}
	}
	return pmetric.NewMetricSlice()
}

// TestLivePressureGate runs two pods: a burstable one with a container thrashing through a
// 32 MiB limit beside a sleeping one, and a best-effort one with a sleeping container. Over
// scrapes 300 ms apart, every container's and pod's PSI must lie between the kernel's files
// read just before and just after the scrape, whether read or kept by the pressure gates
// (cgroupfs/psigate.go): the stalling pod's total moves, so both its containers are read on
// every scrape; the best-effort pod's parent (kubepods/besteffort) and the pod do not, so
// neither the pod's nor its container's memory.pressure is read again.
func TestLivePressureGate(t *testing.T) {
	tree := testcgroup.NewAnyVersion(t)
	pressureFile := func(dir string) string {
		if tree.Mode() == testcgroup.V2 {
			return filepath.Join(dir, "memory.pressure")
		}
		if u := tree.Unified(dir); u != "" {
			return filepath.Join(u, "memory.pressure")
		}
		return ""
	}
	stallUID, quietUID := testcgroup.NewPodUID(), testcgroup.NewPodUID()
	ids := [3]string{testcgroup.NewContainerID(), testcgroup.NewContainerID(), testcgroup.NewContainerID()}
	dirs := [3]string{
		tree.AddContainer(testcgroup.QoSBurstable, stallUID, ids[0]),  // thrashes
		tree.AddContainer(testcgroup.QoSBurstable, stallUID, ids[1]),  // sleeps beside it
		tree.AddContainer(testcgroup.QoSBestEffort, quietUID, ids[2]), // sleeps in a pod of its own
	}
	if f := pressureFile(dirs[2]); f == "" {
		t.Skip("no unified mount on this hybrid host: no PSI to gate")
	} else if _, err := os.Stat(f); err != nil {
		t.Skipf("no PSI on this kernel: %v", err)
	}
	startThrashing(t, tree, dirs[0])
	for _, d := range dirs[1:] {
		require.NoError(t, tree.StartSleeper(d))
	}
	require.NoError(t, tree.WaitJoined())

	// The three containers, the two pods, and the quiet pod's parent (not reported).
	const quietPod, quietParent = 4, 5
	cgroups := [6]string{dirs[0], dirs[1], dirs[2], filepath.Dir(dirs[0]), filepath.Dir(dirs[2]), filepath.Dir(filepath.Dir(dirs[2]))}
	names := [5]string{"thrashing container", "container beside it", "quiet container", "stalling pod", "quiet pod"}
	kernel := func() (r [6]stallReading) {
		t.Helper()
		for i, d := range cgroups {
			p := kernelPSI(t, pressureFile(d))
			r[i] = stallReading{some: p["some"], full: p["full"]}
		}
		return r
	}
	require.Eventually(t, func() bool { return kernel()[0].some > 0 }, 60*time.Second, 50*time.Millisecond, "the cgroup thrashes")

	s := startLiveScraper(t, tree)
	_, err := s.scrape(context.Background()) // reads every memory.pressure: nothing kept yet
	require.NoError(t, err)
	last := kernel()
	kept := 0
	for i := range 4 {
		time.Sleep(300 * time.Millisecond)
		before := kernel()
		keptBefore := s.memory.PressureKept()
		md, err := s.scrape(context.Background())
		require.NoError(t, err)
		keptNow := int(s.memory.PressureKept() - keptBefore)
		after := kernel()
		for j, name := range names {
			var values map[string]string
			prefix := "container"
			if j < 3 {
				values = points(containerMetrics(md, ids[j]))
			} else {
				prefix, values = "k8s.pod", points(podMetrics(md, map[int]string{3: stallUID, 4: quietUID}[j]))
			}
			var got stallReading
			got.some, got.full = scrapedPSI(t, name, prefix, values)
			requireBetween(t, name+" PSI some µs", int64(got.some), before[j].some, after[j].some)
			requireBetween(t, name+" PSI full µs", int64(got.full), before[j].full, after[j].full)
		}
		require.Greater(t, before[3].some, last[3].some, "the stalling pod's total moves")
		// The stalling pod's two containers are read, and the pod; the quiet pod and its
		// container are kept unless a total above them moved since the last scrape (nothing
		// of theirs stalls, but the host may).
		require.LessOrEqual(t, keptNow, 2, "scrape %d: only the quiet pod and its container kept", i)
		switch {
		case before[quietParent].some == last[quietParent].some:
			require.Equal(t, 2, keptNow, "scrape %d: the quiet pod's parent's total did not move: the pod and its container kept", i)
		case before[quietPod].some == last[quietPod].some:
			require.GreaterOrEqual(t, keptNow, 1, "scrape %d: the quiet pod's total did not move: its container kept", i)
		}
		kept += keptNow
		t.Logf("scrape %d: kept %d; thrashing some %d µs, quiet pod some %d µs", i, keptNow, after[0].some, after[quietPod].some)
		last = after
	}
	require.Positive(t, kept, "the quiet pod's memory.pressure kept at least once")
}
