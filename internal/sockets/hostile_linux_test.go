//go:build linux

package sockets

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// fdCount is the number of fds of pid, read independently of the walker.
func fdCount(t *testing.T, pid int) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestLiveHostileContainer: a container holding 18,000 dup()s of one socket and 1,000 more
// sockets, beside the pods of TestLiveCollect (sharing the app's namespace). The scrape
// examines at most the container's fd limit of its fds, reports it incomplete (warned once,
// by name), and every other container's numbers still equal ss's. With a limit above its fds,
// its numbers equal ss's and the walk allocates nothing per fd.
func TestLiveHostileContainer(t *testing.T) {
	e, cs, nss := startPods(t)
	const dups, socks = 18000, 1000 // about 19,000 fds: under the usual hard limit of 20,000
	dir := e.cgroup("kubepods/besteffort/pod99999999-2222-3333-4444-555555555555/hostile")
	hostile := e.start(dir, cs[1].netns, "hostile", "DUPS=18000", "SOCKETS=1000")
	if len(hostile.inodes) != socks+2 {
		t.Fatalf("hostile helper holds %d sockets, want %d", len(hostile.inodes), socks+2)
	}
	groups := map[string]Group{"hostile": {PIDs: procs(t, dir), Cgroup: strings.TrimPrefix(dir, cgroupV1Memory)}}
	others := 0
	for _, c := range cs {
		groups[c.key] = Group{PIDs: procs(t, c.dir), Cgroup: strings.TrimPrefix(c.dir, cgroupV1Memory)}
		others += fdCount(t, c.h.pid)
	}
	if n := fdCount(t, hostile.pid); n < dups+socks {
		t.Fatalf("hostile helper has %d fds, want at least %d", n, dups+socks)
	}

	core, logs := observer.New(zapcore.WarnLevel)
	c := NewCollector("/proc", DefaultLimits(), zap.New(core))
	defer c.Close()
	for scrape := range 2 {
		before := e.ssSnapshot(nss...)
		got, err := c.Collect(context.Background(), groups)
		if err != nil {
			t.Fatal(err)
		}
		after := e.ssSnapshot(nss...)
		if !sameSockets(before, after, cs) {
			t.Fatal("queues changed between ss runs")
		}
		if !got["hostile"].Incomplete {
			t.Errorf("scrape %d: hostile %+v: past its fd limit it must be incomplete", scrape, got["hostile"])
		}
		for _, lc := range cs {
			if want := ssUsage(after, lc.h.inodes, SourceSockDiag); !sameAsSS(got[lc.key], want) || got[lc.key].Incomplete {
				t.Errorf("scrape %d: %s:\n got %+v\nwant %+v (ss)", scrape, lc.key, got[lc.key], want)
			}
		}
		if st := c.LastStats(); st.FDs != DefaultLimits().MaxFDsPerContainer+others {
			t.Errorf("scrape %d: examined %d fds, want the limit %d plus the others' %d", scrape, st.FDs, DefaultLimits().MaxFDsPerContainer, others)
		}
	}
	if w := logs.FilterField(zap.String("container", "hostile")); w.Len() != 1 || w.All()[0].ContextMap()["limit"] != "max_fds_per_container" {
		t.Errorf("want one warning naming the hostile container and its limit:\n%v", logs.All())
	}

	// With room for all of its fds: the numbers equal ss's, each socket once.
	c2 := NewCollector("/proc", Limits{MaxFDsPerContainer: 1 << 20, MaxFDsPerScrape: 1 << 20, MaxNamespaces: 10}, zap.NewNop())
	defer c2.Close()
	only := map[string]Group{"hostile": groups["hostile"]}
	got, err := c2.Collect(context.Background(), only)
	if err != nil {
		t.Fatal(err)
	}
	ss := e.ssSnapshot(nss...)
	if want := ssUsage(ss, hostile.inodes, SourceSockDiag); !sameAsSS(got["hostile"], want) || got["hostile"].Incomplete {
		t.Errorf("hostile:\n got %+v\nwant %+v (ss)", got["hostile"], want)
	}
	if st := c2.LastStats(); st.FDs < dups+socks {
		t.Errorf("examined %d fds, want all %d+", st.FDs, dups+socks)
	}
	// Allocations: per distinct socket (its set entry, its decoded reply), none per fd.
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := c2.Collect(context.Background(), only); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%.0f allocations per Collect of %d fds, %d distinct sockets", allocs, dups+socks, socks+2)
	if limit := float64(4*socks + 500); allocs > limit {
		t.Errorf("%.0f allocations per Collect, want at most %.0f: nothing per fd, a few per distinct socket", allocs, limit)
	}
}

