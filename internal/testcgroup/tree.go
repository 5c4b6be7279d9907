package testcgroup

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// V2Hierarchy is where a cgroup v2 host mounts cgroup2, with the memory controller.
const V2Hierarchy = "/sys/fs/cgroup"

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

// Mode is the kind of hierarchy a tree is built in.
type Mode int

const (
	// V1 is the cgroup v1 memory controller at /sys/fs/cgroup/memory (with a twin in the
	// unified mount on a hybrid host).
	V1 Mode = iota + 1
	// V2 is cgroup2 at /sys/fs/cgroup with the memory controller.
	V2
)

// ErrUnavailable says that this host gives no writable memory hierarchy: not root, or
// neither a cgroup v1 memory controller nor a cgroup2 mount with the memory controller.
var ErrUnavailable = errors.New("testcgroup: no writable cgroup memory hierarchy")

// Tree is a Kubernetes-shaped cgroup tree under a unique directory of the real memory
// hierarchy, cgroup v1 or v2. Make builds one for any program; New builds one for a test,
// whose methods that take no testing.TB (AddContainer, SetMemoryLimit, Remove) report to
// that test and must be called from its goroutine.
type Tree struct {
	tb      testing.TB // New's; nil for a tree from Make
	mode    Mode
	dir     string   // the unique root in the real hierarchy
	unified string   // its twin in the unified (cgroup2) mount of a hybrid host; "" if none
	root    string   // the host root handed to the receiver
	made    []string // cgroups created, each after its parent
	enable  string   // what a v2 parent writes to cgroup.subtree_control: "+memory"
	sleep   []*exec.Cmd
}

// New creates an empty tree for a test in the cgroup v1 memory hierarchy and registers its
// removal with tb.Cleanup. It skips the test when the host has no writable v1 memory
// hierarchy: the test's checks hold v1's files. A test whose checks hold on both versions
// uses NewAnyVersion, which builds a v2 tree on a v2 host.
func New(tb testing.TB) *Tree {
	tb.Helper()
	t := NewAnyVersion(tb)
	if t.Mode() != V1 {
		tb.Skipf("testcgroup: this test reads cgroup v1 files, and this host has cgroup v2 (NewAnyVersion builds a v2 tree)")
	}
	return t
}

// NewAnyVersion creates an empty tree for a test in the host's memory hierarchy, cgroup v1
// or v2, and registers its removal with tb.Cleanup. It skips the test when the host has no
// writable memory hierarchy (ErrUnavailable).
func NewAnyVersion(tb testing.TB) *Tree {
	tb.Helper()
	t, err := Make("cgroupmem-test-")
	if errors.Is(err, ErrUnavailable) {
		tb.Skipf("%v", err)
	}
	if err != nil {
		tb.Fatalf("testcgroup: %v", err)
	}
	t.tb = tb
	tb.Cleanup(func() {
		if err := t.Close(); err != nil {
			tb.Errorf("testcgroup: cleanup: %v", err)
		}
	})
	return t
}

// Option changes how Make builds a tree.
type Option func(*options)

type options struct{ noTwin bool }

// WithoutUnifiedTwin leaves out the twin in the unified mount of a hybrid host: the tree's
// processes are then in the v1 memory hierarchy alone, and the host root has no
// sys/fs/cgroup/unified, so the receiver reads no memory.pressure.
func WithoutUnifiedTwin() Option { return func(o *options) { o.noTwin = true } }

// Make creates an empty tree in the host's memory hierarchy, in a directory named prefix
// and random hex, with a host root in a temporary directory. Close removes both. It returns
// an error wrapping ErrUnavailable when the host has no writable memory hierarchy.
func Make(prefix string, opts ...Option) (*Tree, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	mode, reason := detect()
	if mode == 0 {
		return nil, fmt.Errorf("%w: %s", ErrUnavailable, reason)
	}
	hier, enable := Hierarchy, ""
	if mode == V2 {
		hier, enable = V2Hierarchy, "+memory"
	}
	return makeIn(mode, hier, enable, prefix, o)
}

