package testcgroup

import (
	"bufio"
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

	"github.com/stretchr/testify/require"
)

func TestParsePairs(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    map[string]uint64
		wantErr string
	}{
		{name: "memory.stat", input: "cache 4096\nrss 8192\n", want: map[string]uint64{"cache": 4096, "rss": 8192}},
		{name: "blank lines", input: "\noom_kill 3\n\n", want: map[string]uint64{"oom_kill": 3}},
		{name: "empty", input: "", want: map[string]uint64{}},
		{name: "one field", input: "cache\n", wantErr: `line "cache"`},
		{name: "not a number", input: "cache -1\n", wantErr: `line "cache -1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePairs("f", bufio.NewScanner(strings.NewReader(tt.input)))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestNewIDs(t *testing.T) {
	uid := NewPodUID()
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, uid)
	require.Regexp(t, `^[0-9a-f]{64}$`, NewContainerID())
	require.NotEqual(t, uid, NewPodUID())
}

func TestTreeLayoutAndCleanup(t *testing.T) {
	var dir, root, unified string
	uid := NewPodUID()
	id := NewContainerID()
	t.Run("build", func(t *testing.T) {
		tree := NewAnyVersion(t)
		dir, root, unified = tree.Dir(), tree.Root(), tree.Unified(tree.Dir())
		burstable := tree.AddContainer(QoSBurstable, uid, id)
		if unified != "" {
			_, err := os.Stat(filepath.Join(root, "sys", "fs", "cgroup", "unified", "kubepods", "burstable", "pod"+uid, id, "cgroup.procs"))
			require.NoError(t, err, "the unified twin, seen through the root")
		}
		guaranteed := tree.AddContainer(QoSGuaranteed, uid, id)
		require.Equal(t, filepath.Join(dir, "kubepods", "burstable", "pod"+uid, id), burstable)
		require.Equal(t, filepath.Join(dir, "kubepods", "pod"+uid, id), guaranteed)
		require.Equal(t, "/kubepods/burstable/pod"+uid+"/"+id, tree.Rel(burstable))

		// The receiver finds the hierarchy and walks it through the root's symlinks.
		hier := filepath.Join(root, "sys", "fs", "cgroup", "memory")
		if tree.Mode() == V2 {
			hier = filepath.Join(root, "sys", "fs", "cgroup")
		}
		_, err := os.Stat(filepath.Join(hier, "memory.stat"))
		require.NoError(t, err)
		entries, err := os.ReadDir(filepath.Join(hier, "kubepods"))
		require.NoError(t, err)
		var names []string
		for _, e := range entries {
			if e.IsDir() {
				names = append(names, e.Name())
			}
		}
		require.Equal(t, []string{"burstable", "pod" + uid}, names)
		_, err = os.Stat(filepath.Join(root, "proc", "self", "status"))
		require.NoError(t, err)

		tree.SetMemoryLimit(guaranteed, 64<<20)
		require.Equal(t, uint64(64<<20), ReadKernel(t, guaranteed).Limit)
		require.False(t, ReadKernel(t, burstable).Limited())

		// A process left behind in a cgroup (the shell exits on SIGTERM, its sleep stays)
		// does not keep cleanup from removing it.
		tree.Start(t, burstable, exec.Command("sh", "-c", "sleep 600 & wait"))
	})
	if dir == "" {
		return // skipped
	}
	_, err := os.Stat(dir)
	require.True(t, errors.Is(err, fs.ErrNotExist), "test root left behind: %v", err)
	if unified != "" {
		_, err = os.Stat(unified)
		require.True(t, errors.Is(err, fs.ErrNotExist), "unified twin left behind: %v", err)
	}
	_, err = os.Lstat(root)
	require.True(t, errors.Is(err, fs.ErrNotExist), "temp root left behind: %v", err)
}

func TestStartJoinsBeforeWorking(t *testing.T) {
	tree := New(t)
	tests := []struct {
		name string
		cmd  func(t *testing.T) *exec.Cmd
	}{
		{name: "workload", cmd: func(t *testing.T) *exec.Cmd { return Command(t, Workload{}) }},
		{name: "command", cmd: func(*testing.T) *exec.Cmd { return exec.Command("sleep", "600") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tree.AddContainer(QoSBestEffort, NewPodUID(), NewContainerID())
			p := tree.Start(t, dir, tt.cmd(t))
			require.Equal(t, []int{p.Pid}, pids(t, dir))
			cg, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.Pid), "cgroup"))
			require.NoError(t, err)
			require.Contains(t, string(cg), ":memory:/"+filepath.Base(tree.Dir())+tree.Rel(dir)+"\n")
			if u := tree.Unified(dir); u != "" {
				require.Contains(t, string(cg), "0::/"+filepath.Base(tree.Dir())+tree.Rel(dir)+"\n", "in the unified twin too")
				require.Equal(t, []int{p.Pid}, pids(t, u))
			}
			require.NoError(t, p.Stop())
			require.Empty(t, pids(t, dir))
		})
	}
}

func TestStartFailsOnAMissingCgroup(t *testing.T) {
	tree := New(t)
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		tree.Start(ft, filepath.Join(tree.Dir(), "missing"), Command(t, Workload{}))
	}()
	require.Contains(t, ft.msg, "joining the cgroup")
}

// fatalRecorder keeps the message of Fatalf and panics instead of ending the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}

func TestWorkloadsCharge(t *testing.T) {
	tree := New(t)
	uid := NewPodUID()
	tests := []struct {
		name  string
		w     Workload
		check func(t *testing.T, k Kernel)
	}{
		{name: "anonymous memory", w: Workload{AnonMiB: 16}, check: func(t *testing.T, k Kernel) {
			require.GreaterOrEqual(t, k.Stat["total_rss"], uint64(16<<20))
		}},
		{name: "file I/O", w: Workload{FileMiB: 8}, check: func(t *testing.T, k Kernel) {
			require.GreaterOrEqual(t, k.Stat["total_cache"], uint64(8<<20))
			require.Positive(t, k.Stat["total_active_file"])
		}},
		{name: "temp file churn", w: Workload{TempFiles: 5000}, check: func(t *testing.T, k Kernel) {
			// 5,000 negative dentries of 192 bytes at least.
			require.GreaterOrEqual(t, k.Kmem, uint64(5000*192))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tree.AddContainer(QoSBurstable, uid, NewContainerID())
			tree.Start(t, dir, Command(t, tt.w))
			tt.check(t, ReadKernel(t, dir))
		})
	}
}

func pids(t *testing.T, dir string) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	require.NoError(t, err)
	var out []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		require.NoError(t, err)
		out = append(out, pid)
	}
	slices.Sort(out)
	return out
}

// TestMakeWithSleepers builds a tree without testing.TB, as bench/collectorrss does: the
// sleepers are in their cgroups (the kernel's cgroup.procs and /proc/<pid>/cgroup say so) and
// Close removes every cgroup, kills every sleeper and removes the host root.
func TestMakeWithSleepers(t *testing.T) {
	tree, err := Make("cgroupmem-test-make-")
	if errors.Is(err, ErrUnavailable) {
		t.Skip(err)
	}
	require.NoError(t, err)
	closed := false
	t.Cleanup(func() {
		if !closed {
			require.NoError(t, tree.Close())
		}
	})
	uid := NewPodUID()
	var dirs []string
	for range 2 {
		dir, err := tree.MakeContainer(QoSBurstable, uid, NewContainerID())
		require.NoError(t, err)
		require.NoError(t, tree.StartSleeper(dir))
		dirs = append(dirs, dir)
	}
	_, err = tree.MakeContainer("gold", uid, NewContainerID())
	require.ErrorContains(t, err, `QoS class "gold"`)
	require.NoError(t, tree.WaitJoined())
	var sleepers []int
	for _, dir := range dirs {
		ps := pids(t, dir)
		require.Len(t, ps, 1, "one sleeper in %s", dir)
		sleepers = append(sleepers, ps[0])
		if u := tree.Unified(dir); u != "" {
			require.Equal(t, ps, pids(t, u), "the sleeper joined the unified twin too")
		}
		require.Positive(t, ReadKernel(t, dir).Usage, "the sleeper's memory is charged to %s", dir)
	}
	root, top := tree.Root(), tree.Dir()
	require.NoError(t, tree.Close())
	closed = true
	for _, pid := range sleepers {
		_, err := os.Stat(fmt.Sprintf("/proc/%d/cgroup", pid))
		require.True(t, errors.Is(err, fs.ErrNotExist), "sleeper %d still runs", pid)
	}
	for _, p := range []string{top, root} {
		_, err := os.Lstat(p)
		require.True(t, errors.Is(err, fs.ErrNotExist), "%s left behind: %v", p, err)
	}
	require.NoError(t, tree.Close(), "a second Close")
}

// TestV2Layout builds a v2 tree in this host's cgroup2 mount: /sys/fs/cgroup on a v2 host,
// /sys/fs/cgroup/unified on a hybrid one, where the memory controller is not available (so
// no controller is enabled there and the memory files are not checked). The layout, the host
// root, a sleeper's placement and the removal are what a v2 host's live tests rely on.
func TestV2Layout(t *testing.T) {
	mode, _ := detect()
	hier, enable := V2Hierarchy, "+memory"
	switch mode {
	case V2:
	case V1:
		var st syscall.Statfs_t
		if err := syscall.Statfs(UnifiedHierarchy, &st); err != nil || st.Type != cgroup2SuperMagic {
			t.Skip("no cgroup2 mount at " + UnifiedHierarchy)
		}
		hier, enable = UnifiedHierarchy, ""
	default:
		t.Skip("no writable cgroup hierarchy")
	}
	tree, err := makeIn(V2, hier, enable, "cgroupmem-test-v2-", options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, tree.Close()) })
	uid, id := NewPodUID(), NewContainerID()
	dir, err := tree.MakeContainer(QoSBestEffort, uid, id)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(tree.Dir(), "kubepods", "besteffort", "pod"+uid, id), dir)
	require.Empty(t, tree.Unified(dir), "no twin on v2")
	seen := filepath.Join(tree.Root(), "sys", "fs", "cgroup", "kubepods", "besteffort", "pod"+uid, id, "cgroup.procs")
	_, err = os.Stat(seen)
	require.NoError(t, err, "the root's sys/fs/cgroup is the tree")
	if enable != "" {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(dir), "cgroup.subtree_control"))
		require.NoError(t, err)
		require.Contains(t, strings.Fields(string(b)), "memory", "the pod gives its containers the memory controller")
	}
	require.NoError(t, tree.StartSleeper(dir))
	require.NoError(t, tree.WaitJoined())
	require.Len(t, pids(t, dir), 1)
}
