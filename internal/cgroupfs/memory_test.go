package cgroupfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/cgroupmem/cgroupmem/internal/psi"
)

func TestReadFixtures(t *testing.T) {
	v1 := fixtureV1 + "/sys/fs/cgroup/memory/kubepods/burstable/pod" + uidApp + "/" + workload
	v2 := fixtureV2 + "/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f0a9d1e_7c55_4b8e_9a31_2d4be2f1c0aa.slice/cri-containerd-" + workload + ".scope"
	tests := []struct {
		name string
		mode Mode
		dir  string
		want Memory
	}{
		{name: "v1 workload", mode: ModeHybrid, dir: v1, want: Memory{
			Usage: some(202100736), RSS: some(76804096), Cache: some(102137856),
			ActiveFile: some(100675584), InactiveFile: some(1462272), Kmem: some(23040000),
			Swap: some(0), OOMKills: some(0), RSSHuge: some(0), MappedFile: some(176128),
			Shmem: some(0), PageFaults: some(26724), MajorPageFaults: some(2),
			Events: Events{Max: some(0)}, UnderOOM: some(0), Peak: some(202637312),
			RefaultFile: some(357), RefaultAnon: some(0),
			// No activations, pgscan or pgsteal in a v1 memory.stat; no unified directory
			// given to this handle, so no PSI.
			// memory.limit_in_bytes is unlimited; memory.kmem.tcp was never activated;
			// memory.kmem.slabinfo is empty on 6.18.
		}},
		{name: "v2 workload", mode: ModeV2, dir: v2, want: Memory{
			Usage: some(204660736), RSS: some(77873152), Cache: some(101834752),
			ActiveFile: some(101003264), InactiveFile: some(831488), Kmem: some(23142400),
			SlabReclaimable: some(22884776), SlabUnreclaimable: some(32848), Sock: some(1716224),
			Swap: some(0), OOMKills: some(0), RSSHuge: some(0), MappedFile: some(0), Shmem: some(0),
			PageFaults: some(19585), MajorPageFaults: some(0),
			Events: Events{Low: some(0), High: some(0), Max: some(0), OOM: some(0), OOMKill: some(0), OOMGroupKill: some(0)},
			Peak:   some(206524416), RefaultFile: some(0), RefaultAnon: some(0), ActivateFile: some(0), ActivateAnon: some(0),
			PgScan: some(0), PgSteal: some(0),
			Pressure: psi.Pressure{Some: psi.Line{OK: true}, Full: psi.Line{OK: true}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readDir(tt.mode, tt.dir)
			require.NoError(t, err)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestWorkingSet(t *testing.T) {
	tests := []struct {
		name string
		m    Memory
		want Value
	}{
		{name: "usage minus inactive file", m: Memory{Usage: some(100), InactiveFile: some(30)}, want: some(70)},
		{name: "floored at zero", m: Memory{Usage: some(10), InactiveFile: some(30)}, want: some(0)},
		{name: "no inactive file: a failed memory.stat, absent", m: Memory{Usage: some(10)}},
		{name: "no usage", m: Memory{InactiveFile: some(30)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.m.WorkingSet())
		})
	}
}

// cgroupDir writes a synthetic cgroup's files.
func cgroupDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		writeFile(t, filepath.Join(dir, name), content)
	}
	return dir
}

func TestReadV2KernelBefore518(t *testing.T) {
	dir := cgroupDir(t, map[string]string{
		"memory.current": "1000\n",
		"memory.stat":    "anon 10\nkernel_stack 4\npagetables 5\npercpu 6\nslab 7\nslab_reclaimable 5\nslab_unreclaimable 2\nvmalloc 8\n",
	})
	got, err := readDir(ModeV2, dir)
	require.NoError(t, err)
	require.Equal(t, some(4+5+6+7+8), got.Kmem)
	require.False(t, got.Limit.OK, "memory.max is missing")
	require.False(t, got.Swap.OK, "memory.swap.current is missing")
	require.False(t, got.OOMKills.OK, "memory.events is missing")
}

func TestReadV1SlabinfoAndTCP(t *testing.T) {
	const header = "slabinfo - version: 2.1\n# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n"
	base := map[string]string{"memory.stat": "total_rss 1\n", "memory.usage_in_bytes": "100\n"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name       string
		files      map[string]string
		wantDentry Value
		wantSock   Value
	}{
		{name: "kernel 4.x slabinfo with dentry row", files: with(map[string]string{
			"memory.kmem.slabinfo": header + "dentry            7900536 7900536    192   21    1 : tunables    0    0    0 : slabdata  376216 376216      0\n",
		}), wantDentry: some(7900536 * 192)},
		{name: "filled table without dentry row", files: with(map[string]string{
			"memory.kmem.slabinfo": header + "inode_cache 10 10 600 13 2 : tunables 0 0 0 : slabdata 1 1 0\n",
		}), wantDentry: some(0)},
		{name: "empty since 5.9", files: with(map[string]string{"memory.kmem.slabinfo": ""})},
		{name: "tcp accounting never activated", files: with(map[string]string{
			"memory.kmem.tcp.usage_in_bytes": "0\n", "memory.kmem.tcp.max_usage_in_bytes": "0\n",
			"memory.kmem.tcp.limit_in_bytes": "9223372036854771712\n",
		})},
		{name: "tcp accounting activated but nothing counted yet", files: with(map[string]string{
			"memory.kmem.tcp.usage_in_bytes": "0\n", "memory.kmem.tcp.max_usage_in_bytes": "0\n",
			"memory.kmem.tcp.limit_in_bytes": "1048576\n",
		})},
		{name: "tcp accounting counting", files: with(map[string]string{
			"memory.kmem.tcp.usage_in_bytes": "4096\n", "memory.kmem.tcp.max_usage_in_bytes": "8192\n",
			"memory.kmem.tcp.limit_in_bytes": "9223372036854771712\n",
		}), wantSock: some(4096)},
		{name: "tcp accounting counted before, empty now", files: with(map[string]string{
			"memory.kmem.tcp.usage_in_bytes": "0\n", "memory.kmem.tcp.max_usage_in_bytes": "8192\n",
			"memory.kmem.tcp.limit_in_bytes": "9223372036854771712\n",
		}), wantSock: some(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readDir(ModeV1, cgroupDir(t, tt.files))
			require.NoError(t, err)
			require.Equal(t, tt.wantDentry, got.SlabDentry)
			require.Equal(t, tt.wantSock, got.Sock)
		})
	}
}

func TestReadMalformedKeepsTheRest(t *testing.T) {
	dir := cgroupDir(t, map[string]string{
		"memory.current": "1000\n",
		"memory.stat":    "anon 10\nfile lots\n",
		"memory.max":     "2048\n",
	})
	got, err := readDir(ModeV2, dir)
	require.ErrorIs(t, err, ErrMalformed)
	require.ErrorContains(t, err, "memory.stat")
	require.ErrorContains(t, err, `"file lots"`)
	require.Equal(t, some(1000), got.Usage)
	require.Equal(t, some(2048), got.Limit)
	require.Equal(t, some(10), got.RSS, "lines before the bad one are kept")
}

func TestReadVanished(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	for _, mode := range []Mode{ModeV1, ModeV2} {
		_, err := readDir(mode, dir)
		require.ErrorIs(t, err, ErrVanished, mode.String())
	}
}

// readDir reads a cgroup directory once through a fresh handle.
func readDir(mode Mode, dir string) (Memory, error) {
	return NewMemoryReader(mode).Read(NewFiles(64).Cgroup(dir))
}

// failingOps fails opening or reading files whose name has the given suffix.
type failingOps struct {
	suffix   string
	openErr  error
	readErr  error
	failedFD int
	unixOps
}

func (f *failingOps) open(path string) (int, error) {
	if strings.HasSuffix(path, f.suffix) && f.openErr != nil {
		return -1, f.openErr
	}
	fd, err := f.unixOps.open(path)
	if strings.HasSuffix(path, f.suffix) {
		f.failedFD = fd
	}
	return fd, err
}

func (f *failingOps) pread(fd int, buf []byte, off int64) (int, error) {
	if fd == f.failedFD && f.readErr != nil {
		return 0, f.readErr
	}
	return f.unixOps.pread(fd, buf, off)
}

func TestReadErrors(t *testing.T) {
	dir := cgroupDir(t, map[string]string{
		"memory.current": "1000\n",
		"memory.stat":    "anon 10\n",
		"memory.max":     "2048\n",
	})
	tests := []struct {
		name        string
		ops         *failingOps
		wantErr     error
		wantMessage string
	}{
		{name: "permission denied names the file", ops: &failingOps{suffix: "memory.max", openErr: syscall.EACCES, failedFD: -2},
			wantErr: fs.ErrPermission, wantMessage: filepath.Join(dir, "memory.max")},
		{name: "ENODEV from a removed cgroup", ops: &failingOps{suffix: "memory.stat", readErr: syscall.ENODEV, failedFD: -2},
			wantErr: ErrVanished, wantMessage: filepath.Join(dir, "memory.stat")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := NewFiles(64)
			files.ops = tt.ops
			cg := files.Cgroup(dir)
			got, err := NewMemoryReader(ModeV2).Read(cg)
			require.ErrorIs(t, err, tt.wantErr)
			require.ErrorContains(t, err, tt.wantMessage)
			if errors.Is(err, ErrVanished) {
				require.Zero(t, files.Open(), "a vanished cgroup's files are closed")
			} else {
				require.Equal(t, some(1000), got.Usage)
			}
		})
	}
}

// removingOps removes the cgroup directory right after the file with the given suffix was read.
type removingOps struct {
	unixOps
	dir, suffix string
	fds         map[int]string
}

func (o *removingOps) open(path string) (int, error) {
	fd, err := o.unixOps.open(path)
	if err == nil {
		o.fds[fd] = path
	}
	return fd, err
}

func (o *removingOps) pread(fd int, buf []byte, off int64) (int, error) {
	n, err := o.unixOps.pread(fd, buf, off)
	if strings.HasSuffix(o.fds[fd], o.suffix) {
		_ = os.RemoveAll(o.dir)
	}
	return n, err
}

// TestReadVanishedMidFirstRead: a cgroup removed after its required files were read, before
// its optional ones were first opened, is vanished, not a cgroup without limit or kmem.
func TestReadVanishedMidFirstRead(t *testing.T) {
	for _, mode := range []Mode{ModeV1, ModeV2} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := cgroupDir(t, map[string]string{
				"memory.stat": "total_rss 1\nanon 1\n", "memory.usage_in_bytes": "100\n", "memory.current": "100\n",
				"memory.limit_in_bytes": "67108864\n", "memory.max": "67108864\n",
			})
			files := NewFiles(64)
			files.ops = &removingOps{dir: dir, suffix: map[Mode]string{ModeV1: "memory.usage_in_bytes", ModeV2: "memory.current"}[mode], fds: map[int]string{}}
			_, err := NewMemoryReader(mode).Read(files.Cgroup(dir))
			require.ErrorIs(t, err, ErrVanished)
			require.Zero(t, files.Open(), "the vanished cgroup's files are closed")
		})
	}
}

