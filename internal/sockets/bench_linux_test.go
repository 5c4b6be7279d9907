//go:build linux

package sockets

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

const (
	benchContainers = 100
	benchSockets    = 50
)

// fleet is benchContainers helper processes holding benchSockets sockets each.
type fleet struct {
	groups  map[string]Group
	cgroups []string // one cgroup per helper, when cgroups are writable
}

// startFleet starts the helpers, each in a new network namespace (one per pod) when
// netnsPerPod, else all in the benchmark's own namespace; with a tree, each in its own
// cgroup of it.
func startFleet(b *testing.B, netnsPerPod bool, tree *testcgroup.Tree) fleet {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	f := fleet{groups: make(map[string]Group)}
	type proc struct {
		stdin  io.WriteCloser
		stdout io.Reader
		stderr *bytes.Buffer
	}
	var procs []proc
	for i := range benchContainers {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=fifty")
		if netnsPerPod {
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
			cmd.Env = append(cmd.Env, "LO_UP=1")
		}
		p := proc{stderr: &bytes.Buffer{}}
		cmd.Stderr = p.stderr
		if p.stdin, err = cmd.StdinPipe(); err != nil {
			b.Fatal(err)
		}
		if p.stdout, err = cmd.StdoutPipe(); err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = p.stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
		if tree != nil {
			dir, err := tree.MakeCgroup(fmt.Sprintf("kubepods/burstable/pod%04d/c%04d", i, i))
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
				b.Fatal(err)
			}
			f.cgroups = append(f.cgroups, dir)
		}
		f.groups[fmt.Sprintf("c%04d", i)] = Group{PIDs: []int{cmd.Process.Pid}}
		procs = append(procs, p)
	}
	for _, p := range procs {
		if _, err := io.WriteString(p.stdin, "go\n"); err != nil {
			b.Fatal(err)
		}
	}
	for _, p := range procs {
		line, err := readLine(p.stdout, 60*time.Second)
		if err != nil || !strings.HasSuffix(line, fmt.Sprintf("sockets=%d", benchSockets)) {
			b.Fatalf("helper: %q, %v; stderr: %s", line, err, p.stderr)
		}
	}
	return f
}

// benchCgroupRoot makes a unique cgroup tree in the v1 memory hierarchy, or returns nil where
// that is not possible (the plain cgroup read, of v1 files, is then skipped).
func benchCgroupRoot(b *testing.B) *testcgroup.Tree {
	tree, err := testcgroup.Make("cgroupmem-sockets-bench-", testcgroup.WithoutUnifiedTwin())
	if err != nil {
		return nil
	}
	b.Cleanup(func() {
		if err := tree.Close(); err != nil {
			b.Errorf("%v", err)
		}
	})
	if tree.Mode() != testcgroup.V1 {
		return nil
	}
	return tree
}

// BenchmarkCollect100x50 measures one Collect of 100 containers × 50 sockets, beside a
// plain cgroup read of the same containers (cgroup.procs, memory.stat, usage and limit,
// what a scrape reads without sockets). host_netns: every container in one namespace (one
// dump of 5,000+ sockets). netns_per_pod: a namespace per container (100 setns and dumps;
// needs root).
func BenchmarkCollect100x50(b *testing.B) {
	for _, layout := range []string{"host_netns", "netns_per_pod"} {
		b.Run(layout, func(b *testing.B) {
			perPod := layout == "netns_per_pod"
			if perPod && os.Geteuid() != 0 {
				b.Skip("a network namespace per container needs root")
			}
			var tree *testcgroup.Tree
			if perPod {
				tree = benchCgroupRoot(b)
			}
			f := startFleet(b, perPod, tree)
			if len(f.cgroups) > 0 {
				b.Run("plain_cgroup_read", func(b *testing.B) { benchPlainCgroupRead(b, f.cgroups) })
			}
			for _, src := range []Source{SourceSockDiag, SourceProcNet} {
				b.Run(string(src), func(b *testing.B) { benchCollect(b, f, src) })
			}
		})
	}
}

func benchCollect(b *testing.B, f fleet, src Source) {
	c := NewCollector("/proc", DefaultLimits(), nil)
	defer c.Close()
	if src == SourceProcNet {
		c.dumpDiag = nil
	}
	ctx := context.Background()
	got, err := c.Collect(ctx, f.groups)
	if err != nil {
		b.Fatal(err)
	}
	for k, u := range got {
		if u.Sockets != benchSockets || u.Source != src || u.NonEmpty != 36 {
			b.Fatalf("%s: %+v, want %d sockets, 36 non-empty, from %s", k, u, benchSockets, src)
		}
	}
	b.ReportAllocs()
	cpu := testcgroup.CPUTime()
	for b.Loop() {
		if _, err := c.Collect(ctx, f.groups); err != nil {
			b.Fatal(err)
		}
	}
	reportPerContainer(b, testcgroup.CPUTime()-cpu)
}

// reportPerContainer reports wall-clock and CPU time (user and system of this process, where
// the kernel's readlink and dump work is charged) per container, like the receiver's
// benchmarks; CPU time holds steady on a shared machine.
func reportPerContainer(b *testing.B, cpu time.Duration) {
	per := float64(b.N) * benchContainers
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/container")
	b.ReportMetric(float64(cpu.Nanoseconds())/per, "cpu-ns/container")
}

