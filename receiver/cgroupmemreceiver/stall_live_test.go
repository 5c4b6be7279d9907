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
	tree.SetMemoryLimit(dir, 32*mib)
	scratch := t.TempDir()
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(scratch, &st))
	if st.Type == tmpfsMagic {
		t.Skipf("%s is tmpfs: its pages are not reclaimed without swap", scratch)
	}
	file := filepath.Join(scratch, "thrash")
	tree.Start(t, dir, exec.Command("sh", "-c", "head -c 100663296 /dev/zero > "+file+"; while :; do cat "+file+" > /dev/null; done"))
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
			for typ, dst := range map[string]*uint64{"some": &r.some, "full": &r.full} {
				f, err := strconv.ParseFloat(values[prefix+".memory.pressure.stall_time "+typ], 64)
				require.NoError(t, err, "%s.memory.pressure.stall_time %s emitted", prefix, typ)
				*dst = uint64(math.Round(f * 1e6))
			}
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
