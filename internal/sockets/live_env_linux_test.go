//go:build linux

package sockets

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

// cgroupV1Memory is the v1 memory hierarchy the live tests' cgroups are in; Group.Cgroup paths
// are relative to it.
const cgroupV1Memory = testcgroup.Hierarchy

// liveEnv builds containers for live tests: cgroups of a testcgroup tree, network namespaces,
// and helper processes inside them. Everything is removed by t.Cleanup (processes first,
// then namespaces, then the tree's cgroups deepest first).
type liveEnv struct {
	t       *testing.T
	tree    *testcgroup.Tree
	root    string // the tree's root cgroup
	unified string // its mirror in the unified (cgroup2) hierarchy, "" without one
	exe     string
}

// cgroupUnified is the cgroup2 mount of a v1 hybrid host.
const cgroupUnified = testcgroup.UnifiedHierarchy

// requireLive skips unless the test runs as root with a writable cgroup v1 memory
// hierarchy and iproute2's ss and ip.
func requireLive(t *testing.T) *liveEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("live socket test skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("live socket test needs root: it creates cgroups and network namespaces and reads other processes' fds")
	}
	for _, tool := range []string{"ss", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("live socket test needs iproute2 (%s not found; apt-get install iproute2)", tool)
		}
	}
	// As runc does on a hybrid host: each container's path mirrored in the unified hierarchy,
	// its processes in both, so that its sockets carry the mirror's cgroup2 id.
	tree := testcgroup.New(t)
	if tree.Mode() != testcgroup.V1 {
		t.Skip("the live socket tests name their groups' cgroups relative to the v1 memory hierarchy")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &liveEnv{t: t, tree: tree, root: tree.Dir(), unified: tree.Unified(tree.Dir()), exe: exe}
}

// unifiedOf is the unified mirror of a container cgroup made by cgroup ("" without one).
func (e *liveEnv) unifiedOf(dir string) string { return e.tree.Unified(dir) }

// join moves pid into the container cgroup dir and its unified mirror.
func (e *liveEnv) join(dir string, pid int) {
	e.t.Helper()
	for _, d := range []string{dir, e.unifiedOf(dir)} {
		if d == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			e.t.Fatalf("moving pid %d into %s: %v", pid, d, err)
		}
	}
}

// cgroup creates a container cgroup, e.g. "kubepods/burstable/pod<uid>/<id>", and its
// unified mirror.
func (e *liveEnv) cgroup(rel string) string { return e.tree.AddCgroup(rel) }

// netns creates a network namespace with loopback up and deletes it at cleanup.
func (e *liveEnv) netns(suffix string) string {
	name := fmt.Sprintf("cgmsock-%d-%s", os.Getpid(), suffix)
	e.run("ip", "netns", "add", name)
	e.t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			e.t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	e.run("ip", "-n", name, "link", "set", "lo", "up")
	return name
}

func (e *liveEnv) run(name string, args ...string) []byte {
	e.t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		e.t.Fatalf("%s %v: %v: %s", name, args, err, stderr)
	}
	return out
}

// helper is a helper process held in a container cgroup.
type helper struct {
	pid    int
	inodes []uint64
	child  int // a process the helper started, if it says so ("child=N")
	stdin  io.Writer
	stdout io.Reader
}

// start runs the test binary as a helper (mode "queues" or "idle") in network namespace
// netns (host namespace if empty), moves it into cgroup dir, and waits until it is ready.
func (e *liveEnv) start(dir, netns, mode string, env ...string) helper {
	e.t.Helper()
	return e.startArgs(dir, netns, []string{e.exe, "-test.run=^$"}, append(env, helperEnv+"="+mode)...)
}

// startArgs runs args as a helper: it must wait for a line on stdin, then print
// "ready pid=<its pid> [inodes=a,b,...] [child=N]" and hold its state until stdin closes.
func (e *liveEnv) startArgs(dir, netns string, args []string, env ...string) helper {
	e.t.Helper()
	if netns != "" {
		args = append([]string{"ip", "netns", "exec", netns}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...) // ip netns exec execs the command: same pid
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	pid := cmd.Process.Pid
	e.join(dir, pid)
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		e.t.Fatal(err)
	}
	line, err := readLine(stdout, 30*time.Second)
	if err != nil || !strings.HasPrefix(line, "ready ") {
		e.t.Fatalf("helper %v: %q, %v; stderr: %s", args, line, err, stderr.String())
	}
	h := helper{pid: pid, stdin: stdin, stdout: stdout}
	h.parse(e.t, line)
	return h
}

// parse reads the fields of a helper's line: pid=, child=, inodes=.
func (h *helper) parse(t *testing.T, line string) {
	t.Helper()
	pid := h.pid
	for _, f := range strings.Fields(line)[1:] {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "pid":
			if v != strconv.Itoa(pid) {
				t.Fatalf("helper reports pid %s, started %d", v, pid)
			}
		case "child":
			h.child, _ = strconv.Atoi(v)
		case "inodes":
			for _, s := range strings.Split(v, ",") {
				ino, err := strconv.ParseUint(s, 10, 64)
				if err != nil {
					t.Fatalf("helper inode %q", s)
				}
				h.inodes = append(h.inodes, ino)
			}
		}
	}
}

func readLine(r io.Reader, timeout time.Duration) (string, error) {
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		ch <- result{strings.TrimSpace(line), err}
	}()
	select {
	case res := <-ch:
		return res.line, res.err
	case <-time.After(timeout):
		return "", fmt.Errorf("no line within %v", timeout)
	}
}

// procs reads a cgroup's cgroup.procs, as the receiver does.
func procs(t *testing.T, dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("cgroup.procs: %q", f)
		}
		pids = append(pids, pid)
	}
	return pids
}

// ssSnapshot runs `ss -tuanme --cgroup` in the host namespace and in each named namespace.
func (e *liveEnv) ssSnapshot(netns ...string) map[uint64]ssSocket {
	e.t.Helper()
	all := make(map[uint64]ssSocket)
	for _, ns := range append([]string{""}, netns...) {
		args := []string{"ss", "-tuanme", "--cgroup"}
		if ns != "" {
			args = append([]string{"ip", "netns", "exec", ns}, args...)
		}
		got, err := parseSS(bytes.NewReader(e.run(args[0], args[1:]...)))
		if err != nil {
			e.t.Fatal(err)
		}
		for ino, s := range got {
			all[ino] = s
		}
	}
	return all
}
