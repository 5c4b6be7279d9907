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
		tree := New(t)
		dir, root, unified = tree.Dir(), tree.Root(), tree.Unified(tree.Dir())
		burstable := tree.AddContainer(QoSBurstable, uid, id)
		if unified != "" {
			_, err := os.Stat(filepath.Join(root, "sys", "fs", "cgroup", "unified", "kubepods", "burstable", "pod"+uid, id, "memory.pressure"))
			require.NoError(t, err, "the unified twin, seen through the root")
		}
		guaranteed := tree.AddContainer(QoSGuaranteed, uid, id)
		require.Equal(t, filepath.Join(dir, "kubepods", "burstable", "pod"+uid, id), burstable)
		require.Equal(t, filepath.Join(dir, "kubepods", "pod"+uid, id), guaranteed)
		require.Equal(t, "/kubepods/burstable/pod"+uid+"/"+id, tree.Rel(burstable))

		// The receiver finds the hierarchy and walks it through the root's symlinks.
		hier := filepath.Join(root, "sys", "fs", "cgroup", "memory")
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
