package cgroupmemreceiver

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/cgroupmem/cgroupmem/internal/oomwatch"
)

const (
	v2PodDir  = "sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f0a9d1e_7c55_4b8e_9a31_2d4be2f1c0aa.slice"
	v1PodDir  = "sys/fs/cgroup/memory/kubepods/burstable/pod3f0a9d1e-7c55-4b8e-9a31-2d4be2f1c0aa"
	workload  = "aaaaaaaa11111111111111111111111111111111111111111111111111111111"
	podUIDApp = "3f0a9d1e-7c55-4b8e-9a31-2d4be2f1c0aa"
)

// kmsgFIFO makes a FIFO for the watcher to read as its /dev/kmsg, and returns it with a writer.
func kmsgFIFO(t *testing.T) (string, *os.File) {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "kmsg")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	w, err := os.OpenFile(fifo, os.O_RDWR, 0) // O_RDWR: no wait for a reader, no EOF for it
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })
	return fifo, w
}

// writeKill writes the kernel's report of a kill in the container cgroup rel (relative to the
// scraper's hierarchy) to the FIFO.
func writeKill(t *testing.T, s *cgroupScraper, w *os.File, seq uint64, rel string) {
	t.Helper()
	p := cgroupPathOf(s.hier.Dir) + rel
	_, err := w.Write(oomwatch.Format(oomwatch.Kill{Seq: seq, Constraint: "CONSTRAINT_MEMCG", OOMMemcg: p, TaskMemcg: p, Task: "tail", PID: 4242}))
	require.NoError(t, err)
}

// TestKmsgKillOfARemovedContainer: a container killed and removed before the next scrape
// (v2 fixture copy) has its kill emitted once on its own resource, from the watcher's report;
// the pod's hierarchical memory.events keeps counting it.
func TestKmsgKillOfARemovedContainer(t *testing.T) {
	root := copyTree(t, fixtureRoot("v2-kernel-6.18"))
	fifo, w := kmsgFIFO(t)
	cfg := fixtureConfig(root)
	cfg.KmsgOOMWatcher = KmsgOOMWatcherConfig{Enabled: true, Path: fifo}
	s := startScraper(t, cfg)
	require.NotNil(t, s.oom.watcher)

	md, err := s.scrape(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(0), liveResources(md)["container "+workload].values["container.memory.oom_kills"])

	dir := filepath.Join(root, v2PodDir, "cri-containerd-"+workload+".scope")
	rel := "/" + filepath.ToSlash(filepath.Join(filepath.Base(filepath.Dir(filepath.Dir(v2PodDir))), filepath.Base(filepath.Dir(v2PodDir)), filepath.Base(v2PodDir), filepath.Base(dir)))
	require.NoError(t, os.RemoveAll(dir))
	events := "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n"
	require.NoError(t, os.WriteFile(filepath.Join(root, v2PodDir, "memory.events"), []byte(events), 0o644))
	writeKill(t, s, w, 1, rel)
	writeKill(t, s, w, 2, "/system.slice/sshd.service") // not a container: not counted

	var got []int64
	require.Eventually(t, func() bool {
		md, err := s.scrape(context.Background())
		require.NoError(t, err)
		r, ok := liveResources(md)["container "+workload]
		if ok {
			got = append(got, r.values["container.memory.oom_kills"])
			require.Equal(t, int64(1), liveResources(md)["pod "+podUIDApp].values["k8s.pod.memory.oom_kills"], "the pod's memory.events")
			require.NotContains(t, r.values, "container.memory.usage", "only the kill is said of a gone container")
		}
		return ok
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, []int64{1}, got)
	md, err = s.scrape(context.Background())
	require.NoError(t, err)
	require.NotContains(t, liveResources(md), "container "+workload, "emitted once")
}

// TestV1PodCountsItsRemovedContainersKills: on v1 a pod's count is its own cgroup's plus its
// containers', and a container's count stays in its pod's once the container is gone, with
// the kills the watcher reported after its last read.
func TestV1PodCountsItsRemovedContainersKills(t *testing.T) {
	root := copyTree(t, fixtureRoot("v1-hybrid-kernel-6.18"))
	fifo, w := kmsgFIFO(t)
	cfg := fixtureConfig(root)
	cfg.KmsgOOMWatcher = KmsgOOMWatcherConfig{Enabled: true, Path: fifo}
	s := startScraper(t, cfg)
	dir := filepath.Join(root, v1PodDir, workload)
	setOOM := func(dir string, kills int) {
		b := []byte("oom_kill_disable 0\nunder_oom 0\noom_kill " + string(rune('0'+kills)) + "\n")
		require.NoError(t, os.WriteFile(filepath.Join(dir, "memory.oom_control"), b, 0o644))
	}
	podKills := func() int64 {
		t.Helper()
		md, err := s.scrape(context.Background())
		require.NoError(t, err)
		return liveResources(md)["pod "+podUIDApp].values["k8s.pod.memory.oom_kills"]
	}
	require.Equal(t, int64(0), podKills())
	const rel = "/kubepods/burstable/pod" + podUIDApp + "/" + workload
	setOOM(dir, 2) // two kills, each reported
	writeKill(t, s, w, 1, rel)
	writeKill(t, s, w, 2, rel)
	setOOM(filepath.Join(root, v1PodDir), 1) // a task in the pod cgroup itself
	require.Equal(t, int64(3), podKills(), "the pod's own kill and its container's two")
	require.NoError(t, os.RemoveAll(dir))
	writeKill(t, s, w, 3, rel) // a third, after the last read, and the cgroup removed
	require.Eventually(t, func() bool { return podKills() == 4 }, 5*time.Second, 10*time.Millisecond)
	for range goneGrace + 1 {
		require.Equal(t, int64(4), podKills(), "kept once the container is forgotten")
	}
	require.Empty(t, s.oom.byPath["/kubepods/burstable/pod"+podUIDApp+"/"+workload], "forgotten after the grace")
}

// TestKmsgUnreadableSaysSoOnce: without access to the kernel log the scrape flows and one
// warning says what is not counted.
func TestKmsgUnreadableSaysSoOnce(t *testing.T) {
	cfg := fixtureConfig(fixtureRoot("v2-kernel-6.18"))
	cfg.KmsgOOMWatcher = KmsgOOMWatcherConfig{Enabled: true, Path: filepath.Join(t.TempDir(), "no-kmsg")}
	s, logs := startScraperLogging(t, cfg, zap.WarnLevel)
	for range 3 {
		md, err := s.scrape(context.Background())
		require.NoError(t, err)
		require.Contains(t, liveResources(md), "container "+workload)
	}
	require.Equal(t, 1, logs.FilterMessageSnippet("kmsg_oom_watcher").Len(), "%v", logs.All())
}