// TestReadOptional reads each optional reading alone: only its own files are opened besides
// the four every read needs (memory.stat, usage, limit, kmem on v1; stat, current, max on v2).
func TestReadOptional(t *testing.T) {
	const slabinfo = "slabinfo - version: 2.1\n# name <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\ndentry 10 10 192 21 1 : tunables 0 0 0 : slabdata 1 1 0\n"
	v1 := map[string]string{
		"memory.stat": "total_rss 1\ntotal_swap 2\n", "memory.usage_in_bytes": "100\n",
		"memory.limit_in_bytes": "200\n", "memory.kmem.usage_in_bytes": "3\n",
		"memory.kmem.tcp.max_usage_in_bytes": "8\n", "memory.kmem.tcp.usage_in_bytes": "4\n",
		"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n", "memory.kmem.slabinfo": slabinfo,
	}
	v2 := map[string]string{
		"memory.stat": "anon 1\nsock 6\n", "memory.current": "100\n", "memory.max": "200\n",
		"memory.swap.current": "2\n", "memory.events": "oom 1\noom_kill 5\n",
	}
	tests := []struct {
		name      string
		mode      Mode
		files     map[string]string
		opt       Optional
		want      Memory
		wantFiles int
	}{
		{name: "v1 none", mode: ModeV1, files: v1, opt: 0, wantFiles: 4,
			want: Memory{Usage: some(100), Limit: some(200), RSS: some(1), Swap: some(2), Kmem: some(3)}},
		{name: "v1 sock", mode: ModeV1, files: v1, opt: OptSock, wantFiles: 6,
			want: Memory{Usage: some(100), Limit: some(200), RSS: some(1), Swap: some(2), Kmem: some(3), Sock: some(4)}},
		{name: "v1 oom kills", mode: ModeV1, files: v1, opt: OptOOMKills, wantFiles: 5,
			want: Memory{Usage: some(100), Limit: some(200), RSS: some(1), Swap: some(2), Kmem: some(3), OOMKills: some(5)}},
		{name: "v1 slab dentry", mode: ModeV1, files: v1, opt: OptSlabDentry, wantFiles: 5,
			want: Memory{Usage: some(100), Limit: some(200), RSS: some(1), Swap: some(2), Kmem: some(3), SlabDentry: some(10 * 192)}},
		{name: "v2 none", mode: ModeV2, files: v2, opt: 0, wantFiles: 3,
			want: Memory{Usage: some(100), Limit: some(200), RSS: some(1), Sock: some(6)}},
		{name: "v2 swap", mode: ModeV2, files: v2, opt: OptSwap, wantFiles: 4,
			want: Memory{Usage: some(100), Limit: some(200), RSS: some(1), Sock: some(6), Swap: some(2)}},
		{name: "v2 oom kills", mode: ModeV2, files: v2, opt: OptOOMKills, wantFiles: 4,
			want: Memory{Usage: some(100), Limit: some(200), RSS: some(1), Sock: some(6), OOMKills: some(5)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := NewFiles(64)
			got, err := NewMemoryReader(tt.mode).ReadOptional(files.Cgroup(cgroupDir(t, tt.files)), tt.opt)
			require.NoError(t, err)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
			require.Equal(t, tt.wantFiles, files.Open(), "files kept open")
		})
	}
}

