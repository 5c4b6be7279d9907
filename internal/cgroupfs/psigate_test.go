package cgroupfs

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cgroupmem/cgroupmem/internal/psi"
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
// a cgroup it is not under, or with the gate off, it is read. Each step writes a's total
// (and the pod's, when podSome is set), then reads a as the step says.
func TestPressureGate(t *testing.T) {
	for _, mode := range []Mode{ModeV2, ModeHybrid} {
		t.Run(mode.String(), func(t *testing.T) {
			g := newGateTree(t, mode)
			t0 := time.Unix(1_700_000_000, 0)
			// What a step does before reading a, besides writing the files.
			noGate := func(_ *gateTree, _ time.Time) {}
			otherGate := func(g *gateTree, now time.Time) { g.r.GatePressure(g.b, pressureParsed, now) }
			gateOff := func(g *gateTree, _ time.Time) { g.r.SetPressureGate(false) }
			gateOn := func(g *gateTree, _ time.Time) { g.r.SetPressureGate(true) }
			steps := []struct {
				name          string
				podSome, some uint64 // written first; podSome 0: the pod's file unchanged
				avg10         string
				at            time.Duration // after t0
				before        func(*gateTree, time.Time)
				scrape        bool // the pod, then a under its gate; else a alone
				want, kept    uint64
			}{
				{name: "first read", podSome: 1000, some: 100, scrape: true, want: 100, kept: 0},
				{name: "pod unchanged: kept", some: 200, at: 10 * time.Second, scrape: true, want: 100, kept: 1},
				{name: "pod moved: read", podSome: 1001, some: 200, at: 20 * time.Second, scrape: true, want: 200, kept: 1},
				{name: "pod unchanged since that read: kept", some: 300, at: 30 * time.Second, scrape: true, want: 200, kept: 2},
				{name: "PressureMaxAge after the last read: read", some: 300, at: 20*time.Second + PressureMaxAge, scrape: true, want: 300, kept: 2},
				{name: "a clock gone back: read", some: 300, at: 10 * time.Second, scrape: true, want: 300, kept: 2},
				{name: "pod moved: read, avg10 not zero", podSome: 1002, some: 400, avg10: "0.10", at: time.Minute, scrape: true, want: 400, kept: 2},
				{name: "kept avg10 not zero: read, though the pod did not move", some: 500, at: 2 * time.Minute, scrape: true, want: 500, kept: 2},
				{name: "zero again: kept", some: 600, at: 3 * time.Minute, scrape: true, want: 500, kept: 3},
				{name: "no gate open: read", some: 700, before: noGate, want: 700, kept: 3},
				{name: "read with no gate: not kept", some: 800, at: 4 * time.Minute, scrape: true, want: 800, kept: 3},
				{name: "a gate of another cgroup: read", some: 900, at: 5 * time.Minute, before: otherGate, want: 900, kept: 3},
				{name: "read under its pod again", some: 900, at: 6 * time.Minute, scrape: true, want: 900, kept: 3},
				{name: "gate off: read", some: 1000, at: 7 * time.Minute, before: gateOff, scrape: true, want: 1000, kept: 3},
				{name: "gate on again: what was read with it off is not kept", some: 1100, at: 8 * time.Minute, before: gateOn, scrape: true, want: 1100, kept: 3},
			}
			for _, st := range steps {
				if st.podSome != 0 {
					g.write(g.pod, "0.00", st.podSome)
				}
				g.write(g.a, cmp.Or(st.avg10, "0.00"), st.some)
				now := t0.Add(st.at)
				if st.before != nil {
					st.before(g, now)
				}
				var got uint64
				if st.scrape {
					got, _ = g.scrape(now)
				} else {
					got = g.read(g.a)
					g.r.ClosePressureGate()
				}
				require.Equal(t, [2]uint64{st.want, st.kept}, [2]uint64{got, g.r.PressureKept()}, "%s: (a's total, reads kept)", st.name)
			}
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

// TestReadPressure reads a memory.pressure alone: a pod parent's, to gate its pods.
func TestReadPressure(t *testing.T) {
	for _, mode := range []Mode{ModeV2, ModeHybrid} {
		t.Run(mode.String(), func(t *testing.T) {
			g := newGateTree(t, mode)
			r := NewMemoryReader(mode)
			p, err := r.ReadPressure(g.pod)
			require.NoError(t, err)
			require.False(t, p.Some.OK, "no file: no lines")

			g.write(g.pod, "0.00", 1000)
			g.pod.Close() // forget that the file was absent
			p, err = r.ReadPressure(g.pod)
			require.NoError(t, err)
			require.Equal(t, [2]uint64{1000, 500}, [2]uint64{p.Some.Total, p.Full.Total})

			writeFile(t, filepath.Join(g.pressureDir[g.pod], "memory.pressure"), "some avg10=x\n")
			_, err = r.ReadPressure(g.pod)
			require.ErrorIs(t, err, psi.ErrMalformed)
			require.ErrorContains(t, err, filepath.Join(g.pressureDir[g.pod], "memory.pressure"))

			require.NoError(t, os.RemoveAll(g.pressureDir[g.pod]))
			g.pod.Close()
			p, err = r.ReadPressure(g.pod)
			require.NoError(t, err, "a cgroup gone: no lines")
			require.False(t, p.Some.OK)
		})
	}
}
