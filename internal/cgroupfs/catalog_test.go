package cgroupfs

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

const podUID = "11111111-2222-3333-4444-555555555555"

func containerID(i int) string { return fmt.Sprintf("%064x", i+1) }

// containerCount counts the containers of a tree.
func containerCount(t Tree) int {
	n := len(t.Standalone)
	for _, p := range t.Pods {
		n += len(p.Containers)
	}
	return n
}

func catalogChanges(t *testing.T, dir string) {
	t.Helper()
	catalogChangesIn(t, dir, ModeV1)
}

func catalogChangesIn(t *testing.T, dir string, mode Mode) {
	t.Helper()
	cat := NewCatalog(Hierarchy{Mode: mode, Dir: dir}, NewFiles(64), time.Hour)
	t.Cleanup(func() { require.NoError(t, cat.Close()) })
	now := time.Now()
	pod := filepath.Join(dir, "kubepods", "burstable", "pod"+podUID)
	require.NoError(t, os.MkdirAll(filepath.Join(pod, containerID(0)), 0o755))

	tree, err := cat.Refresh(now)
	require.NoError(t, err)
	require.Equal(t, 1, containerCount(tree))
	require.True(t, cat.Watching(), "inotify watch in place")

	_, err = cat.Refresh(now.Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, 1, cat.Walks(), "nothing changed: no walk")

	kept := cat.Handle(tree.Pods[0].Containers[0].Path)
	kept.tcp = tcpIdle
	qos := cat.Handle(path.Dir(tree.Pods[0].Path))
	require.NoError(t, os.Mkdir(filepath.Join(pod, containerID(1)), 0o755))
	tree, err = cat.Refresh(now.Add(2 * time.Second))
	require.NoError(t, err)
	require.Equal(t, 2, cat.Walks(), "a new container directory triggers a walk")
	require.Equal(t, 2, containerCount(tree))
	require.Equal(t, tcpUnknown, kept.tcp, "a walk has kept handles check idle tcp accounting again")
	require.Same(t, qos, cat.Handle(path.Dir(tree.Pods[0].Path)), "a pod's parent's handle, which gates the pod's PSI, is kept")

	gone := tree.Pods[0].Containers[1].Path
	_ = cat.Handle(gone)
	require.NoError(t, os.Remove(filepath.Join(dir, gone)))
	tree, err = cat.Refresh(now.Add(3 * time.Second))
	require.NoError(t, err)
	require.Equal(t, 3, cat.Walks())
	require.Equal(t, 1, containerCount(tree))
	require.NotContains(t, cat.handles, gone, "the handle of a removed cgroup is dropped")

	_, err = cat.Refresh(now.Add(2 * time.Hour))
	require.NoError(t, err)
	require.Equal(t, 4, cat.Walks(), "the safety-net walk runs after rewalkEvery")

	cat.Forget(tree.Pods[0].Containers[0].Path)
	_, err = cat.Refresh(now.Add(2*time.Hour + time.Second))
	require.NoError(t, err)
	require.Equal(t, 5, cat.Walks(), "a vanished cgroup makes the next refresh walk")
}

func TestCatalogWalksOnlyOnChange(t *testing.T) {
	catalogChanges(t, t.TempDir())
}

// TestCatalogWalksOnlyOnChangeLiveCgroupfs checks that mkdir and rmdir on a real cgroup
// hierarchy (v1 memory, or v2) raise the inotify events the catalog relies on. The test
// makes its cgroups with mkdir itself, as the kernel sees a runtime do, in a testcgroup tree.
func TestCatalogWalksOnlyOnChangeLiveCgroupfs(t *testing.T) {
	tree := testcgroup.NewAnyVersion(t)
	dir := tree.Dir()
	t.Cleanup(func() { require.NoError(t, testcgroup.RemoveTree(filepath.Join(dir, "kubepods"))) })
	mode := ModeV1
	if tree.Mode() == testcgroup.V2 {
		mode = ModeV2
	}
	catalogChangesIn(t, dir, mode)
}

