//go:build linux

package sockets

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// liveContainer is one container of the live test: its cgroup, namespace and helper.
type liveContainer struct {
	key, dir, netns string
	h               helper
}

// startPods builds, like a Kubernetes node: a host-network container; a pod whose app and
// sidecar share one network namespace with an idle pause container; and a pod alone in its
// own namespace. All helpers hold unread TCP data and tiny unread UDP datagrams.
func startPods(t *testing.T) (*liveEnv, []liveContainer, []string) {
	e := requireLive(t)
	shared, solo := e.netns("pod"), e.netns("solo")
	pod := "kubepods/burstable/pod3f0a9d1e-7c55-4b8e-9a31-2d4be2f1c0aa/"
	cs := []liveContainer{
		{key: "host", dir: "kubepods/besteffort/pod11111111-2222-3333-4444-555555555555/hhhh", netns: ""},
		{key: "app", dir: pod + "aaaa", netns: shared},
		{key: "sidecar", dir: pod + "bbbb", netns: shared},
		{key: "pause", dir: pod + "pppp", netns: shared},
		{key: "solo", dir: "kubepods/pod8b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d/ssss", netns: solo},
	}
	sends := map[string][]string{
		"host":    {"TCP_SENDS=100", "UDP_SENDS=20"},
		"app":     {"TCP_SENDS=3000", "UDP_SENDS=200"},
		"sidecar": {"TCP_SENDS=50", "UDP_SENDS=500"},
		"solo":    {"TCP_SENDS=1000", "UDP_SENDS=100"},
	}
	for i := range cs {
		cs[i].dir = e.cgroup(cs[i].dir)
		mode := "queues"
		if cs[i].key == "pause" {
			mode = "idle"
		}
		cs[i].h = e.start(cs[i].dir, cs[i].netns, mode, sends[cs[i].key]...)
	}
	return e, cs, []string{shared, solo}
}

// whileStill runs collect between two ss snapshots of the host and the namespaces nss, again
// until the snapshots agree on the sockets of cs (ss runs at another moment than collect), at
// most tries times, and returns the second snapshot: what collect's numbers must equal.
func (e *liveEnv) whileStill(t *testing.T, tries int, nss []string, cs []liveContainer, collect func()) map[uint64]ssSocket {
	t.Helper()
	for range tries {
		before := e.ssSnapshot(nss...)
		collect()
		after := e.ssSnapshot(nss...)
		if sameSockets(before, after, cs) {
			return after
		}
	}
	t.Fatal("queues kept changing between ss runs")
	return nil
}

// sameSockets reports whether two ss snapshots agree on the helpers' sockets (other
// sockets of the host may change at any time).
func sameSockets(a, b map[uint64]ssSocket, cs []liveContainer) bool {
	for _, c := range cs {
		for _, ino := range c.h.inodes {
			if a[ino] != b[ino] {
				return false
			}
		}
	}
	return true
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	return cmd.Process.Pid
}

