package cgroupfs

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

// keptOpenFileKernelBytes is what deploy/README.md's memory sizing (and deploy's
// TestGoMemoryLimitAndSizing) count per kept-open cgroup file: kernel memory charged to the
// collector's memory cgroup, which the Go runtime does not see. Measured here on 6.18:
// 5,350 to 5,393 bytes.
const keptOpenFileKernelBytes = 6 << 10

// TestLiveKeptOpenFilesKernelMemory moves the test process into a cgroup of its own, reads
// 200 fresh container cgroups and their pods as the receiver does (every optional reading,
// files kept open), and measures the kernel memory the kernel charged that cgroup for it
// (memory.kmem.usage_in_bytes before and after): per kept-open file it must be within the
// sizing's figure. What is charged is the open file, its seq_file buffer, and the kernfs
// dentry and inode of a file no one had looked up.
func TestLiveKeptOpenFilesKernelMemory(t *testing.T) {
	tree := testcgroup.New(t)
	for range 100 {
		uid := testcgroup.NewPodUID()
		tree.AddContainer(testcgroup.QoSBurstable, uid, testcgroup.NewContainerID())
		tree.AddContainer(testcgroup.QoSBurstable, uid, testcgroup.NewContainerID())
	}
	h, err := DetectHierarchy(tree.Root())
	require.NoError(t, err)
	files := NewFiles(0)
	catalog := NewCatalog(h, files, time.Hour)
	discovered, err := catalog.Refresh(time.Now()) // the walk's own charges come before the measurement
	require.NoError(t, err)
	require.Len(t, discovered.Pods, 100)

	holder := filepath.Join(tree.Dir(), "collector") // no pod or container name: not discovered
	require.NoError(t, os.Mkdir(holder, 0o755))
	home := ownMemoryCgroup(t)
	t.Cleanup(func() {
		_ = catalog.Close()
		require.NoError(t, os.WriteFile(filepath.Join(home, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0))
		for range 50 {
			if err := syscall.Rmdir(holder); err == nil || errors.Is(err, fs.ErrNotExist) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("removing %s", holder)
	})
	require.NoError(t, os.WriteFile(filepath.Join(holder, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0))

	reader := NewMemoryReader(h.Mode)
	before := testcgroup.ReadKernel(t, holder).Kmem
	for _, p := range discovered.Pods {
		for _, c := range p.Containers {
			_, err := reader.Read(catalog.Handle(c.Path))
			require.NoError(t, err)
		}
		_, err := reader.ReadOptional(catalog.Handle(p.Path), 0)
		require.NoError(t, err)
	}
	after := testcgroup.ReadKernel(t, holder).Kmem
	open := files.Open()
	require.Greater(t, open, 1000, "the files are kept open")
	perFile := float64(after-before) / float64(open)
	t.Logf("%d files kept open: %.0f bytes of kernel memory each (%d in all)", open, perFile, after-before)
	require.Greater(t, perFile, 1000.0, "the kernel charges the reader for its open files")
	require.LessOrEqual(t, perFile, float64(keptOpenFileKernelBytes), "within the deployment's sizing")
}

// ownMemoryCgroup is the directory of the v1 memory cgroup this process is in.
func ownMemoryCgroup(t *testing.T) string {
	t.Helper()
	f, err := os.Open("/proc/self/cgroup")
	require.NoError(t, err)
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) == 3 && strings.Contains(","+parts[1]+",", ",memory,") {
			return filepath.Join(testcgroup.Hierarchy, parts[2])
		}
	}
	t.Fatal("no memory line in /proc/self/cgroup")
	return ""
}
