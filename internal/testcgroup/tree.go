package testcgroup

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Hierarchy is where the host mounts the cgroup v1 memory controller.
const Hierarchy = "/sys/fs/cgroup/memory"

// UnifiedHierarchy is where a hybrid host mounts cgroup2 beside the v1 controllers.
const UnifiedHierarchy = "/sys/fs/cgroup/unified"

// cgroupSuperMagic is statfs's f_type of a cgroup v1 mount (CGROUP_SUPER_MAGIC).
const cgroupSuperMagic = 0x27e0eb

// cgroup2SuperMagic is statfs's f_type of a cgroup2 mount (CGROUP2_SUPER_MAGIC).
const cgroup2SuperMagic = 0x63677270

// Kubernetes QoS classes, as AddContainer takes them.
const (
	QoSGuaranteed = "guaranteed"
	QoSBurstable  = "burstable"
	QoSBestEffort = "besteffort"
)

// Tree is a Kubernetes-shaped cgroup tree under a unique directory of the real memory
// hierarchy. Its methods that take no testing.TB report to the test that called New and must
// be called from that test's goroutine.
type Tree struct {
	tb      testing.TB
	dir     string   // the unique test root in the real hierarchy
	unified string   // its twin in the unified (cgroup2) mount of a hybrid host; "" if none
	root    string   // the host root handed to the receiver
	made    []string // cgroups created, each after its parent
}

// New creates an empty tree and registers its removal with tb.Cleanup. It skips the test
// when the v1 memory hierarchy cannot be written.
func New(tb testing.TB) *Tree {
	tb.Helper()
	skipUnlessWritable(tb)
	dir := filepath.Join(Hierarchy, "cgroupmem-test-"+randomHex(6))
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			tb.Skipf("testcgroup: cannot create a cgroup in %s: %v", Hierarchy, err)
		}
		tb.Fatalf("testcgroup: creating the test root: %v", err)
	}
	t := &Tree{tb: tb, dir: dir, made: []string{dir}}
	tb.Cleanup(t.remove)
	t.unified = makeUnified(filepath.Base(dir))
	if t.unified != "" {
		t.made = append(t.made, t.unified)
	}
	t.root = makeRoot(tb, dir, t.unified)
	return t
}

// makeUnified creates the tree's twin in the unified mount of a hybrid host, where the
// kernel accounts memory pressure per cgroup even though the memory controller is on v1. It
// returns "" when there is no writable cgroup2 mount there.
func makeUnified(name string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(UnifiedHierarchy, &st); err != nil || st.Type != cgroup2SuperMagic {
		return ""
	}
	dir := filepath.Join(UnifiedHierarchy, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return ""
	}
	return dir
}

// skipUnlessWritable skips when not root or when Hierarchy is not a v1 memory controller.
func skipUnlessWritable(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skipf("testcgroup: live cgroup tests need root to create cgroups in %s (euid %d)", Hierarchy, os.Geteuid())
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(Hierarchy, &st); err != nil || st.Type != cgroupSuperMagic {
		tb.Skipf("testcgroup: %s is not a cgroup v1 mount (statfs: type %#x, %v)", Hierarchy, st.Type, err)
	}
	if _, err := os.Stat(filepath.Join(Hierarchy, "memory.stat")); err != nil {
		tb.Skipf("testcgroup: %s is not the v1 memory controller: %v", Hierarchy, err)
	}
}

// makeRoot builds a host root in a temporary directory: sys/fs/cgroup/memory links to the
// test root, proc to /proc, and sys/fs/cgroup/unified to the test root's twin in the host's
// cgroup2 mount when it has one (a hybrid host).
func makeRoot(tb testing.TB, dir, unified string) string {
	tb.Helper()
	root := tb.TempDir()
	cg := filepath.Join(root, "sys", "fs", "cgroup")
	if err := os.MkdirAll(cg, 0o755); err != nil {
		tb.Fatalf("testcgroup: %v", err)
	}
	links := [][2]string{{dir, filepath.Join(cg, "memory")}, {"/proc", filepath.Join(root, "proc")}}
	if unified != "" {
		links = append(links, [2]string{unified, filepath.Join(cg, "unified")})
	}
	for _, l := range links {
		if err := os.Symlink(l[0], l[1]); err != nil {
			tb.Fatalf("testcgroup: %v", err)
		}
	}
	return root
}

// Root is a host root for the receiver's root_path: its sys/fs/cgroup/memory is the tree.
func (t *Tree) Root() string { return t.root }

