package cgroupfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// corruption is one way a file can come back wrong, in a file of single numbers or of
// "key value" lines (key is the file's first key).
type corruption struct {
	name       string
	number, kv func(key string) string
	wantNumber string // in the error of a number file
	wantKV     string // in the error of a "key value" file
}

var corruptions = []corruption{
	{name: "garbage",
		number: func(string) string { return "lots\n" }, wantNumber: `"lots"`,
		kv: func(string) string { return "lots of memory\n" }, wantKV: `"lots of memory"`},
	{name: "overflow",
		number: func(string) string { return "18446744073709551616\n" }, wantNumber: `"18446744073709551616" overflows`,
		kv: func(k string) string { return k + " 18446744073709551616\n" }, wantKV: `"18446744073709551616" overflows`},
	{name: "negative",
		number: func(string) string { return "-4096\n" }, wantNumber: `"-4096" is not an unsigned integer`,
		kv: func(k string) string { return k + " -4096\n" }, wantKV: `"-4096" is not an unsigned integer`},
	{name: "binary",
		number: func(string) string { return "\x00\x01\xfe\xff\n" }, wantNumber: `"\x00\x01\xfe\xff"`,
		kv: func(string) string { return "\x00\x01 \xfe\xff\n" }, wantKV: `"\x00\x01 \xfe\xff"`},
	{name: "truncated",
		number: func(string) string { return " \n" }, wantNumber: "empty value",
		kv: func(k string) string { return k }, wantKV: `line "` + `%KEY%` + `": want "key value"`},
	{name: "empty",
		number: func(string) string { return "" }, wantNumber: "empty value",
		kv: func(string) string { return "" }, wantKV: `no "key value" line`},
}

// corruptFile is one file of a cgroup, and the readings that come from it alone.
type corruptFile struct {
	name  string
	kv    bool // "key value" lines, else one number
	clear func(*Memory)
}

var (
	v1Files = []corruptFile{
		{"memory.stat", true, func(m *Memory) {
			m.RSS, m.Cache, m.ActiveFile, m.InactiveFile, m.Swap, m.RSSHuge, m.MappedFile = Value{}, Value{}, Value{}, Value{}, Value{}, Value{}, Value{}
			m.Shmem, m.PageFaults, m.MajorPageFaults, m.RefaultFile, m.RefaultAnon = Value{}, Value{}, Value{}, Value{}, Value{}
		}},
		{"memory.usage_in_bytes", false, func(m *Memory) { m.Usage = Value{} }},
		{"memory.limit_in_bytes", false, func(m *Memory) { m.Limit = Value{} }},
		{"memory.kmem.usage_in_bytes", false, func(m *Memory) { m.Kmem = Value{} }},
		{"memory.oom_control", true, func(m *Memory) { m.UnderOOM, m.OOMKills = Value{}, Value{} }},
		{"memory.failcnt", false, func(m *Memory) { m.Events.Max = Value{} }},
		{"memory.max_usage_in_bytes", false, func(m *Memory) { m.Peak = Value{} }},
		{"memory.kmem.tcp.max_usage_in_bytes", false, func(*Memory) {}}, // never counted: no Sock anyway
	}
	v2Files = []corruptFile{
		{"memory.stat", true, func(m *Memory) {
			m.RSS, m.Cache, m.ActiveFile, m.InactiveFile, m.Kmem, m.SlabReclaimable, m.SlabUnreclaimable = Value{}, Value{}, Value{}, Value{}, Value{}, Value{}, Value{}
			m.Sock, m.RSSHuge, m.MappedFile, m.Shmem, m.PageFaults, m.MajorPageFaults = Value{}, Value{}, Value{}, Value{}, Value{}, Value{}
			m.RefaultFile, m.RefaultAnon, m.ActivateFile, m.ActivateAnon, m.PgScan, m.PgSteal = Value{}, Value{}, Value{}, Value{}, Value{}, Value{}
		}},
		{"memory.current", false, func(m *Memory) { m.Usage = Value{} }},
		{"memory.max", false, func(m *Memory) { m.Limit = Value{} }},
		{"memory.swap.current", false, func(m *Memory) { m.Swap = Value{} }},
		{"memory.events", true, func(m *Memory) { m.Events, m.OOMKills = Events{}, Value{} }},
		{"memory.peak", false, func(m *Memory) { m.Peak = Value{} }},
	}
)