// TestLiveCollect compares Collect with `ss -tuanme` for the same inodes, through
// sock_diag, through the /proc/<pid>/net fallback, and without the privileges each needs.
func TestLiveCollect(t *testing.T) {
	e, cs, nss := startPods(t)
	groups := map[string]Group{"gone": {PIDs: []int{deadPID(t)}}}
	for _, c := range cs {
		groups[c.key] = Group{PIDs: procs(t, c.dir), Cgroup: strings.TrimPrefix(c.dir, cgroupV1Memory)}
	}
	check := func(t *testing.T, src Source, got map[string]Usage, ss map[uint64]ssSocket) {
		t.Helper()
		for _, c := range append(cs, liveContainer{key: "gone"}) {
			want := ssUsage(ss, c.h.inodes, src)
			if !sameAsSS(got[c.key], want) {
				t.Errorf("%s:\n got %+v\nwant %+v (ss)", c.key, got[c.key], want)
			}
		}
		// 200 datagrams of 10 bytes outweigh 30000 bytes of TCP payload: the truesize blow-up.
		if w := got["app"].Worst; w.Proto != "udp" || w.Local.Addr().String() != "127.0.0.1" || w.PID != cs[1].h.pid || w.FD < 3 || w.RcvqBytes < 10*200*10 {
			t.Errorf("app worst %+v, want pid %d's UDP socket on 127.0.0.1, 10x its 2000 bytes of payload", w, cs[1].h.pid)
		}
		for _, k := range slices.Sorted(maps.Keys(got)) {
			t.Logf("%-8s %+v", k, got[k])
		}
	}
	collect := func(t *testing.T, c *Collector) (map[string]Usage, map[uint64]ssSocket) {
		var got map[string]Usage
		after := e.whileStill(t, 3, nss, cs, func() {
			var err error
			if got, err = c.Collect(context.Background(), groups); err != nil {
				t.Fatal(err)
			}
		})
		return got, after
	}

	for _, legacyTCP := range []bool{true, false} {
		name := "sock_diag"
		if !legacyTCP {
			name += " tcp by family"
		}
		t.Run(name, func(t *testing.T) {
			c := NewCollector("/proc", DefaultLimits(), zaptest.NewLogger(t))
			defer c.Close()
			c.diag.noLegacyTCP = !legacyTCP
			got, ss := collect(t, c)
			check(t, SourceSockDiag, got, ss)
			if n := c.LastStats().Namespaces; n != 3 {
				t.Errorf("read %d namespaces, want 3 (host, shared, solo), each once", n)
			}
			if len(c.diag.conns) != 3 {
				t.Errorf("%d sock_diag connections kept, want one per namespace read", len(c.diag.conns))
			}
			// A namespace no longer read loses its connection at the end of the scrape.
			if _, err := c.Collect(context.Background(), map[string]Group{"host": groups["host"]}); err != nil {
				t.Fatal(err)
			}
			if len(c.diag.conns) != 1 {
				t.Errorf("%d sock_diag connections kept, want the host's only", len(c.diag.conns))
			}
			if c.diag.noLegacyTCP == legacyTCP {
				t.Errorf("the kernel refused TCPDIAG_GETSOCK")
			}
			if app := got["app"]; app.RcvqBytes <= app.PayloadBytes || app.PayloadBytes < 30000 {
				t.Errorf("app %+v: want 30000+ bytes unread TCP payload and a larger truesize", app)
			}
		})
	}
	t.Run("sockopt", func(t *testing.T) {
		c := NewCollector("/proc", DefaultLimits(), zaptest.NewLogger(t))
		defer c.Close()
		c.UseSockopt(true)
		got, ss := collect(t, c)
		check(t, SourceSockopt, got, ss)
		if st := c.LastStats(); st.Namespaces != 0 || st.SockoptReads == 0 || len(c.diag.conns) != 0 {
			t.Errorf("stats %+v, %d sock_diag connections: want sockets read through their holders, no namespace", st, len(c.diag.conns))
		}
	})
	t.Run("proc_net", func(t *testing.T) {
		c := NewCollector("/proc", DefaultLimits(), zaptest.NewLogger(t))
		defer c.Close()
		c.dumpDiag = nil
		got, ss := collect(t, c)
		check(t, SourceProcNet, got, ss)
	})
	t.Run("without CAP_SYS_ADMIN", func(t *testing.T) {
		res := runCollectHelper(t, groups, "--bounding-set=-sys_admin", "--inh-caps=-sys_admin")
		if res.Errors[0] != "" || res.Errors[1] != "" {
			t.Errorf("errors %q: a fallback is not an error", res.Errors)
		}
		ss := e.ssSnapshot(nss...)
		for _, c := range cs {
			src := SourceProcNet
			if c.netns == "" {
				src = SourceSockDiag // own namespace: no setns, no privilege
			}
			if want := ssUsage(ss, c.h.inodes, src); !sameAsSS(res.Usage[c.key], want) {
				t.Errorf("%s:\n got %+v\nwant %+v (ss)", c.key, res.Usage[c.key], want)
			}
		}
	})
	t.Run("unprivileged user", func(t *testing.T) {
		res := runCollectHelper(t, groups, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all")
		if res.Errors[0] == "" || res.Errors[1] != "" {
			t.Errorf("errors %q: want a permission error on the first scrape only", res.Errors)
		}
		t.Logf("first scrape's error: %s", res.Errors[0])
	})
}

// collectResult is what the "collect" helper prints: two scrapes' usage and errors.
type collectResult struct {
	Usage  map[string]Usage
	Errors [2]string
}

// runCollectHelper runs two Collects in a child process started by setpriv with args.
func runCollectHelper(t *testing.T, groups map[string]Group, setprivArgs ...string) collectResult {
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux) to drop privileges")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	g, err := json.Marshal(groups)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", append(setprivArgs, exe, "-test.run=^$")...)
	cmd.Env = append(os.Environ(), helperEnv+"=collect", "CGROUPMEM_SOCKETS_GROUPS="+string(g))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("collect helper: %v: %s", err, out)
	}
	var res collectResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("collect helper output %q: %v", out, err)
	}
	return res
}

// collectHelper runs two Collects of the groups in CGROUPMEM_SOCKETS_GROUPS and prints a
// collectResult as JSON.
func collectHelper() int {
	var groups map[string]Group
	if err := json.Unmarshal([]byte(os.Getenv("CGROUPMEM_SOCKETS_GROUPS")), &groups); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	logger, _ := zap.NewDevelopment()
	c := NewCollector("/proc", DefaultLimits(), logger)
	defer c.Close()
	var res collectResult
	for i := range res.Errors {
		got, err := c.Collect(context.Background(), groups)
		if err != nil {
			res.Errors[i] = err.Error()
		}
		res.Usage = got
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
