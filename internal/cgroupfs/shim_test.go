package cgroupfs

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeProc writes /proc/<pid>/stat and cmdline for each process: pid → (ppid, argv).
func fakeProc(t *testing.T, procs map[string][2]string) string {
	t.Helper()
	root := t.TempDir()
	for pid, p := range procs {
		writeFile(t, filepath.Join(root, pid, "stat"), pid+" (a (b) c) S "+p[0]+" 1 1 0 -1\n")
		writeFile(t, filepath.Join(root, pid, "cmdline"), strings.ReplaceAll(p[1], " ", "\x00")+"\x00")
	}
	return root
}

func TestRuntimeFromShim(t *testing.T) {
	proc := fakeProc(t, map[string][2]string{
		"50":  {"1", "/usr/bin/containerd-shim-runc-v2 -namespace moby -id abc -address /run/containerd/containerd.sock"},
		"60":  {"1", "/usr/bin/containerd-shim-runc-v2 -namespace k8s.io -id def -address /run/containerd/containerd.sock"},
		"70":  {"1", "/usr/bin/conmon --api-version 1"},
		"100": {"50", "sh -c sleep"},
		"101": {"100", "sleep 600"},
		"200": {"60", "pause"},
		"300": {"70", "sleep 600"},
		"400": {"1", "init"},
	})
	tests := []struct {
		name, procs, want string
		done              bool
	}{
		{name: "Docker's containerd namespace", procs: "101\n100\n", want: RuntimeDocker, done: true},
		{name: "the kubelet's containerd namespace", procs: "200\n", want: RuntimeContainerd, done: true},
		{name: "not a shim's child", procs: "300\n", done: true},
		{name: "a child of pid 1", procs: "400\n"},
		{name: "no process yet", procs: ""},
		{name: "a pid without /proc entry", procs: "999\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "cgroup.procs"), tt.procs)
			got, done := RuntimeFromShim(dir, proc)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.done, done)
		})
	}
	t.Run("a cgroup that is gone", func(t *testing.T) {
		got, done := RuntimeFromShim(filepath.Join(t.TempDir(), "gone"), proc)
		require.Equal(t, "", got)
		require.True(t, done)
	})
	t.Run("bounded: a container with thousands of processes", func(t *testing.T) {
		dir := t.TempDir()
		var b strings.Builder
		for i := 0; i < 5000; i++ {
			b.WriteString("999\n")
		}
		b.WriteString("100\n") // past the bound: not read
		writeFile(t, filepath.Join(dir, "cgroup.procs"), b.String())
		got, done := RuntimeFromShim(dir, proc)
		require.Equal(t, "", got)
		require.False(t, done)
	})
}

// TestRuntimeFromShimHost asks of a cgroup holding this test process: its parent (go test)
// is no shim, so the answer is final and empty.
func TestRuntimeFromShimHost(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cgroup.procs"), strconv.Itoa(os.Getpid())+"\n")
	got, done := RuntimeFromShim(dir, "/proc")
	require.Equal(t, "", got)
	require.True(t, done)
}

// FuzzParseStatPPid: a process names itself (comm: up to 16 bytes, any but NUL, ")" and
// spaces included); the ppid is the fourth field counted after comm's last ")". Whatever
// the line, the parse does not panic, and for a line built from a comm and a ppid it
// returns that ppid.
func FuzzParseStatPPid(f *testing.F) {
	f.Add("a (b) c", 42)
	f.Add(") ) )", 1)
	f.Add("", 0)
	f.Fuzz(func(t *testing.T, comm string, ppid int) {
		_, _ = parseStatPPid([]byte(comm))
		if ppid < 0 || strings.ContainsAny(comm, "\x00\n") {
			return
		}
		line := "123 (" + comm + ") S " + strconv.Itoa(ppid) + " 1 1 0 -1 4194560 100"
		got, ok := parseStatPPid([]byte(line))
		require.True(t, ok, "%q", line)
		require.Equal(t, ppid, got, "%q", line)
	})
}
