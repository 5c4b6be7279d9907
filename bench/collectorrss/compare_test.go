package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTreeCgroup(t *testing.T) {
	const prefix = "/cgroupmem-bench-ab/kubepods"
	tests := []struct {
		name, kind, key string
		ok              bool
	}{
		{name: prefix + "/burstable/pod1234-5678/0123abcd", kind: "container", key: "0123abcd", ok: true},
		{name: prefix + "/burstable/pod1234-5678", kind: "pod", key: "1234-5678", ok: true},
		{name: prefix + "/burstable"},
		{name: prefix},
		{name: "/cgroupmem-bench-ab/kubepodsx/burstable/pod1/c"},
		{name: "/other/kubepods/burstable/pod1/c"},
		{name: prefix + "/burstable/notapod/c"},
	}
	for _, tt := range tests {
		kind, key, ok := treeCgroup(prefix, tt.name)
		require.Equal(t, tt.ok, ok, tt.name)
		require.Equal(t, tt.kind, kind, tt.name)
		require.Equal(t, tt.key, key, tt.name)
	}
}

func TestCompareWorkingSets(t *testing.T) {
	const prefix = "/b/kubepods"
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	ours := func(vs ...uint64) []point {
		var ps []point
		for i, v := range vs {
			ps = append(ps, point{at: at(10 * float64(i)), value: v})
		}
		return ps
	}
	sample := func(s float64, ws uint64) peerSample { return peerSample{Time: at(s), WorkingSet: ws, Usage: ws} }
	containers := map[string][]point{"c1": ours(100, 100, 100, 200, 200), "c2": ours(50, 50, 50, 50, 50)}
	pods := map[string][]point{"u1": ours(150, 150, 150, 250, 250)}
	dump := func(c1, c2, u1 []peerSample) peerDump {
		return peerDump{Cgroups: []peerCgroup{
			{Name: prefix, Samples: []peerSample{sample(5, 1)}},
			{Name: prefix + "/burstable", Samples: []peerSample{sample(5, 1)}},
			{Name: prefix + "/burstable/podu1", Samples: u1},
			{Name: prefix + "/burstable/podu1/c1", Samples: c1},
			{Name: prefix + "/burstable/podu1/c2", Samples: c2},
		}}
	}

	t.Run("equal", func(t *testing.T) {
		d := dump(
			// -1 s: before our first reading; 25 s: c1 moved between 20 and 30 s; 45 s: after our last.
			[]peerSample{sample(-1, 7), sample(5, 100), sample(25, 999), sample(35, 200), sample(45, 7)},
			[]peerSample{sample(12, 50), sample(31, 50)},
			[]peerSample{sample(15, 150), sample(33, 250)},
		)
		got, err := compareWorkingSets(d, prefix, containers, pods)
		require.NoError(t, err)
		require.Equal(t, workingSetCheck{containers: 2, pods: 1, equal: 6, moved: 1}, got)
	})
	t.Run("a sample between two equal readings differs", func(t *testing.T) {
		d := dump([]peerSample{sample(5, 100)}, []peerSample{sample(12, 51)}, []peerSample{sample(15, 150)})
		_, err := compareWorkingSets(d, prefix, containers, pods)
		require.ErrorContains(t, err, "1 working sets differ from cAdvisor's: container c2 at 10:00:12.000: cAdvisor 51 (usage 51), ours 50")
	})
	t.Run("a difference names the samples around it", func(t *testing.T) {
		d := dump([]peerSample{sample(5, 100)}, []peerSample{sample(1, 50), sample(12, 51), sample(14, 50)}, []peerSample{sample(15, 150)})
		_, err := compareWorkingSets(d, prefix, containers, pods)
		require.ErrorContains(t, err, "cAdvisor's samples around it: 50 (usage 50) at 10:00:01.000, 50 (usage 50) at 10:00:14.000")
	})
	// withUsage is a sample of working set ws at the given usage: one page of the page
	// cache's inactive share, usage-ws, moved.
	withUsage := func(s float64, ws, usage uint64) peerSample {
		return peerSample{Time: at(s), WorkingSet: ws, Usage: usage}
	}
	many := func(from, to float64, ws, usage uint64) []peerSample {
		var out []peerSample
		for s := from; s < to; s += 0.05 {
			out = append(out, withUsage(s, ws, usage))
		}
		return out
	}
	t.Run("a difference for an instant beside cAdvisor's own equal sample", func(t *testing.T) {
		c2 := append(many(10.5, 12, 50, 60), withUsage(12, 46, 60)) // 30 samples equal, then one a page lower
		c2 = append(c2, many(12.1, 20, 50, 60)...)
		d := dump([]peerSample{sample(5, 100)}, c2, []peerSample{sample(15, 150)})
		got, err := compareWorkingSets(d, prefix, containers, pods)
		require.NoError(t, err)
		require.Equal(t, 1, got.transient)
		require.Equal(t, len(c2)-1+2, got.equal)
	})
	t.Run("a difference at another usage is no instant's", func(t *testing.T) {
		c2 := append(many(10.5, 12, 50, 60), withUsage(12, 46, 64))
		c2 = append(c2, many(12.1, 20, 50, 60)...)
		d := dump([]peerSample{sample(5, 100)}, c2, []peerSample{sample(15, 150)})
		_, err := compareWorkingSets(d, prefix, containers, pods)
		require.ErrorContains(t, err, "1 working sets differ from cAdvisor's: container c2 at 10:00:12.000: cAdvisor 46 (usage 64), ours 50")
	})
	t.Run("too many differences for an instant", func(t *testing.T) {
		var c2 []peerSample
		for s := 10.5; s < 20; s += 0.2 {
			c2 = append(c2, withUsage(s, 50, 60), withUsage(s+0.1, 46, 60)) // every other one apart
		}
		d := dump([]peerSample{sample(5, 100)}, c2, []peerSample{sample(15, 150)})
		_, err := compareWorkingSets(d, prefix, containers, pods)
		require.ErrorContains(t, err, "samples compared differ from ours for an instant (more than 1 %)")
	})
	t.Run("a cgroup none of whose samples equals ours", func(t *testing.T) {
		// The equal sample beside the instant's is before our first reading: not compared.
		d := dump([]peerSample{sample(5, 100)}, []peerSample{withUsage(-1, 50, 60), withUsage(0.5, 46, 60)}, []peerSample{sample(15, 150)})
		_, err := compareWorkingSets(d, prefix, containers, pods)
		require.ErrorContains(t, err, "container c2: none of cAdvisor's 2 samples equals ours")
	})
	t.Run("pod differs", func(t *testing.T) {
		d := dump([]peerSample{sample(5, 100)}, []peerSample{sample(12, 50)}, []peerSample{sample(15, 100)})
		_, err := compareWorkingSets(d, prefix, containers, pods)
		require.ErrorContains(t, err, "pod u1 at 10:00:15.000: cAdvisor 100 (usage 100), ours 150")
	})
	t.Run("nothing of ours", func(t *testing.T) {
		d := dump([]peerSample{sample(5, 100)}, []peerSample{sample(12, 50)}, []peerSample{sample(15, 150)})
		_, err := compareWorkingSets(d, prefix, map[string][]point{"c1": containers["c1"]}, pods)
		require.ErrorContains(t, err, "1 cgroups not compared: container c2: no working set of ours")
	})
	t.Run("one cgroup moving around every sample", func(t *testing.T) {
		d := dump([]peerSample{sample(25, 100), sample(50, 200)}, []peerSample{sample(12, 50)}, []peerSample{sample(15, 150)})
		got, err := compareWorkingSets(d, prefix, containers, pods)
		require.NoError(t, err)
		require.Equal(t, workingSetCheck{containers: 1, pods: 1, equal: 2, moved: 1, unsettled: 1}, got)
	})
	t.Run("two cgroups moving around every sample", func(t *testing.T) {
		d := dump([]peerSample{sample(25, 100), sample(50, 200)}, []peerSample{sample(12, 50)}, []peerSample{sample(25, 150)})
		_, err := compareWorkingSets(d, prefix, containers, pods)
		require.ErrorContains(t, err, "2 of 3 cgroups not compared, their memory moving around every sample (more than 1 %): pod u1: none of cAdvisor's 1 samples fell between two equal readings of ours; container c1")
	})
}

func TestHousekeepingsIn(t *testing.T) {
	const prefix = "/b/kubepods"
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s := func(sec int) peerSample { return peerSample{Time: t0.Add(time.Duration(sec) * time.Second)} }
	d := peerDump{Cgroups: []peerCgroup{
		{Name: prefix + "/burstable/podu1", Samples: []peerSample{s(1), s(2), s(3)}}, // a pod: not counted
		{Name: prefix + "/burstable/podu1/c1", Samples: []peerSample{s(-5), s(0), s(15), s(30)}},
		{Name: prefix + "/burstable/podu1/c2", Samples: []peerSample{s(10), s(31)}},
	}}
	require.Equal(t, 2.0, housekeepingsIn(d, prefix, window{from: t0, to: t0.Add(30 * time.Second)}))
}
