package cgroupfs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/cgroupmem/cgroupmem/internal/psi"
)

const pressureText = "some avg10=1.50 avg60=0.25 avg300=0.00 total=4000\nfull avg10=0.75 avg60=0.00 avg300=0.00 total=1000\n"

var pressureParsed = psi.Pressure{
	Some: psi.Line{Avg10: 1.5, Avg60: 0.25, Total: 4000, OK: true},
	Full: psi.Line{Avg10: 0.75, Total: 1000, OK: true},
}

func TestReadPressureSignals(t *testing.T) {
	v1 := map[string]string{
		"memory.stat":           "total_rss 1\ntotal_workingset_refault_file 7\ntotal_workingset_refault_anon 8\nworkingset_refault_file 1\n",
		"memory.usage_in_bytes": "100\n", "memory.limit_in_bytes": "9223372036854771712\n",
		"memory.failcnt": "12\n", "memory.max_usage_in_bytes": "150\n",
		"memory.oom_control": "oom_kill_disable 0\nunder_oom 1\noom_kill 3\n",
	}
	v2 := map[string]string{
		"memory.stat": "anon 1\nworkingset_refault_file 7\nworkingset_refault_anon 8\nworkingset_activate_file 5\n" +
			"workingset_activate_anon 6\npgscan 40\npgsteal 30\npgscan_kswapd 20\n",
		"memory.current": "100\n", "memory.max": "max\n", "memory.peak": "150\n",
		"memory.events": "low 1\nhigh 2\nmax 12\noom 4\noom_kill 3\noom_group_kill 0\n", "memory.pressure": pressureText,
	}
	all := OptPressure | OptEvents | OptUnderOOM | OptPeak
	tests := []struct {
		name      string
		mode      Mode
		files     map[string]string
		unified   map[string]string // nil: no unified directory for the cgroup
		opt       Optional
		want      Memory
		wantFiles int
	}{
		{name: "v2 all", mode: ModeV2, files: v2, opt: all, wantFiles: 6, want: Memory{
			Usage: some(100), RSS: some(1), RefaultFile: some(7), RefaultAnon: some(8), ActivateFile: some(5), ActivateAnon: some(6),
			PgScan: some(40), PgSteal: some(30), Peak: some(150), OOMKills: some(3), Pressure: pressureParsed,
			Events: Events{Low: some(1), High: some(2), Max: some(12), OOM: some(4), OOMKill: some(3), OOMGroupKill: some(0)},
		}},
		{name: "v2 none: memory.stat fields only", mode: ModeV2, files: v2, opt: 0, wantFiles: 3, want: Memory{
			Usage: some(100), RSS: some(1), RefaultFile: some(7), RefaultAnon: some(8), ActivateFile: some(5), ActivateAnon: some(6),
			PgScan: some(40), PgSteal: some(30),
		}},
		{name: "v2 before 5.19: no memory.peak, no PSI", mode: ModeV2, opt: all, wantFiles: 4,
			files: without(v2, "memory.peak", "memory.pressure"), want: Memory{
				Usage: some(100), RSS: some(1), RefaultFile: some(7), RefaultAnon: some(8), ActivateFile: some(5), ActivateAnon: some(6),
				PgScan: some(40), PgSteal: some(30), OOMKills: some(3),
				Events: Events{Low: some(1), High: some(2), Max: some(12), OOM: some(4), OOMKill: some(3), OOMGroupKill: some(0)},
			}},
		{name: "hybrid with the unified directory", mode: ModeHybrid, files: v1, opt: all, wantFiles: 7,
			unified: map[string]string{"memory.pressure": pressureText}, want: Memory{
				Usage: some(100), RSS: some(1), RefaultFile: some(7), RefaultAnon: some(8), Peak: some(150),
				Events: Events{Max: some(12)}, UnderOOM: some(1), OOMKills: some(3), Pressure: pressureParsed,
			}},
		{name: "hybrid, the unified directory exists without PSI", mode: ModeHybrid, files: v1, opt: all, wantFiles: 6,
			unified: map[string]string{}, want: Memory{
				Usage: some(100), RSS: some(1), RefaultFile: some(7), RefaultAnon: some(8), Peak: some(150),
				Events: Events{Max: some(12)}, UnderOOM: some(1), OOMKills: some(3),
			}},
		{name: "plain v1: no unified mount", mode: ModeV1, files: v1, opt: all, wantFiles: 6, want: Memory{
			Usage: some(100), RSS: some(1), RefaultFile: some(7), RefaultAnon: some(8), Peak: some(150),
			Events: Events{Max: some(12)}, UnderOOM: some(1), OOMKills: some(3),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := NewFiles(64)
			cg := files.Cgroup(cgroupDir(t, tt.files))
			if tt.unified != nil {
				cg.Unified = cgroupDir(t, tt.unified)
			} else if tt.mode == ModeHybrid {
				cg.Unified = filepath.Join(t.TempDir(), "not-there")
			}
			r := NewMemoryReader(tt.mode)
			for i := range 2 { // the second read re-reads the kept files
				got, err := r.ReadOptional(cg, tt.opt)
				require.NoError(t, err)
				if d := cmp.Diff(tt.want, got); d != "" {
					t.Fatalf("read %d (-want +got):\n%s", i, d)
				}
			}
			require.Equal(t, tt.wantFiles, files.Open(), "files kept open")
		})
	}
}

