//go:build linux

package pipelinetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"
	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metricstest"
	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"
)

// livePipeline runs the receiver on a testcgroup tree, every interval, into the processor,
// and keeps every batch the processor passes on. The processor's trend window is short
// (every scrape kept, 10 of them) so that its rates cover the last few seconds.
type livePipeline struct {
	mu      sync.Mutex
	batches []pmetric.Metrics
	logs    *observer.ObservedLogs
	stop    func()
}

func (l *livePipeline) ConsumeMetrics(_ context.Context, md pmetric.Metrics) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.batches = append(l.batches, md)
	return nil
}

func (l *livePipeline) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (l *livePipeline) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.batches)
}

func (l *livePipeline) last() pmetric.Metrics {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.batches[len(l.batches)-1]
}

// waitScrapes waits for n more batches.
func (l *livePipeline) waitScrapes(t *testing.T, n int) pmetric.Metrics {
	t.Helper()
	want := l.count() + n
	require.Eventually(t, func() bool { return l.count() >= want }, 60*time.Second, 50*time.Millisecond)
	return l.last()
}

func startLive(t *testing.T, tree *testcgroup.Tree, interval time.Duration, edit func(*memdivergenceprocessor.Config), editReceiver ...func(*cgroupmemreceiver.Config)) *livePipeline {
	t.Helper()
	ctx := context.Background()
	host := componenttest.NewNopHost()
	l := &livePipeline{}
	core, logs := observer.New(zapcore.InfoLevel)
	l.logs = logs

	pf := memdivergenceprocessor.NewFactory()
	pcfg := pf.CreateDefaultConfig().(*memdivergenceprocessor.Config)
	pcfg.Trend.SampleInterval = 0
	pcfg.Trend.Window = 10
	pcfg.Trend.MinSamples = 3
	if edit != nil {
		edit(pcfg)
	}
	pset := processortest.NewNopSettings(pf.Type())
	pset.Logger = zap.New(core)
	proc, err := pf.CreateMetrics(ctx, pset, pcfg, l)
	require.NoError(t, err)

	rf := cgroupmemreceiver.NewFactory()
	rcfg := rf.CreateDefaultConfig().(*cgroupmemreceiver.Config)
	rcfg.RootPath = tree.Root()
	rcfg.CollectionInterval = interval
	rcfg.InitialDelay = 0
	for _, e := range editReceiver {
		e(rcfg)
	}
	rcv, err := rf.CreateMetrics(ctx, receivertest.NewNopSettings(rf.Type()), rcfg, proc)
	require.NoError(t, err)
	require.NoError(t, proc.Start(ctx, host))
	require.NoError(t, rcv.Start(ctx, host))
	var once sync.Once
	l.stop = func() {
		once.Do(func() {
			require.NoError(t, rcv.Shutdown(ctx))
			require.NoError(t, proc.Shutdown(ctx))
		})
	}
	t.Cleanup(l.stop)
	var _ receiver.Metrics = rcv
	var _ processor.Metrics = proc
	return l
}

// flag returns a container's flag: value, cause, classification.
func flag(t *testing.T, md pmetric.Metrics, id string) (int64, string, string) {
	t.Helper()
	rm, ok := containerResource(md, id)
	require.True(t, ok, "container %s missing", id)
	m, ok := metricstest.Find(rm, "container.memory.divergence.flagged")
	require.True(t, ok, "no flag")
	p := m.Gauge().DataPoints().At(0)
	c, _ := p.Attributes().Get("memdivergence.cause")
	cl, _ := p.Attributes().Get("memdivergence.classification")
	return p.IntValue(), c.Str(), cl.Str()
}

// pressure is what the kernel's own files say of a cgroup's pressure counters, read with
// code that shares nothing with the receiver: memory PSI some total (µs) of the unified
// twin, total_workingset_refault_file of the v1 memory.stat.
type pressure struct {
	at       time.Time
	stallUS  uint64
	refaults uint64
}

