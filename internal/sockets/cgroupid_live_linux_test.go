//go:build linux

package sockets

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// byIDAndWalked are the groups of containers cs twice: with their cgroup2 ids (attributed by
// INET_DIAG_CGROUP_ID) and without (by walking their fds).
func byIDAndWalked(t *testing.T, e *liveEnv, cs []liveContainer) (byID, walked map[string]Group) {
	t.Helper()
	byID, walked = map[string]Group{}, map[string]Group{}
	for _, c := range cs {
		id, err := CgroupID(e.unifiedOf(c.dir))
		if err != nil {
			t.Fatal(err)
		}
		g := Group{PIDs: procs(t, c.dir), Cgroup: strings.TrimPrefix(c.dir, cgroupV1Memory)}
		walked[c.key] = g
		g.CgroupID = id
		byID[c.key] = g
	}
	return byID, walked
}

// sameUsage compares two Collects' usage of a group; the worst socket's holder (pid, fd) is
// known only to the fd walk.
func sameUsage(a, b Usage) bool {
	a.Worst.PID, a.Worst.FD, b.Worst.PID, b.Worst.FD = 0, 0, 0, 0
	return a == b
}

// TestLiveCgroupIDAttribution: with each container mirrored in the unified hierarchy as runc
// does on this v1 hybrid host, the sockets' INET_DIAG_CGROUP_ID attributes them with no walk of
// any fd, and gives what the fd walk gives and what `ss -m --cgroup` says, in the host's
// namespace, a pod's shared one and a pod's own.
func TestLiveCgroupIDAttribution(t *testing.T) {
	e, cs, nss := startPods(t)
	if e.unified == "" {
		t.Skip("no cgroup2 hierarchy at " + cgroupUnified + " to mirror containers into")
	}
	byID, walked := byIDAndWalked(t, e, cs)
	c := NewCollector("/proc", DefaultLimits(), zaptest.NewLogger(t))
	defer c.Close()
	var gotID, gotWalk map[string]Usage
	var stID Stats
	after := e.whileStill(t, 4, nss, cs, func() {
		var err error
		if gotID, err = c.Collect(context.Background(), byID); err != nil {
			t.Fatal(err)
		}
		stID = c.LastStats()
		if gotWalk, err = c.Collect(context.Background(), walked); err != nil {
			t.Fatal(err)
		}
	})
	if stID.ByCgroupID != len(cs) || stID.FDs != 0 || stID.Namespaces != 3 {
		t.Errorf("stats %+v: want every group by cgroup id, no fd examined, 3 namespaces", stID)
	}
	for _, lc := range cs {
		want := ssUsage(after, lc.h.inodes, SourceSockDiag)
		if !sameAsSS(gotID[lc.key], want) || gotID[lc.key].Incomplete {
			t.Errorf("%s by cgroup id:\n got %+v\nwant %+v (ss)", lc.key, gotID[lc.key], want)
		}
		if !sameUsage(gotID[lc.key], gotWalk[lc.key]) {
			t.Errorf("%s: by cgroup id %+v, by fd walk %+v", lc.key, gotID[lc.key], gotWalk[lc.key])
		}
		// ss names the cgroup the kernel gives each socket: the container's mirror. (Run
		// by ip netns exec, which mounts a sysfs without cgroups, ss cannot resolve the id
		// to a path and prints "unreachable:<id in hex>".)
		rel := strings.TrimPrefix(e.unifiedOf(lc.dir), cgroupUnified)
		unreachable := fmt.Sprintf("unreachable:%x", byID[lc.key].CgroupID)
		for _, ino := range lc.h.inodes {
			if s, ok := after[ino]; ok && s.Cgroup != rel && s.Cgroup != unreachable {
				t.Errorf("%s: ss says socket %d is in cgroup %q, want %q (%s)", lc.key, ino, s.Cgroup, rel, unreachable)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(gotID)) {
		t.Logf("%-8s %+v", k, gotID[k])
	}
}

// TestLiveCgroupIDCreatorAndHolder: a listener created in one container, whose process then
// moves to another and there connects to it and accepts: the accepted socket inherits the
// listener's cgroup id (the creator's), the client has the new one. Attributed by cgroup id,
// the creator has the listener and the accepted socket with its unread bytes, the holder only
// the client; walked by fd, the holder has all three. ss --cgroup agrees with the ids.
func TestLiveCgroupIDCreatorAndHolder(t *testing.T) {
	e := requireLive(t)
	if e.unified == "" {
		t.Skip("no cgroup2 hierarchy at " + cgroupUnified + " to mirror containers into")
	}
	cs := []liveContainer{
		{key: "creator", dir: e.cgroup("kubepods/pod0c0c0c0c-2222-3333-4444-555555555555/cccc")},
		{key: "holder", dir: e.cgroup("kubepods/pod0d0d0d0d-2222-3333-4444-555555555555/dddd")},
	}
	h := e.start(cs[0].dir, "", "acceptlater")
	ln := h.inodes[0]
	e.join(cs[1].dir, h.pid)
	if _, err := io.WriteString(h.stdin, "accept\n"); err != nil {
		t.Fatal(err)
	}
	line, err := readLine(h.stdout, 30*time.Second)
	if err != nil || !strings.HasPrefix(line, "accepted ") {
		t.Fatalf("helper: %q, %v", line, err)
	}
	h.inodes = nil
	h.parse(t, line)
	cli, acc := h.inodes[0], h.inodes[1]

	byID, walked := byIDAndWalked(t, e, cs)
	c := NewCollector("/proc", DefaultLimits(), zaptest.NewLogger(t))
	defer c.Close()
	gotID, err := c.Collect(context.Background(), byID)
	if err != nil {
		t.Fatal(err)
	}
	gotWalk, err := c.Collect(context.Background(), walked)
	if err != nil {
		t.Fatal(err)
	}
	ss := e.ssSnapshot()
	creatorCg := strings.TrimPrefix(e.unifiedOf(cs[0].dir), cgroupUnified)
	holderCg := strings.TrimPrefix(e.unifiedOf(cs[1].dir), cgroupUnified)
	for ino, want := range map[uint64]string{ln: creatorCg, acc: creatorCg, cli: holderCg} {
		if ss[ino].Cgroup != want {
			t.Errorf("ss: socket %d in cgroup %q, want %q", ino, ss[ino].Cgroup, want)
		}
	}
	if ss[acc].RecvQ != 100 {
		t.Errorf("ss: accepted socket %+v, want 100 unread bytes", ss[acc])
	}
	checks := []struct {
		name   string
		got    Usage
		inodes []uint64
	}{
		{"creator by cgroup id", gotID["creator"], []uint64{ln, acc}},
		{"holder by cgroup id", gotID["holder"], []uint64{cli}},
		{"creator by fd walk", gotWalk["creator"], nil},
		{"holder by fd walk", gotWalk["holder"], []uint64{ln, cli, acc}},
	}
	for _, ck := range checks {
		if want := ssUsage(ss, ck.inodes, SourceSockDiag); !sameAsSS(ck.got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v (ss)", ck.name, ck.got, want)
		}
	}
}

// TestLiveLookupsEqualSS: with a refresh interval, a namespace read once has its sockets
// looked up again one by one (exact sock_diag requests) at the next scrapes: TCP and UDP of
// both families, connections and receivers, in the host's namespace, a pod's shared one
// and a pod's own. What the lookups give equals `ss -m` then, with no namespace dumped.
// Listeners are not looked up: no dump asks for them (dumpStates).
func TestLiveLookupsEqualSS(t *testing.T) {
	e, cs, nss := startPods(t)
	if e.unified == "" {
		t.Skip("no cgroup2 hierarchy at " + cgroupUnified + " to mirror containers into")
	}
	byID, _ := byIDAndWalked(t, e, cs)
	c := NewCollector("/proc", DefaultLimits(), zaptest.NewLogger(t))
	defer c.Close()
	c.SetRefreshInterval(time.Hour)
	clock := time.Unix(1_700_000_000, 0)
	c.SetClock(func() time.Time { return clock })
	if _, err := c.Collect(context.Background(), byID); err != nil {
		t.Fatal(err)
	}
	if st := c.LastStats(); st.Namespaces != 3 || st.Lookups != 0 {
		t.Fatalf("first scrape: %+v, want the 3 namespaces dumped", st)
	}
	var got map[string]Usage
	after := e.whileStill(t, 4, nss, cs, func() {
		clock = clock.Add(10 * time.Second)
		var err error
		if got, err = c.Collect(context.Background(), byID); err != nil {
			t.Fatal(err)
		}
	})
	// Every socket of the containers is looked up but the listeners, which no dump asks for
	// (dumpStates): the connections waiting in their accept queues are sockets of their own.
	sockets, listeners := 0, 0
	for _, lc := range cs {
		for _, ino := range lc.h.inodes {
			if after[ino].State == "LISTEN" {
				listeners++
				continue
			}
			sockets++
		}
	}
	if listeners == 0 {
		t.Fatal("the containers hold no listener: the test would not see one looked up")
	}
	st := c.LastStats()
	if st.Namespaces != 0 || st.Cached != 3 || st.Lookups < sockets {
		t.Errorf("stats %+v: want no dump, 3 namespaces from lookups of at least the %d sockets of the containers", st, sockets)
	}
	t.Logf("stats %+v", st)
	for _, lc := range cs {
		want := ssUsage(after, lc.h.inodes, SourceSockDiag)
		if !sameAsSS(got[lc.key], want) || got[lc.key].Incomplete {
			t.Errorf("%s looked up:\n got %+v\nwant %+v (ss)", lc.key, got[lc.key], want)
		}
	}
}
