package cgroupfs

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// pressureFile is a memory.pressure with both avg10 at avg10 and the given totals.
func pressureFile(avg10 string, some, full uint64) string {
	return fmt.Sprintf("some avg10=%s avg60=0.00 avg300=0.00 total=%d\nfull avg10=%s avg60=0.00 avg300=0.00 total=%d\n",
		avg10, some, avg10, full)
}

// gateTree is a pod cgroup with two containers, for v2 or a v1 hybrid host (memory.pressure
// in the unified twin). Test fixtures can move a container's total without its pod's, which
// the kernel cannot; that shows which reads happened.
type gateTree struct {
	t           *testing.T
	r           *MemoryReader
	pod, a, b   *Cgroup
	pressureDir map[*Cgroup]string
}

func newGateTree(t *testing.T, mode Mode) *gateTree {
	root := t.TempDir()
	files := NewFiles(64)
	g := &gateTree{t: t, r: NewMemoryReader(mode), pressureDir: map[*Cgroup]string{}}
	stat, usage := "memory.stat", "memory.current"
	if !mode.V2() {
		stat, usage = "memory.stat", "memory.usage_in_bytes"
	}
	for _, c := range []struct {
		cg  **Cgroup
		rel string
	}{{&g.pod, "pod"}, {&g.a, "pod/a"}, {&g.b, "pod/b"}} {
		dir := filepath.Join(root, "memory", c.rel)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		writeFile(t, filepath.Join(dir, stat), "total_rss 1\nanon 1\n")
		writeFile(t, filepath.Join(dir, usage), "100\n")
		cg := files.Cgroup(dir)
		pdir := dir
		if !mode.V2() {
			cg.Unified = filepath.Join(root, "unified", c.rel)
			pdir = cg.Unified
			require.NoError(t, os.MkdirAll(pdir, 0o755))
		}
		g.pressureDir[cg] = pdir
		*c.cg = cg
	}
	return g
}

func (g *gateTree) write(cg *Cgroup, avg10 string, some uint64) {
	writeFile(g.t, filepath.Join(g.pressureDir[cg], "memory.pressure"), pressureFile(avg10, some, some/2))
}

// scrape reads the pod, opens the gate with its reading as the receiver does, and reads
// container a under it: a's some total, and how many reads the gate kept.
func (g *gateTree) scrape(now time.Time) (uint64, uint64) {
	g.t.Helper()
	pm, err := g.r.ReadOptional(g.pod, OptPressure)
	require.NoError(g.t, err)
	g.r.GatePressure(g.pod, pm.Pressure, now)
	defer g.r.ClosePressureGate()
	return g.read(g.a), g.r.PressureKept()
}

func (g *gateTree) read(cg *Cgroup) uint64 {
	g.t.Helper()
	m, err := g.r.ReadOptional(cg, OptPressure)
	require.NoError(g.t, err)
	require.True(g.t, m.Pressure.Some.OK && m.Pressure.Full.OK)
	require.Equal(g.t, m.Pressure.Some.Total/2, m.Pressure.Full.Total, "some and full from the same read")
	return m.Pressure.Some.Total
}