func readPressure(t *testing.T, tree *testcgroup.Tree, dir string) pressure {
	t.Helper()
	p := pressure{at: time.Now()}
	k := testcgroup.ReadKernel(t, dir)
	p.refaults = k.Stat["total_workingset_refault_file"]
	u := tree.Unified(dir)
	require.NotEmpty(t, u, "this host has no unified mount: no PSI")
	b, err := os.ReadFile(filepath.Join(u, "memory.pressure"))
	require.NoError(t, err)
	line, _, _ := strings.Cut(string(b), "\n")
	require.True(t, strings.HasPrefix(line, "some "), line)
	_, total, ok := strings.Cut(line, "total=")
	require.True(t, ok, line)
	p.stallUS, err = strconv.ParseUint(strings.TrimSpace(total), 10, 64)
	require.NoError(t, err)
	return p
}

// rates between two readings: stall share and refaults per second.
func rates(a, b pressure) (float64, float64) {
	dt := b.at.Sub(a.at).Seconds()
	return float64(b.stallUS-a.stallUS) / 1e6 / dt, float64(b.refaults-a.refaults) / dt
}

// TestLiveColdCacheThenThrash: a container holds 150 MiB of page cache it wrote and read
// twice, then sits idle: flagged for its page cache, and reclaimable (no stall, no refaults,
// by the kernel's own counters too). Then its limit is set to 96 MiB and it re-reads the
// file in a loop: the cache no longer fits, the kernel refaults it, and the container is
// pressing, cause page_cache, although its working set is now small.
func TestLiveColdCacheThenThrash(t *testing.T) {
	tree := testcgroup.New(t)
	if tree.Unified(tree.Dir()) == "" {
		t.Skip("no unified mount on this host: no per-cgroup PSI")
	}
	uid, id := testcgroup.NewPodUID(), testcgroup.NewContainerID()
	dir := tree.AddContainer(testcgroup.QoSBurstable, uid, id)
	work := t.TempDir()
	tree.Start(t, dir, testcgroup.Command(t, testcgroup.Workload{FileMiB: 150, Dir: work}))
	l := startLive(t, tree, 500*time.Millisecond, nil)

	before := readPressure(t, tree, dir)
	md := l.waitScrapes(t, 8)
	after := readPressure(t, tree, dir)
	share, refaults := rates(before, after)
	t.Logf("cold: kernel PSI some %.4f, refaults %.1f/s", share, refaults)
	require.Less(t, share, 0.01, "the kernel says the cold container does not stall")
	require.Less(t, refaults, 256.0, "the kernel says the cold container does not refault")
	v, c, cl := flag(t, md, id)
	assert.Equal(t, int64(1), v, "150 MiB of active page cache is flagged")
	assert.Equal(t, "page_cache", c)
	assert.Equal(t, "reclaimable", cl)

	tree.SetMemoryLimit(dir, 96<<20)
	file := filepath.Join(work, "cached")
	tree.Start(t, dir, exec.Command("/bin/sh", "-c", fmt.Sprintf("while :; do cat %s > /dev/null; done", file)))
	l.waitScrapes(t, 4) // the thrash fills the window
	before = readPressure(t, tree, dir)
	md = l.waitScrapes(t, 10)
	after = readPressure(t, tree, dir)
	share, refaults = rates(before, after)
	t.Logf("thrash: kernel PSI some %.4f, refaults %.0f/s", share, refaults)
	require.Greater(t, refaults, 256.0, "the kernel says the thrashing container refaults")
	v, c, cl = flag(t, md, id)
	assert.Equal(t, int64(1), v, "pressing is flagged")
	assert.Equal(t, "page_cache", c, "the cache that does not fit")
	assert.Equal(t, "pressing", cl)
	k := testcgroup.ReadKernel(t, dir)
	ws := k.Usage - k.Stat["total_inactive_file"]
	t.Logf("thrash: working set %d MiB, inactive file %d MiB", ws>>20, k.Stat["total_inactive_file"]>>20)

	var lines, all []string
	for _, e := range l.logs.All() {
		all = append(all, e.Message)
		if strings.HasPrefix(e.Message, "container ") {
			lines = append(lines, e.Message)
		}
	}
	t.Logf("verdicts:\n%s", strings.Join(all, "\n"))
	require.Len(t, lines, 2, "one container verdict when flagged, one when the classification changed")
	assert.Contains(t, lines[0], "; reclaimable (")
	assert.Contains(t, lines[1], "; pressing (")
}