// makeIn builds the tree's root directory in hier; enable is written to cgroup.subtree_control
// of every cgroup that gets children on v2.
func makeIn(mode Mode, hier, enable, prefix string, o options) (_ *Tree, err error) {
	name := prefix + randomHex(6)
	t := &Tree{mode: mode, dir: filepath.Join(hier, name), enable: enable}
	if err := os.Mkdir(t.dir, 0o755); err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return nil, fmt.Errorf("%w: cannot create a cgroup in %s: %w", ErrUnavailable, hier, err)
		}
		return nil, fmt.Errorf("creating the tree's root: %w", err)
	}
	t.made = []string{t.dir}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.Close())
		}
	}()
	if err := t.enableChildren(t.dir); err != nil {
		return nil, err
	}
	if mode == V1 && !o.noTwin {
		t.unified = makeUnified(name)
		if t.unified != "" {
			t.made = append(t.made, t.unified)
		}
	}
	if t.root, err = makeRoot(mode, t.dir, t.unified); err != nil {
		return nil, err
	}
	return t, nil
}

// detect says which hierarchy this host gives, and when none, why.
func detect() (Mode, string) {
	if os.Geteuid() != 0 {
		return 0, fmt.Sprintf("live cgroup tests need root to create cgroups (euid %d)", os.Geteuid())
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(Hierarchy, &st); err == nil && st.Type == cgroupSuperMagic {
		if _, err := os.Stat(filepath.Join(Hierarchy, "memory.stat")); err == nil {
			return V1, ""
		}
	}
	if err := syscall.Statfs(V2Hierarchy, &st); err != nil || st.Type != cgroup2SuperMagic {
		return 0, fmt.Sprintf("neither %s (cgroup v1 memory) nor %s (cgroup2) is mounted", Hierarchy, V2Hierarchy)
	}
	for _, f := range []string{"cgroup.controllers", "cgroup.subtree_control"} {
		b, err := os.ReadFile(filepath.Join(V2Hierarchy, f))
		if err != nil || !slices.Contains(strings.Fields(string(b)), "memory") {
			return 0, fmt.Sprintf("%s/%s does not list memory (%v)", V2Hierarchy, f, err)
		}
	}
	return V2, ""
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

// makeRoot builds a host root in a temporary directory, with proc linked to /proc. On v1
// sys/fs/cgroup/memory links to the tree's root, and sys/fs/cgroup/unified to its twin in the
// host's cgroup2 mount when it has one (a hybrid host); on v2 sys/fs/cgroup links to the
// tree's root, whose cgroup.controllers lists memory as the host's /sys/fs/cgroup does.
func makeRoot(mode Mode, dir, unified string) (string, error) {
	root, err := os.MkdirTemp("", "cgroupmem-root-")
	if err != nil {
		return "", err
	}
	fsDir := filepath.Join(root, "sys", "fs")
	links := [][2]string{{"/proc", filepath.Join(root, "proc")}}
	if mode == V2 {
		links = append(links, [2]string{dir, filepath.Join(fsDir, "cgroup")})
	} else {
		fsDir = filepath.Join(fsDir, "cgroup")
		links = append(links, [2]string{dir, filepath.Join(fsDir, "memory")})
		if unified != "" {
			links = append(links, [2]string{unified, filepath.Join(fsDir, "unified")})
		}
	}
	err = os.MkdirAll(fsDir, 0o755)
	for _, l := range links {
		if err == nil {
			err = os.Symlink(l[0], l[1])
		}
	}
	if err != nil {
		return "", errors.Join(err, os.RemoveAll(root))
	}
	return root, nil
}

// Mode is the kind of hierarchy the tree is in.
func (t *Tree) Mode() Mode { return t.mode }

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
// is the pod's. Only on a tree from New; MakeContainer is the same for any program.
func (t *Tree) AddContainer(qos, podUID, containerID string) string {
	t.tb.Helper()
	dir, err := t.MakeContainer(qos, podUID, containerID)
	if err != nil {
		t.tb.Fatalf("testcgroup: %v", err)
	}
	return dir
}

// MakeContainer is AddContainer returning its error.
func (t *Tree) MakeContainer(qos, podUID, containerID string) (string, error) {
	parts := []string{"kubepods"}
	switch qos {
	case QoSGuaranteed:
	case QoSBurstable, QoSBestEffort:
		parts = append(parts, qos)
	default:
		return "", fmt.Errorf("QoS class %q: want %s, %s or %s", qos, QoSGuaranteed, QoSBurstable, QoSBestEffort)
	}
	return t.makePath(append(parts, "pod"+podUID, containerID))
}

// AddCgroup creates a cgroup of the tree at rel ("a/b"; its parents too) that is not laid out
// as the kubelet does, and returns its directory. Only on a tree from New; MakeCgroup is the
// same for any program.
func (t *Tree) AddCgroup(rel string) string {
	t.tb.Helper()
	dir, err := t.MakeCgroup(rel)
	if err != nil {
		t.tb.Fatalf("testcgroup: %v", err)
	}
	return dir
}

// MakeCgroup is AddCgroup returning its error.
func (t *Tree) MakeCgroup(rel string) (string, error) {
	parts := strings.Split(filepath.Clean(rel), string(filepath.Separator))
	if filepath.IsAbs(rel) || slices.Contains(parts, "..") || rel == "" {
		return "", fmt.Errorf("cgroup %q: want a path relative to the tree", rel)
	}
	return t.makePath(parts)
}

// makePath creates the cgroups of parts under the tree's root, each with its unified twin,
// and gives the children of all but the last the memory controller (v2).
func (t *Tree) makePath(parts []string) (string, error) {
	dir := t.dir
	for i, p := range parts {
		dir = filepath.Join(dir, p)
		if err := t.mkdir(dir); err != nil {
			return "", err
		}
		if u := t.Unified(dir); u != "" {
			if err := t.mkdir(u); err != nil {
				return "", err
			}
		}
		if i < len(parts)-1 {
			if err := t.enableChildren(dir); err != nil {
				return "", err
			}
		}
	}
	return dir, nil
}

func (t *Tree) mkdir(dir string) error {
	err := os.Mkdir(dir, 0o755)
	switch {
	case err == nil:
		t.made = append(t.made, dir)
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("creating cgroup: %w", err)
	}
	return nil
}

// enableChildren gives a v2 cgroup's children the memory controller, as the kubelet does
// for its levels; on v1 every cgroup of the hierarchy has it.
func (t *Tree) enableChildren(dir string) error {
	if t.mode != V2 || t.enable == "" {
		return nil
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(t.enable), 0); err != nil {
		return fmt.Errorf("enabling %s for the children of %s: %w", t.enable, dir, err)
	}
	return nil
}

// SetMemoryLimit writes the memory limit of a cgroup: v1 memory.limit_in_bytes, v2
// memory.max.
func (t *Tree) SetMemoryLimit(dir string, limit uint64) {
	t.tb.Helper()
	if err := t.SetLimit(dir, limit); err != nil {
		t.tb.Fatalf("testcgroup: %v", err)
	}
}

// SetLimit is SetMemoryLimit returning its error.
func (t *Tree) SetLimit(dir string, limit uint64) error {
	name := "memory.limit_in_bytes"
	if t.mode == V2 {
		name = "memory.max"
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(strconv.FormatUint(limit, 10)), 0); err != nil {
		return fmt.Errorf("setting the limit: %w", err)
	}
	return nil
}

// Remove removes a cgroup of the tree now, and its unified twin, moving any process left in
// them to their parents, as a container runtime does when a container ends. Its children
// must have been removed.
func (t *Tree) Remove(dir string) {
	t.tb.Helper()
	if u := t.Unified(dir); u != "" {
		if err := RemoveCgroup(u); err != nil {
			t.tb.Fatalf("testcgroup: %v", err)
		}
	}
	if err := RemoveCgroup(dir); err != nil {
		t.tb.Fatalf("testcgroup: %v", err)
	}
}

// StartSleeper starts `sleep infinity` in a container's cgroup (and its unified twin): a
// shell joins the cgroup and execs sleep, whose memory is charged to the cgroup from its exec
// on. It is for programs without a test binary to re-execute (Start is for tests); Close
// kills the sleepers. WaitJoined waits until every sleeper is in its cgroup.
func (t *Tree) StartSleeper(dir string) error {
	_, err := t.StartIn(dir, "sleep", "infinity")
	return err
}

// StartIn is StartSleeper with another command: a shell joins the cgroup (and its unified
// twin) and execs argv, keeping its process ID; Close kills it like a sleeper.
func (t *Tree) StartIn(dir string, argv ...string) (*exec.Cmd, error) {
	script, args := `echo $$ > "$1" && shift && exec "$@"`, []string{filepath.Join(dir, "cgroup.procs")}
	if u := t.Unified(dir); u != "" {
		script, args = `echo $$ > "$1" && echo $$ > "$2" && shift 2 && exec "$@"`, append(args, filepath.Join(u, "cgroup.procs"))
	}
	cmd := exec.Command("sh", append(append([]string{"-c", script, "sh"}, args...), argv...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s in %s: %w", argv[0], dir, err)
	}
	t.sleep = append(t.sleep, cmd)
	return cmd, nil
}

// WaitJoined waits up to 30 s until every sleeper is in a cgroup of the tree.
func (t *Tree) WaitJoined() error {
	deadline := time.Now().Add(30 * time.Second)
	want := "/" + filepath.Base(t.dir) + "/"
	for _, cmd := range t.sleep {
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", cmd.Process.Pid))
			if err == nil && t.inTree(string(b), want) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("sleeper %d did not join its cgroup: %v", cmd.Process.Pid, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

// inTree reports whether a /proc/<pid>/cgroup places the process in the tree: in the memory
// controller's line on v1 (and the unified line "0::" too when the tree has a twin there), in
// the unified line on v2.
func (t *Tree) inTree(procCgroup, want string) bool {
	memory, unified := false, false
	for _, line := range strings.Split(procCgroup, "\n") {
		_, rest, _ := strings.Cut(line, ":")
		ctrl, path, _ := strings.Cut(rest, ":")
		if !strings.Contains(path+"/", want) {
			continue
		}
		switch {
		case ctrl == "":
			unified = true
		case slices.Contains(strings.Split(ctrl, ","), "memory"):
			memory = true
		}
	}
	if t.mode == V2 {
		return unified
	}
	return memory && (t.unified == "" || unified)
}

// Close kills the sleepers, removes every cgroup made, children before parents, and the host
// root. Processes started by Start were stopped by their own, earlier cleanups. It can be
// called more than once.
func (t *Tree) Close() error {
	for _, cmd := range t.sleep {
		_ = cmd.Process.Kill()
	}
	for _, cmd := range t.sleep {
		_ = cmd.Wait()
	}
	t.sleep = nil
	var errs []error
	for i := len(t.made) - 1; i >= 0; i-- {
		if err := RemoveCgroup(t.made[i]); err != nil {
			errs = append(errs, err)
		}
	}
	t.made = nil
	if t.root != "" {
		errs = append(errs, os.RemoveAll(t.root))
		t.root = ""
	}
	return errors.Join(errs...)
}

// RemoveTree removes a cgroup directory and every cgroup under it, children first, with
// RemoveCgroup: for cgroups a test made without a Tree (a runtime's, or raw mkdirs a test
// of the kernel's own behaviour needs). Use it only on a directory the caller made. A
// directory already gone is no error.
func RemoveTree(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var errs []error
	for i := len(dirs) - 1; i >= 0; i-- { // WalkDir lists a directory before its children
		errs = append(errs, RemoveCgroup(dirs[i]))
	}
	return errors.Join(errs...)
}

// RemoveCgroup kills the processes left in a cgroup (never this one), moves them to the
// parent and removes the directory, retrying for a while on EBUSY: a killed task leaves its
// cgroup only once it has finished exiting. A cgroup already gone is no error. Its children
// must have been removed.
func RemoveCgroup(dir string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		evacuate(dir)
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
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

// CPUTime is the user and system CPU time this process has used so far (getrusage
// RUSAGE_SELF: every thread, the garbage collector included), which benchmarks divide by
// their work: on a shared machine it holds steadier than the wall clock.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
