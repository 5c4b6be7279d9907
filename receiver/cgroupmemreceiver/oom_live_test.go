package cgroupmemreceiver

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

// TestLiveOOMKillsOutliveTheContainer kills processes at a 64 MiB container limit in real
// cgroups of one pod: in a container whose cgroup stays, in one whose cgroup is removed right
// after the kill (as a runtime does), and in one created, killed and removed between two
// scrapes. Each kill must show in its container's count and in the pod's, equal to what the
// kernel's oom_control files said before the cgroups were removed. It needs /dev/kmsg.
func TestLiveOOMKillsOutliveTheContainer(t *testing.T) {
	tree := testcgroup.New(t)
	uid := testcgroup.NewPodUID()
	newContainer := func() (string, string) {
		id := testcgroup.NewContainerID()
		dir := tree.AddContainer(testcgroup.QoSBurstable, uid, id)
		tree.SetMemoryLimit(dir, 64*mib)
		_ = os.WriteFile(filepath.Join(dir, "memory.swappiness"), []byte("0"), 0)
		tree.Start(t, dir, exec.Command("sleep", "infinity")) // the container's main process
		return id, dir
	}
	// killIn allocates past the limit until the kernel kills the allocator, and returns the
	// cgroup's count of kills after it.
	killIn := func(dir string) uint64 {
		t.Helper()
		before := testcgroup.ReadKernel(t, dir).OOMKills
		tree.Start(t, dir, exec.Command("tail", "/dev/zero")) // buffers /dev/zero until the limit kills it
		require.Eventually(t, func() bool { return testcgroup.ReadKernel(t, dir).OOMKills > before }, 30*time.Second, 10*time.Millisecond,
			"the kernel OOM-kills tail at the 64 MiB limit")
		return testcgroup.ReadKernel(t, dir).OOMKills
	}
	keptID, kept := newContainer()
	removedID, removed := newContainer()
	podDir := filepath.Dir(kept)

	cfg := fixtureConfig(tree.Root())
	cfg.KmsgOOMWatcher = KmsgOOMWatcherConfig{Enabled: true, Path: "/dev/kmsg"}
	s := startScraper(t, cfg)
	if s.oom.watcher == nil {
		t.Skip("/dev/kmsg cannot be read here")
	}
	scrape := func() map[string]liveResource {
		t.Helper()
		md, err := s.scrape(context.Background())
		require.NoError(t, err)
		return liveResources(md)
	}
	r := scrape()
	require.Equal(t, int64(0), r["container "+keptID].values["container.memory.oom_kills"])
	require.Equal(t, int64(0), r["container "+removedID].values["container.memory.oom_kills"])
	require.Equal(t, int64(0), r["pod "+uid].values["k8s.pod.memory.oom_kills"])

	keptKills := killIn(kept)
	removedKills := killIn(removed)
	tree.Remove(removed) // right after the kill, before any scrape read the count
	bornID, born := newContainer()
	bornKills := killIn(born)
	tree.Remove(born) // created, killed and removed between two scrapes
	podOwn := testcgroup.ReadKernel(t, podDir).OOMKills

	// The watcher reads the kernel's reports as they come: a report read after a scrape is
	// counted by the next one.
	got := map[string]int64{}
	var pod int64
	want := int64(podOwn + keptKills + removedKills + bornKills)
	assert.Eventually(t, func() bool {
		r := scrape()
		for _, id := range []string{keptID, removedID, bornID} {
			if v, ok := r["container "+id].values["container.memory.oom_kills"]; ok {
				got[id] = v
			}
		}
		pod = r["pod "+uid].values["k8s.pod.memory.oom_kills"]
		return pod == want && len(got) == 3
	}, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, want, pod, "the pod's count: its own %d and its containers' %v", podOwn, got)
	require.Equal(t, int64(testcgroup.ReadKernel(t, kept).OOMKills), got[keptID], "the kept cgroup's count, as its file says it")
	require.Equal(t, int64(keptKills), got[keptID])
	require.Equal(t, int64(removedKills), got[removedID], "the removed container's kill, from the kernel's report")
	require.Equal(t, int64(bornKills), got[bornID], "the kill of a container no scrape ever read")
	for range goneGrace + 1 {
		require.Equal(t, want, scrape()["pod "+uid].values["k8s.pod.memory.oom_kills"], "the pod keeps its removed containers' kills")
	}
}