// TestLiveOOMKill: a container with a 48 MiB limit holds 16 MiB of anonymous memory (its
// working set is mostly anonymous); then a process in it reads /dev/zero into memory until
// the OOM killer kills it. The kernel counts one kill (memory.oom_control), and the
// processor counts one kill under rss.
func TestLiveOOMKill(t *testing.T) {
	tree := testcgroup.New(t)
	uid, id := testcgroup.NewPodUID(), testcgroup.NewContainerID()
	dir := tree.AddContainer(testcgroup.QoSBurstable, uid, id)
	tree.SetMemoryLimit(dir, 48<<20)
	tree.Start(t, dir, testcgroup.Command(t, testcgroup.Workload{AnonMiB: 16}))
	l := startLive(t, tree, 300*time.Millisecond, nil)
	md := l.waitScrapes(t, 3)
	rm, ok := containerResource(md, id)
	require.True(t, ok)
	_, has := metricstest.Find(rm, "container.memory.divergence.oom_kills")
	assert.False(t, has, "no kill yet")
	before := testcgroup.ReadKernel(t, dir).OOMKills

	tree.Start(t, dir, allocator())
	require.Eventually(t, func() bool { return testcgroup.ReadKernel(t, dir).OOMKills > before }, 30*time.Second, 20*time.Millisecond)
	after := testcgroup.ReadKernel(t, dir).OOMKills
	require.Equal(t, before+1, after, "the kernel counted one kill")
	md = l.waitScrapes(t, 3)
	rm, ok = containerResource(md, id)
	require.True(t, ok)
	m, ok := metricstest.Find(rm, "container.memory.divergence.oom_kills")
	require.True(t, ok, "the kill is counted")
	require.True(t, m.Sum().IsMonotonic())
	got := map[string]int64{}
	for _, p := range m.Sum().DataPoints().All() {
		c, _ := p.Attributes().Get("memdivergence.cause")
		got[c.Str()] = p.IntValue()
	}
	assert.Equal(t, map[string]int64{"rss": int64(after - before)}, got)
}

// TestLiveUnreadUDPQueue: on cgroup v1, a container holding a UDP socket with 2,000 unread
// 10-byte datagrams is flagged pressing with cause socket (threshold lowered to 128 KiB: one
// socket holds at most its receive buffer, net.core.rmem_default), while its divergence has
// no socket part: v1 charges socket buffers to no memory cgroup.
func TestLiveUnreadUDPQueue(t *testing.T) {
	tree := testcgroup.New(t)
	uid, busyID, idleID := testcgroup.NewPodUID(), testcgroup.NewContainerID(), testcgroup.NewContainerID()
	busy := tree.AddContainer(testcgroup.QoSBurstable, uid, busyID)
	idle := tree.AddContainer(testcgroup.QoSBurstable, uid, idleID)
	p := tree.Start(t, busy, testcgroup.Command(t, testcgroup.Workload{UnreadUDPDatagrams: 2000}))
	tree.Start(t, idle, testcgroup.Command(t, testcgroup.Workload{}))
	l := startLive(t, tree, 300*time.Millisecond, func(c *memdivergenceprocessor.Config) {
		c.Thresholds.SockRcvqBytes = 128 << 10
	})
	md := l.waitScrapes(t, 3)
	queued := kernelUDPQueue(t, p.Pid)
	t.Logf("kernel rx_queue of the unread socket: %d bytes", queued)
	require.GreaterOrEqual(t, queued, uint64(128<<10), "the kernel holds more than the threshold")

	v, c, cl := flag(t, md, busyID)
	assert.Equal(t, int64(1), v)
	assert.Equal(t, "socket", c)
	assert.Equal(t, "pressing", cl)
	rm, _ := containerResource(md, busyID)
	if div, ok := metricstest.Find(rm, "container.memory.divergence.usage"); ok {
		assert.Zero(t, metricstest.IntsByAttribute(div, "memdivergence.cause")["socket"], "v1: no socket part in the working set")
	}
	v, _, _ = flag(t, md, idleID)
	assert.Equal(t, int64(0), v, "the idle container is not flagged")
}