// TestTCPAccountingCheckedOnRediscovery: a cgroup whose tcp counters never ran is not read
// again for them until discovery walks the tree; once they have counted, they are read on
// every scrape.
func TestTCPAccountingCheckedOnRediscovery(t *testing.T) {
	dir := cgroupDir(t, map[string]string{
		"memory.stat": "total_rss 1\n", "memory.usage_in_bytes": "100\n", "memory.limit_in_bytes": "200\n",
		"memory.kmem.usage_in_bytes":         "3\n",
		"memory.kmem.tcp.usage_in_bytes":     "0\n",
		"memory.kmem.tcp.max_usage_in_bytes": "0\n",
	})
	files := NewFiles(64)
	cg := files.Cgroup(dir)
	r := NewMemoryReader(ModeV1)
	read := func() Value {
		t.Helper()
		m, err := r.ReadOptional(cg, OptSock)
		require.NoError(t, err)
		return m.Sock
	}
	require.Equal(t, Value{}, read(), "never counted: not reported")
	require.Equal(t, 5, files.Open(), "the usage file is not opened while the counters are idle")

	// Someone writes memory.kmem.tcp.limit_in_bytes and sockets get charged.
	writeFile(t, filepath.Join(dir, "memory.kmem.tcp.max_usage_in_bytes"), "8192\n")
	writeFile(t, filepath.Join(dir, "memory.kmem.tcp.usage_in_bytes"), "4096\n")
	require.Equal(t, Value{}, read(), "idle until the next discovery walk")

	cg.rediscovered()
	require.Equal(t, some(4096), read())
	writeFile(t, filepath.Join(dir, "memory.kmem.tcp.max_usage_in_bytes"), "0\n") // a reset of the mark
	writeFile(t, filepath.Join(dir, "memory.kmem.tcp.usage_in_bytes"), "0\n")
	require.Equal(t, some(0), read(), "counters that ran keep being read")
	cg.rediscovered()
	require.Equal(t, some(0), read(), "and stay active across walks")
}