// TestEventsReadOnEveryScrape: unlike the OOM kill count alone, memory.events is read on every
// read, whatever the node's OOM kill count says: its other counters move without an OOM kill.
func TestEventsReadOnEveryScrape(t *testing.T) {
	dir := cgroupDir(t, map[string]string{
		"memory.stat": "anon 1\n", "memory.current": "100\n", "memory.events": "max 1\noom_kill 0\n",
	})
	r := NewMemoryReader(ModeV2)
	cg := NewFiles(64).Cgroup(dir)
	r.NodeOOMKills(5, true)
	m, err := r.ReadOptional(cg, OptEvents|OptOOMKills)
	require.NoError(t, err)
	require.Equal(t, some(1), m.Events.Max)
	writeFile(t, filepath.Join(dir, "memory.events"), "max 9\noom_kill 0\n")
	r.NodeOOMKills(5, true)
	m, err = r.ReadOptional(cg, OptEvents|OptOOMKills)
	require.NoError(t, err)
	require.Equal(t, some(9), m.Events.Max, "memory.events read again with the node's OOM count unchanged")
}

func TestReadMalformedPressureKeepsTheRest(t *testing.T) {
	dir := cgroupDir(t, map[string]string{
		"memory.stat": "anon 1\n", "memory.current": "100\n", "memory.pressure": "some avg10=x\n", "memory.peak": "7\n",
	})
	m, err := NewMemoryReader(ModeV2).ReadOptional(NewFiles(64).Cgroup(dir), OptPressure|OptPeak)
	require.ErrorIs(t, err, psi.ErrMalformed)
	require.ErrorContains(t, err, filepath.Join(dir, "memory.pressure"))
	require.ErrorContains(t, err, `token "avg10=x"`)
	require.False(t, m.Pressure.Some.OK)
	require.Equal(t, some(7), m.Peak)
	require.Equal(t, some(100), m.Usage)
}

// TestUnifiedDirectoryRemoved: a hybrid cgroup whose unified directory goes away while its
// memory cgroup stays loses its PSI, not its other readings.
func TestUnifiedDirectoryRemoved(t *testing.T) {
	dir := cgroupDir(t, map[string]string{"memory.stat": "total_rss 1\n", "memory.usage_in_bytes": "100\n"})
	unified := cgroupDir(t, map[string]string{"memory.pressure": pressureText})
	cg := NewFiles(64).Cgroup(dir)
	cg.Unified = unified
	r := NewMemoryReader(ModeHybrid)
	m, err := r.ReadOptional(cg, OptPressure)
	require.NoError(t, err)
	require.Equal(t, pressureParsed, m.Pressure)
	require.NoError(t, os.RemoveAll(unified))
	cg2 := NewFiles(64).Cgroup(dir)
	cg2.Unified = unified
	m, err = r.ReadOptional(cg2, OptPressure)
	require.NoError(t, err)
	require.False(t, m.Pressure.Some.OK)
	require.Equal(t, some(100), m.Usage)
}

func without(m map[string]string, names ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for _, n := range names {
		delete(out, n)
	}
	return out
}

// TestFailcntOfAnUnlimitedCgroupReadOnce: memory.failcnt of a v1 cgroup without a limit
// cannot move (the kernel counts a failed charge on the counter whose limit was hit), so it is
// read once; with a limit it is read on every read. Test fixtures can move it anyway, which
// shows which reads happened.
func TestFailcntOfAnUnlimitedCgroupReadOnce(t *testing.T) {
	dir := cgroupDir(t, map[string]string{
		"memory.stat": "total_rss 1\n", "memory.usage_in_bytes": "100\n",
		"memory.limit_in_bytes": "9223372036854771712\n", "memory.failcnt": "3\n",
	})
	r := NewMemoryReader(ModeV1)
	cg := NewFiles(64).Cgroup(dir)
	read := func() Value {
		t.Helper()
		m, err := r.ReadOptional(cg, OptEvents)
		require.NoError(t, err)
		return m.Events.Max
	}
	require.Equal(t, some(3), read())
	writeFile(t, filepath.Join(dir, "memory.failcnt"), "4\n")
	require.Equal(t, some(3), read(), "unlimited: the count read first")
	writeFile(t, filepath.Join(dir, "memory.limit_in_bytes"), "1048576\n")
	require.Equal(t, some(4), read(), "limited: read again")
	writeFile(t, filepath.Join(dir, "memory.failcnt"), "9\n")
	require.Equal(t, some(9), read())
}