// copyCgroup copies the files of a fixture cgroup directory (not its children).
func copyCgroup(t *testing.T, from string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(from)
	require.NoError(t, err)
	for _, e := range entries {
		if e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(from, e.Name()))
			require.NoError(t, err)
			writeFile(t, filepath.Join(dir, e.Name()), string(b))
		}
	}
	return dir
}

// TestReadCorruptedFiles corrupts each memory file of a real v1 and v2 container cgroup in
// each way, and checks that the read names the file and the bad token, loses exactly the
// readings of that file (and the working set, where the file is usage or memory.stat), and
// keeps every other reading as the clean read has it.
func TestReadCorruptedFiles(t *testing.T) {
	for _, h := range []struct {
		mode  Mode
		dir   string
		files []corruptFile
	}{
		{ModeHybrid, fixtureV1 + "/sys/fs/cgroup/memory/kubepods/burstable/pod" + uidApp + "/" + workload, v1Files},
		{ModeV2, fixtureV2 + "/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f0a9d1e_7c55_4b8e_9a31_2d4be2f1c0aa.slice/cri-containerd-" + workload + ".scope", v2Files},
	} {
		clean, err := readDir(h.mode, h.dir)
		require.NoError(t, err)
		require.True(t, clean.WorkingSet().OK)
		for _, f := range h.files {
			orig, err := os.ReadFile(filepath.Join(h.dir, f.name))
			require.NoError(t, err, "the fixture has %s", f.name)
			key, _, _ := strings.Cut(string(orig), " ")
			for _, c := range corruptions {
				t.Run(h.mode.String()+"/"+f.name+"/"+c.name, func(t *testing.T) {
					dir := copyCgroup(t, h.dir)
					content, want := c.number(key), c.wantNumber
					if f.kv {
						content, want = c.kv(key), strings.ReplaceAll(c.wantKV, "%KEY%", key)
					}
					writeFile(t, filepath.Join(dir, f.name), content)
					got, err := readDir(h.mode, dir)
					require.ErrorIs(t, err, ErrMalformed)
					require.NotErrorIs(t, err, ErrVanished)
					require.ErrorContains(t, err, filepath.Join(dir, f.name)+":")
					require.ErrorContains(t, err, want)
					require.Equal(t, 1, strings.Count(err.Error(), dir), "one error, for the corrupted file: %v", err)

					wantMem := clean
					f.clear(&wantMem)
					if d := cmp.Diff(wantMem, got); d != "" {
						t.Fatalf("readings (-want +got):\n%s", d)
					}
					if f.name == "memory.stat" || !wantMem.Usage.OK {
						require.False(t, got.WorkingSet().OK, "no working set without usage and inactive_file")
					} else {
						require.Equal(t, clean.WorkingSet(), got.WorkingSet())
					}
					require.False(t, got.Empty())
				})
			}
		}
	}
}

// TestReadBadStatLineCostsOnlyItsKey: one bad line of memory.stat loses its own reading, and
// what is derived from it, not the file's other lines.
func TestReadBadStatLineCostsOnlyItsKey(t *testing.T) {
	v1 := fixtureV1 + "/sys/fs/cgroup/memory/kubepods/burstable/pod" + uidApp + "/" + workload
	clean, err := readDir(ModeHybrid, v1)
	require.NoError(t, err)
	for _, tt := range []struct {
		key   string
		clear func(*Memory)
	}{
		{"total_rss", func(m *Memory) { m.RSS = Value{} }},
		{"total_inactive_file", func(m *Memory) { m.InactiveFile = Value{} }}, // and so the working set
	} {
		t.Run(tt.key, func(t *testing.T) {
			dir := copyCgroup(t, v1)
			b, err := os.ReadFile(filepath.Join(dir, "memory.stat"))
			require.NoError(t, err)
			var lines []string
			for _, l := range strings.Split(string(b), "\n") {
				if k, _, _ := strings.Cut(l, " "); k == tt.key {
					l = k + " 12x4"
				}
				lines = append(lines, l)
			}
			writeFile(t, filepath.Join(dir, "memory.stat"), strings.Join(lines, "\n"))
			got, err := readDir(ModeHybrid, dir)
			require.ErrorContains(t, err, `line "`+tt.key+` 12x4"`)
			want := clean
			tt.clear(&want)
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("readings (-want +got):\n%s", d)
			}
			require.Equal(t, tt.key != "total_inactive_file", got.WorkingSet().OK)
		})
	}
}