// TestOOMKillsReadWhenTheNodeCountChanges: with the node's OOM kill count known, a cgroup's
// oom_kill is read again only once that count moved; unknown, it is read every time.
func TestOOMKillsReadWhenTheNodeCountChanges(t *testing.T) {
	for _, tt := range []struct {
		mode       Mode
		file, stat string
		oom        func(n int) string
	}{
		{ModeV1, "memory.oom_control", "total_rss 1\n", func(n int) string { return fmt.Sprintf("oom_kill_disable 0\nunder_oom 0\noom_kill %d\n", n) }},
		{ModeV2, "memory.events", "anon 1\n", func(n int) string { return fmt.Sprintf("low 0\nhigh 0\nmax 9\noom 2\noom_kill %d\n", n) }},
	} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			dir := cgroupDir(t, map[string]string{
				"memory.stat": tt.stat, "memory.usage_in_bytes": "100\n", "memory.current": "100\n", tt.file: tt.oom(1),
			})
			cg := NewFiles(64).Cgroup(dir)
			r := NewMemoryReader(tt.mode)
			read := func() Value {
				t.Helper()
				m, err := r.ReadOptional(cg, OptOOMKills)
				require.NoError(t, err)
				return m.OOMKills
			}
			require.Equal(t, some(1), read(), "never told the node's count: read")
			writeFile(t, filepath.Join(dir, tt.file), tt.oom(2))
			require.Equal(t, some(2), read(), "never told: read every time")

			r.NodeOOMKills(40, true)
			require.Equal(t, some(2), read(), "first read of the epoch")
			writeFile(t, filepath.Join(dir, tt.file), tt.oom(3))
			r.NodeOOMKills(40, true)
			require.Equal(t, some(2), read(), "the node's count did not move: the handle's value holds")
			r.NodeOOMKills(41, true)
			require.Equal(t, some(3), read(), "it moved: read again")

			writeFile(t, filepath.Join(dir, tt.file), "oom_kill many\n")
			r.NodeOOMKills(42, true)
			_, err := r.ReadOptional(cg, OptOOMKills)
			require.ErrorIs(t, err, ErrMalformed)
			writeFile(t, filepath.Join(dir, tt.file), tt.oom(4))
			r.NodeOOMKills(42, true)
			require.Equal(t, some(4), read(), "a failed read is not kept")

			writeFile(t, filepath.Join(dir, tt.file), tt.oom(5))
			r.NodeOOMKills(0, false)
			require.Equal(t, some(5), read(), "the node's count unknown: read every time")
		})
	}
}