// sharedFilesPy holds a UDP socket and DUPS dup()s of it, then clones itself with CLONE_FILES
// and without CLONE_THREAD: two processes (two entries in cgroup.procs) sharing one fd table,
// which exec would have unshared, so it is done with a raw clone(2).
const sharedFilesPy = `
import ctypes, os, socket, sys, time
sys.stdin.readline()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
for _ in range(int(os.environ["DUPS"])):
    os.dup(s.fileno())
libc = ctypes.CDLL(None, use_errno=True)
nr = {"x86_64": 56, "aarch64": 220}[os.uname().machine]
child = libc.syscall(nr, 0x400 | 17, 0, 0, 0, 0)  # CLONE_FILES | SIGCHLD
if child == 0:
    while True:
        time.sleep(3600)
if child < 0:
    print("error clone errno", ctypes.get_errno(), flush=True)
    sys.exit(1)
print("ready pid=%d child=%d inodes=%d" % (os.getpid(), child, os.fstat(s.fileno()).st_ino), flush=True)
sys.stdin.read()
`

// TestLiveSharedFDTable: two processes of a container sharing one fd table (clone
// CLONE_FILES) cost one walk of it, not two.
func TestLiveSharedFDTable(t *testing.T) {
	e := requireLive(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("needs python3 to clone a process with CLONE_FILES")
	}
	if m := runtime.GOARCH; m != "amd64" && m != "arm64" {
		t.Skipf("clone(2) number not known here for %s", m)
	}
	dir := e.cgroup("kubepods/besteffort/pod77777777-2222-3333-4444-555555555555/shared")
	const dups = 3000
	h := e.startArgs(dir, "", []string{py, "-c", sharedFilesPy}, "DUPS="+strconv.Itoa(dups))
	if h.child <= 0 {
		t.Fatalf("no child pid from the helper: %+v", h)
	}
	t.Cleanup(func() { _ = syscall.Kill(h.child, syscall.SIGKILL) })
	pids := procs(t, dir)
	if !slices.Contains(pids, h.child) || !slices.Contains(pids, h.pid) {
		t.Fatalf("cgroup.procs %v, want the helper %d and its clone %d", pids, h.pid, h.child)
	}
	if r, err := kcmpFiles(h.pid, h.child); err != nil || r != 0 {
		t.Fatalf("kcmp KCMP_FILES(%d, %d) = %d, %v: want one shared table", h.pid, h.child, r, err)
	}
	c := NewCollector("/proc", DefaultLimits(), zap.NewNop())
	defer c.Close()
	got, err := c.Collect(context.Background(), map[string]Group{"shared": {PIDs: pids, Cgroup: strings.TrimPrefix(dir, cgroupV1Memory)}})
	if err != nil {
		t.Fatal(err)
	}
	st := c.LastStats()
	if st.SharedFDTables != 1 || st.WalkedPIDs != 1 || st.FDs != fdCount(t, h.pid) {
		t.Errorf("stats %+v: want one process walked (%d fds), its clone skipped", st, fdCount(t, h.pid))
	}
	if u := got["shared"]; u.Sockets != 1 || u.Incomplete {
		t.Errorf("usage %+v: one socket, however many fds point at it", u)
	}
}