// Dir is the tree's root cgroup in the real hierarchy, /sys/fs/cgroup/memory/cgroupmem-test-*.
func (t *Tree) Dir() string { return t.dir }

// Unified is the twin of a cgroup of the tree in the unified (cgroup2) mount of a hybrid
// host, /sys/fs/cgroup/unified/cgroupmem-test-*/<same path>, where its processes are placed
// too and its memory.pressure is; "" on a host without one.
func (t *Tree) Unified(dir string) string {
	if t.unified == "" {
		return ""
	}
	return filepath.Join(t.unified, strings.TrimPrefix(dir, t.dir))
}

// Rel is the path of a cgroup of the tree as the receiver sees it under Root: relative to
// the hierarchy, with a leading "/".
func (t *Tree) Rel(dir string) string { return "/" + strings.TrimPrefix(dir, t.dir+"/") }

// AddContainer creates a container's cgroup and its parents as the kubelet's cgroupfs driver
// lays them out: kubepods/pod<uid>/<id> for a guaranteed pod, kubepods/<qos>/pod<uid>/<id>
// for a burstable or besteffort one. It returns the container's cgroup directory; its parent
// is the pod's.
func (t *Tree) AddContainer(qos, podUID, containerID string) string {
	t.tb.Helper()
	parts := []string{"kubepods"}
	switch qos {
	case QoSGuaranteed:
	case QoSBurstable, QoSBestEffort:
		parts = append(parts, qos)
	default:
		t.tb.Fatalf("testcgroup: QoS class %q: want %s, %s or %s", qos, QoSGuaranteed, QoSBurstable, QoSBestEffort)
	}
	dir := t.dir
	for _, p := range append(parts, "pod"+podUID, containerID) {
		dir = filepath.Join(dir, p)
		t.mkdir(dir)
		if u := t.Unified(dir); u != "" {
			t.mkdir(u)
		}
	}
	return dir
}

func (t *Tree) mkdir(dir string) {
	t.tb.Helper()
	err := os.Mkdir(dir, 0o755)
	switch {
	case err == nil:
		t.made = append(t.made, dir)
	case !errors.Is(err, fs.ErrExist):
		t.tb.Fatalf("testcgroup: creating cgroup: %v", err)
	}
}

// SetMemoryLimit writes memory.limit_in_bytes of a cgroup.
func (t *Tree) SetMemoryLimit(dir string, limit uint64) {
	t.tb.Helper()
	p := filepath.Join(dir, "memory.limit_in_bytes")
	if err := os.WriteFile(p, []byte(strconv.FormatUint(limit, 10)), 0); err != nil {
		t.tb.Fatalf("testcgroup: setting the limit: %v", err)
	}
}

// Remove removes a cgroup of the tree now, and its unified twin, moving any process left in
// them to their parents, as a container runtime does when a container ends. Its children
// must have been removed.
func (t *Tree) Remove(dir string) {
	t.tb.Helper()
	if u := t.Unified(dir); u != "" {
		if err := removeCgroup(u); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.tb.Fatalf("testcgroup: %v", err)
		}
	}
	if err := removeCgroup(dir); err != nil {
		t.tb.Fatalf("testcgroup: %v", err)
	}
}

// remove is the tree's cleanup: every cgroup made, children before parents. Processes
// started by Start were stopped by their own, earlier cleanups.
func (t *Tree) remove() {
	for i := len(t.made) - 1; i >= 0; i-- {
		if err := removeCgroup(t.made[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.tb.Errorf("testcgroup: cleanup: %v", err)
		}
	}
}

// removeCgroup kills the processes left in a cgroup, moves them to the parent and removes
// the directory, retrying for a while on EBUSY: a killed task leaves its cgroup only once it
// has finished exiting.
func removeCgroup(dir string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		evacuate(dir)
		err := syscall.Rmdir(dir)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("removing cgroup %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// evacuate kills every process in a cgroup (never this one) and moves them to the parent.
// Errors are left to the rmdir that follows: it fails with EBUSY while any process remains.
func evacuate(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	parent := filepath.Join(filepath.Dir(dir), "cgroup.procs")
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		if pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		_ = os.WriteFile(parent, []byte(f), 0)
	}
}

// NewPodUID returns a random RFC 4122-shaped pod UID.
func NewPodUID() string {
	h := randomHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// NewContainerID returns a random 64-hex container ID.
func NewContainerID() string { return randomHex(32) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}