// kernelUDPQueue sums rx_queue (hex, "tx:rx") of the IPv4 UDP sockets in the pid's
// /proc/<pid>/net/udp that the pid holds.
func kernelUDPQueue(t *testing.T, pid int) uint64 {
	t.Helper()
	held := map[string]bool{}
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(fdDir)
	require.NoError(t, err)
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && strings.HasPrefix(target, "socket:[") {
			held[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/udp", pid))
	require.NoError(t, err)
	var sum uint64
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 || !held[f[9]] {
			continue
		}
		_, rx, _ := strings.Cut(f[4], ":")
		v, err := strconv.ParseUint(rx, 16, 64)
		require.NoError(t, err)
		sum += v
	}
	return sum
}

// killsOn returns the OOM kills by cause the processor recorded on a resource, and whether
// the resource also had a working set (its cgroup was there).
func killsOn(md pmetric.Metrics, key, id, prefix string) (map[string]int64, bool, bool) {
	for _, rm := range md.ResourceMetrics().All() {
		v, ok := rm.Resource().Attributes().Get(key)
		_, isContainer := rm.Resource().Attributes().Get("container.id")
		if !ok || v.Str() != id || (key != "container.id" && isContainer) {
			continue
		}
		_, alive := metricstest.Find(rm, prefix+"memory.working_set")
		m, ok := metricstest.Find(rm, prefix+"memory.divergence.oom_kills")
		if !ok {
			return nil, alive, true
		}
		out := map[string]int64{}
		for _, p := range m.Sum().DataPoints().All() {
			c, _ := p.Attributes().Get("memdivergence.cause")
			out[c.Str()] = p.IntValue()
		}
		return out, alive, true
	}
	return nil, false, false
}

// TestLiveOOMKillOfAGoneContainer: with the receiver's kmsg_oom_watcher on, a container
// (16 MiB anonymous, 48 MiB limit) is OOM-killed and its cgroup removed right after, as a
// runtime does, before the next scrape; another container is created, killed and removed
// between two scrapes. The processor counts the first kill under rss, the breakdown it saw
// last, on the gone container's resource; the second under unknown (never seen alive); and
// the pod's two kills under the pod's breakdown.
func TestLiveOOMKillOfAGoneContainer(t *testing.T) {
	tree := testcgroup.New(t)
	uid := testcgroup.NewPodUID()
	goneID, bornID, stayID := testcgroup.NewContainerID(), testcgroup.NewContainerID(), testcgroup.NewContainerID()
	gone := tree.AddContainer(testcgroup.QoSBurstable, uid, goneID)
	tree.SetMemoryLimit(gone, 48<<20)
	holder := tree.Start(t, gone, testcgroup.Command(t, testcgroup.Workload{AnonMiB: 16}))
	stay := tree.AddContainer(testcgroup.QoSBurstable, uid, stayID)
	tree.Start(t, stay, testcgroup.Command(t, testcgroup.Workload{AnonMiB: 8}))
	l := startLive(t, tree, 4*time.Second, nil, func(c *cgroupmemreceiver.Config) {
		c.KmsgOOMWatcher = cgroupmemreceiver.KmsgOOMWatcherConfig{Enabled: true, Path: "/dev/kmsg"}
	})
	l.waitScrapes(t, 2)
	killIn := func(dir string) uint64 {
		before := testcgroup.ReadKernel(t, dir).OOMKills
		tree.Start(t, dir, allocator())
		require.Eventually(t, func() bool { return testcgroup.ReadKernel(t, dir).OOMKills > before }, 30*time.Second, 5*time.Millisecond)
		return testcgroup.ReadKernel(t, dir).OOMKills - before
	}
	// Right after a scrape: kill, remove; create, kill, remove; all before the next one.
	l.waitScrapes(t, 1)
	start := time.Now()
	goneKills := killIn(gone)
	require.NoError(t, holder.Stop(), "the container's main process survived the kill")
	tree.Remove(gone)
	born := tree.AddContainer(testcgroup.QoSBurstable, uid, bornID)
	tree.SetMemoryLimit(born, 48<<20)
	bornKills := killIn(born)
	tree.Remove(born)
	require.Less(t, time.Since(start), 3*time.Second, "too slow to finish between two scrapes (every 4 s)")
	require.Equal(t, uint64(1), goneKills)
	require.Equal(t, uint64(1), bornKills)

	var goneGot, bornGot, podGot map[string]int64
	var podCounter int64 // the receiver's k8s.pod.memory.oom_kills
	for range 4 {
		md := l.waitScrapes(t, 1)
		podCounter = receiverCounter(md, uid)
		if k, alive, ok := killsOn(md, "container.id", goneID, "container."); ok && k != nil {
			require.False(t, alive, "a scrape read the kill from the cgroup before it was removed: the test did not reach the gone path")
			goneGot = k
		}
		if k, _, ok := killsOn(md, "container.id", bornID, "container."); ok && k != nil {
			bornGot = k
		}
		if k, _, _ := killsOn(md, "k8s.pod.uid", uid, "k8s.pod."); k != nil {
			podGot = k
		}
		if goneGot != nil && bornGot != nil && podGot != nil {
			break
		}
	}
	assert.Equal(t, map[string]int64{"rss": 1}, goneGot, "the gone container's kill under its last breakdown")
	assert.Equal(t, map[string]int64{"unknown": 1}, bornGot, "a container never seen alive")
	// The pod's kills: the kernel counted each in its container's cgroup (v1); the receiver
	// adds the removed containers' to the pod; each rise is counted under the pod's breakdown.
	t.Logf("kernel: %d kills in the pod; receiver's pod counter %d", goneKills+bornKills, podCounter)
	require.Equal(t, int64(goneKills+bornKills), podCounter, "the receiver's pod counter against the kernel")
	assert.Equal(t, map[string]int64{"rss": int64(goneKills + bornKills)}, podGot, "the pod's kills under the pod's breakdown")
}

// receiverCounter returns the receiver's k8s.pod.memory.oom_kills of a pod, 0 without.
func receiverCounter(md pmetric.Metrics, uid string) int64 {
	for _, rm := range md.ResourceMetrics().All() {
		if v, ok := rm.Resource().Attributes().Get("k8s.pod.uid"); ok && v.Str() == uid {
			if m, ok := metricstest.Find(rm, "k8s.pod.memory.oom_kills"); ok {
				return m.Sum().DataPoints().At(0).IntValue()
			}
		}
	}
	return 0
}

// allocator reads /dev/zero into memory until its cgroup's limit; it makes itself the OOM
// killer's first choice (oom_score_adj 1000), so that the kill does not take the
// container's other process.
func allocator() *exec.Cmd {
	return exec.Command("/bin/sh", "-c", "echo 1000 > /proc/self/oom_score_adj && exec tail /dev/zero")
}