func TestKeptOpenRereadsInPlace(t *testing.T) {
	dir := cgroupDir(t, map[string]string{"memory.current": "1000\n", "memory.stat": "anon 10\n"})
	files := NewFiles(64)
	cg := files.Cgroup(dir)
	r := NewMemoryReader(ModeV2)

	m, err := r.Read(cg)
	require.NoError(t, err)
	require.Equal(t, some(1000), m.Usage)
	require.Equal(t, 2, files.Open(), "memory.stat and memory.current stay open; absent files are remembered")

	// Rewrite in place (same inode), as cgroupfs regenerates content on each read.
	f, err := os.OpenFile(filepath.Join(dir, "memory.current"), os.O_WRONLY|os.O_TRUNC, 0)
	require.NoError(t, err)
	_, err = f.WriteString("2000\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())

	m, err = r.Read(cg)
	require.NoError(t, err)
	require.Equal(t, some(2000), m.Usage)
	require.Equal(t, 2, files.Open())
	cg.Close()
	cg.Close()
	require.Zero(t, files.Open(), "Close is idempotent")
}

func TestKeptOpenBudgetFallsBackToOpenReadClose(t *testing.T) {
	files := NewFiles(3)
	r := NewMemoryReader(ModeV2)
	var cgs []*Cgroup
	for i := 0; i < 3; i++ {
		dir := cgroupDir(t, map[string]string{"memory.current": fmt.Sprintf("%d\n", 100+i), "memory.stat": "anon 1\n"})
		cgs = append(cgs, files.Cgroup(dir))
	}
	for round := 0; round < 2; round++ {
		for i, cg := range cgs {
			m, err := r.Read(cg)
			require.NoError(t, err)
			require.Equal(t, some(uint64(100+i)), m.Usage)
		}
	}
	require.Equal(t, 3, files.Open(), "never more than the budget")
	require.True(t, files.Exhausted())
	require.False(t, files.Exhausted(), "the flag resets")
}

func TestKeptOpenGrowsBufferForLargeFiles(t *testing.T) {
	var b []byte
	for i := 0; i < 2000; i++ {
		b = fmt.Appendf(b, "key_%d %d\n", i, i)
	}
	b = append(b, "anon 77\n"...)
	dir := cgroupDir(t, map[string]string{"memory.current": "1\n", "memory.stat": string(b)})
	m, err := readDir(ModeV2, dir)
	require.NoError(t, err)
	require.Equal(t, some(77), m.RSS)
}

func TestKeptOpenTransientFilesAreKeptOnceTheBudgetFrees(t *testing.T) {
	files := NewFiles(2)
	r := NewMemoryReader(ModeV2)
	a := files.Cgroup(cgroupDir(t, map[string]string{"memory.current": "1\n", "memory.stat": "anon 1\n"}))
	b := files.Cgroup(cgroupDir(t, map[string]string{"memory.current": "2\n", "memory.stat": "anon 2\n"}))
	for _, cg := range []*Cgroup{a, b} {
		_, err := r.Read(cg)
		require.NoError(t, err)
	}
	require.True(t, files.Exhausted(), "b's files were read without keeping them")
	a.Close()
	m, err := r.Read(b)
	require.NoError(t, err)
	require.Equal(t, some(2), m.Usage)
	require.Equal(t, 2, files.Open(), "b's files take the descriptors a released")
	require.False(t, files.Exhausted())
}

// TestKeepUnlistedKeepsWhatAFailedListingHides: a walk that could not list a directory keeps
// what the last walk found under it, and only that: what is under directories it listed is
// what it found, gone included.
func TestKeepUnlistedKeepsWhatAFailedListingHides(t *testing.T) {
	ct := func(path string) Container { return Container{ID: path, Path: path} }
	old := Tree{
		Pods: []Pod{
			{Path: "/kubepods/burstable/podA", Containers: []Container{ct("/kubepods/burstable/podA/a1")}},
			{Path: "/kubepods/burstable/podB", Containers: []Container{ct("/kubepods/burstable/podB/b1")}},
			{Path: "/kubepods/besteffort/podC", Containers: []Container{ct("/kubepods/besteffort/podC/c1")}},
			{Path: "/kubepods/besteffort/podD", Containers: []Container{ct("/kubepods/besteffort/podD/d1")}},
		},
		Standalone: []Container{ct("/docker/x"), ct("/system.slice/docker-y.scope")},
	}
	walked := Tree{
		// podA's directory could not be listed; besteffort could not be listed; podB is gone.
		Pods:       []Pod{{Path: "/kubepods/burstable/podA"}},
		Standalone: []Container{ct("/docker/x")},
	}
	got := keepUnlisted(walked, old, []string{"/kubepods/burstable/podA", "/kubepods/besteffort", "/system.slice"})
	require.Equal(t, Tree{
		Pods: []Pod{
			{Path: "/kubepods/burstable/podA", Containers: []Container{ct("/kubepods/burstable/podA/a1")}},
			{Path: "/kubepods/besteffort/podC", Containers: []Container{ct("/kubepods/besteffort/podC/c1")}},
			{Path: "/kubepods/besteffort/podD", Containers: []Container{ct("/kubepods/besteffort/podD/d1")}},
		},
		Standalone: []Container{ct("/docker/x"), ct("/system.slice/docker-y.scope")},
	}, got)
	// "/kubepods/best" is not a parent of "/kubepods/besteffort/podC".
	got = keepUnlisted(Tree{}, old, []string{"/kubepods/best"})
	require.Empty(t, got.Pods)
	// The root unlisted: everything is kept.
	got = keepUnlisted(Tree{}, old, []string{"/"})
	require.Equal(t, old, got)
}