// benchPlainCgroupRead reads what a scrape reads for each container without sockets.
func benchPlainCgroupRead(b *testing.B, dirs []string) {
	files := []string{"cgroup.procs", "memory.stat", "memory.usage_in_bytes", "memory.limit_in_bytes"}
	b.ReportAllocs()
	cpu := testcgroup.CPUTime()
	for b.Loop() {
		for _, d := range dirs {
			for _, name := range files {
				if _, err := os.ReadFile(filepath.Join(d, name)); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	reportPerContainer(b, testcgroup.CPUTime()-cpu)
}

// hostSockets opens n UDP sockets in this process (as one namespace's worth of sockets)
// and returns a want set of 50 of them.
func hostSockets(b *testing.B, n int) inodeSet {
	want := make(inodeSet)
	for i := range n {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		if i%(n/benchSockets) == 0 {
			ino, err := inode(c.(*net.UDPConn))
			if err != nil {
				b.Fatal(err)
			}
			want[ino] = struct{}{}
		}
	}
	return want
}

// BenchmarkReadProcNet reads /proc/<pid>/net/{tcp,tcp6,udp,udp6} of a namespace holding
// 5,000 sockets and picks 50 of them: the fallback's cost per namespace.
func BenchmarkReadProcNet(b *testing.B) {
	want := hostSockets(b, benchContainers*benchSockets)
	b.ReportAllocs()
	for b.Loop() {
		got, err := readProcNet("/proc", os.Getpid(), want.has)
		if err != nil || len(got) != len(want) {
			b.Fatalf("%d of %d sockets, %v", len(got), len(want), err)
		}
	}
}

// BenchmarkDumpSockDiag is BenchmarkReadProcNet through sock_diag (own namespace, the
// netlink socket kept open as between scrapes).
func BenchmarkDumpSockDiag(b *testing.B) {
	want := hostSockets(b, benchContainers*benchSockets)
	d := newDiagDumper()
	defer d.close()
	b.ReportAllocs()
	for b.Loop() {
		got, err := d.dump(context.Background(), "", 0, true, want.keep)
		if err != nil || len(got) != len(want) {
			b.Fatalf("%d of %d sockets, %v", len(got), len(want), err)
		}
	}
}

// BenchmarkDumpNamespace is what reading one pod's namespace costs the kernel, whatever it
// holds: each sock_diag dump of a namespace walks the protocol's hash table, and by default a
// pod's namespace shares the host's (tcp_ehash_entries, 262,144 buckets on a 24 GiB host; UDP
// 16,384 slots). tables=private is a namespace made where net.ipv4.tcp_child_ehash_entries
// and udp_child_hash_entries are set (Linux 6.1 and 6.2; a node setting, read when a namespace
// is created), which gets tables of its own of that size. The namespaces are empty; the
// connection is kept, as between scrapes. Needs root and iproute2.
func BenchmarkDumpNamespace(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root to create network namespaces")
	}
	for _, tables := range []string{"shared", "private"} {
		b.Run("tables="+tables, func(b *testing.B) {
			parent := fmt.Sprintf("cgmsock-bench-%d-%s", os.Getpid(), tables)
			if out, err := exec.Command("ip", "netns", "add", parent).CombinedOutput(); err != nil {
				b.Skipf("ip netns add: %v: %s", err, out)
			}
			b.Cleanup(func() { _ = exec.Command("ip", "netns", "del", parent).Run() })
			if tables == "private" {
				out, err := exec.Command("ip", "netns", "exec", parent, "sysctl", "-w",
					"net.ipv4.tcp_child_ehash_entries=1024", "net.ipv4.udp_child_hash_entries=1024").CombinedOutput()
				if err != nil {
					b.Skipf("this kernel has no per-namespace hash tables: %v: %s", err, out)
				}
			}
			// The pod's namespace: made from within parent, held by a sleeping process.
			pod := exec.Command("ip", "netns", "exec", parent, "unshare", "--net", "sleep", "infinity")
			if err := pod.Start(); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = pod.Process.Kill(); _ = pod.Wait() })
			nsPath := fmt.Sprintf("/proc/%d/ns/net", pod.Process.Pid)
			var ns uint64
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				parentNS, _ := readNetNS("/proc", os.Getpid())
				if got, err := readNetNS("/proc", pod.Process.Pid); err == nil && got != parentNS {
					if ns == got { // the same twice: unshare is done
						break
					}
					ns = got
				}
				if time.Now().After(deadline) {
					b.Fatal("the pod's namespace never appeared")
				}
			}
			d := newDiagDumper()
			defer d.close()
			for _, q := range append([]diagQuery{tcpBothFamilies}, udpByFamily...) {
				b.Run("dump="+strings.ReplaceAll(q.String(), " ", "_"), func(b *testing.B) {
					if _, err := d.conn(nsPath, ns, false); err != nil {
						b.Fatal(err)
					}
					conn := d.conns[ns].c
					b.ReportAllocs()
					cpu := testcgroup.CPUTime()
					for b.Loop() {
						if err := dumpFamily(conn, q, func(uint64, uint64) bool { return true }, map[uint64]sockQueue{}, nil); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64((testcgroup.CPUTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/dump")
				})
			}
		})
	}
}