// TestPressureGate: a container's memory.pressure is kept, not read, while its pod's some
// total is the one read just before the container's last read, its kept averages are zero and
// the reading is younger than PressureMaxAge; otherwise, and with no gate open, with a gate of
// a cgroup it is not under, or with the gate off, it is read.
func TestPressureGate(t *testing.T) {
	for _, mode := range []Mode{ModeV2, ModeHybrid} {
		t.Run(mode.String(), func(t *testing.T) {
			g := newGateTree(t, mode)
			t0 := time.Unix(1_700_000_000, 0)
			g.write(g.pod, "0.00", 1000)
			g.write(g.a, "0.00", 100)
			got, kept := g.scrape(t0)
			require.Equal(t, [2]uint64{100, 0}, [2]uint64{got, kept}, "first read")

			g.write(g.a, "0.00", 200)
			got, kept = g.scrape(t0.Add(10 * time.Second))
			require.Equal(t, [2]uint64{100, 1}, [2]uint64{got, kept}, "pod unchanged: kept")

			g.write(g.pod, "0.00", 1001)
			got, kept = g.scrape(t0.Add(20 * time.Second))
			require.Equal(t, [2]uint64{200, 1}, [2]uint64{got, kept}, "pod moved: read")

			g.write(g.a, "0.00", 300)
			got, kept = g.scrape(t0.Add(30 * time.Second))
			require.Equal(t, [2]uint64{200, 2}, [2]uint64{got, kept}, "pod unchanged since that read: kept")

			got, kept = g.scrape(t0.Add(20*time.Second + PressureMaxAge))
			require.Equal(t, [2]uint64{300, 2}, [2]uint64{got, kept}, "PressureMaxAge after the last read: read")
			got, kept = g.scrape(t0.Add(10 * time.Second))
			require.Equal(t, [2]uint64{300, 2}, [2]uint64{got, kept}, "a clock gone back: read")

			g.write(g.a, "0.10", 400)
			g.write(g.pod, "0.00", 1002)
			got, kept = g.scrape(t0.Add(time.Minute))
			require.Equal(t, [2]uint64{400, 2}, [2]uint64{got, kept}, "pod moved: read, avg10 not zero")
			g.write(g.a, "0.00", 500)
			got, kept = g.scrape(t0.Add(2 * time.Minute))
			require.Equal(t, [2]uint64{500, 2}, [2]uint64{got, kept}, "kept avg10 not zero: read, though the pod did not move")
			g.write(g.a, "0.00", 600)
			got, kept = g.scrape(t0.Add(3 * time.Minute))
			require.Equal(t, [2]uint64{500, 3}, [2]uint64{got, kept}, "zero again: kept")

			g.write(g.a, "0.00", 700)
			require.Equal(t, uint64(700), g.read(g.a), "no gate open: read")
			g.write(g.a, "0.00", 800)
			got, kept = g.scrape(t0.Add(4 * time.Minute))
			require.Equal(t, [2]uint64{800, 3}, [2]uint64{got, kept}, "read with no gate: not kept")
			g.r.GatePressure(g.b, pressureParsed, t0.Add(5*time.Minute))
			g.write(g.a, "0.00", 900)
			require.Equal(t, uint64(900), g.read(g.a), "a gate of another cgroup: read")
			g.r.ClosePressureGate()

			got, kept = g.scrape(t0.Add(6 * time.Minute))
			require.Equal(t, [2]uint64{900, 3}, [2]uint64{got, kept}, "read under its pod again")
			g.write(g.a, "0.00", 1000)
			g.r.SetPressureGate(false)
			got, kept = g.scrape(t0.Add(7 * time.Minute))
			require.Equal(t, [2]uint64{1000, 3}, [2]uint64{got, kept}, "gate off: read")
			g.write(g.a, "0.00", 1100)
			g.r.SetPressureGate(true)
			got, kept = g.scrape(t0.Add(8 * time.Minute))
			require.Equal(t, [2]uint64{1100, 3}, [2]uint64{got, kept}, "gate on again: what was read with it off is not kept")
		})
	}
}

// TestPressureGateOfAPodWithoutPSI: a pod whose memory.pressure is absent (or whose read has
// no some line) opens no gate.
func TestPressureGateOfAPodWithoutPSI(t *testing.T) {
	g := newGateTree(t, ModeHybrid)
	g.write(g.a, "0.00", 100)
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 3 {
		g.write(g.a, "0.00", uint64(100+i))
		got, kept := g.scrape(t0.Add(time.Duration(i) * 10 * time.Second))
		require.Equal(t, [2]uint64{uint64(100 + i), 0}, [2]uint64{got, kept}, "scrape %d", i)
	}
}

// TestPressureGateNeedsADescendant: a gate opened with a cgroup is not one for a sibling
// whose path merely starts with the same characters.
func TestPressureGateNeedsADescendant(t *testing.T) {
	r := NewMemoryReader(ModeV2)
	r.GatePressure(&Cgroup{Dir: "/cg/pod1"}, pressureParsed, time.Now())
	require.True(t, r.gated(&Cgroup{Dir: "/cg/pod1/a"}))
	require.False(t, r.gated(&Cgroup{Dir: "/cg/pod1"}), "not itself")
	require.False(t, r.gated(&Cgroup{Dir: "/cg/pod10/a"}), "a sibling with the same prefix")
	require.False(t, r.gated(&Cgroup{Dir: "/cg/pod"}))
	h := NewMemoryReader(ModeHybrid)
	h.GatePressure(&Cgroup{Dir: "/m/pod1", Unified: "/u/pod1"}, pressureParsed, time.Now())
	require.True(t, h.gated(&Cgroup{Dir: "/m/pod1/a", Unified: "/u/pod1/a"}))
	require.False(t, h.gated(&Cgroup{Dir: "/m/pod1/a"}), "no unified twin")
	h.GatePressure(&Cgroup{Dir: "/m/pod1"}, pressureParsed, time.Now())
	require.False(t, h.gated(&Cgroup{Dir: "/m/pod1/a", Unified: "/u/pod1/a"}), "a pod without a unified twin opens no gate")
}
