package cgroupfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// Bounds of RuntimeFromShim: what it reads of a container's cgroup.procs, how many of its
// processes it looks at, and what it reads of a /proc file. A container controls how many
// processes it has and what they are called.
const (
	shimProcsBytes = 4096
	shimMaxPids    = 64
	shimFileBytes  = 4096
)

// RuntimeFromShim names the runtime of a container cgroup whose name does not: the cgroupfs
// driver's bare 64-hex id, which containerd and Docker (through its containerd) both give a
// container under a kubelet pod. The container's init, and any process exec'd into it, is a
// child of the runtime's shim, which runs outside the container: containerd-shim started in
// containerd namespace "moby" is Docker's, any other containerd's. procRoot is the host's
// /proc. done is false while the cgroup holds no process that tells (none yet, or /proc
// unreadable): the caller may ask again later; a cgroup whose processes have no shim parent
// (a pid namespace without the host's processes, another runtime) is done with "".
func RuntimeFromShim(dir, procRoot string) (runtime string, done bool) {
	b, err := readHead(filepath.Join(dir, "cgroup.procs"), shimProcsBytes)
	if err != nil {
		return "", errors.Is(err, fs.ErrNotExist) // a cgroup that is gone: nothing to ask again
	}
	if i := bytes.LastIndexByte(b, '\n'); len(b) == shimProcsBytes && i >= 0 {
		b = b[:i] // the last pid may be cut
	}
	pids := map[int]bool{}
	var order []int
	for _, f := range bytes.Fields(b) {
		if pid, err := strconv.Atoi(string(f)); err == nil && pid > 0 && len(order) < shimMaxPids {
			pids[pid] = true
			order = append(order, pid)
		}
	}
	if len(order) == 0 {
		return "", false
	}
	sawParent := false
	for _, pid := range order {
		ppid, ok := parentPid(procRoot, pid)
		if !ok || pids[ppid] || ppid <= 1 {
			continue
		}
		cmdline, err := readHead(filepath.Join(procRoot, strconv.Itoa(ppid), "cmdline"), shimFileBytes)
		if err != nil {
			continue
		}
		sawParent = true
		if rt, ok := shimRuntime(cmdline); ok {
			return rt, true
		}
	}
	return "", sawParent
}

// shimRuntime reads a shim's command line: containerd-shim[-runc-v2] ... -namespace <ns>.
func shimRuntime(cmdline []byte) (string, bool) {
	args := bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0})
	if len(args) == 0 || !bytes.HasPrefix([]byte(filepath.Base(string(args[0]))), []byte("containerd-shim")) {
		return "", false
	}
	for i := 1; i+1 < len(args); i++ {
		if string(args[i]) == "-namespace" || string(args[i]) == "--namespace" {
			if string(args[i+1]) == "moby" {
				return RuntimeDocker, true
			}
			return RuntimeContainerd, true
		}
	}
	return RuntimeContainerd, true
}

// parentPid reads the parent pid from /proc/<pid>/stat: "pid (comm) state ppid ...", where
// comm, the process's own name, may hold spaces and parentheses.
func parentPid(procRoot string, pid int) (int, bool) {
	b, err := readHead(filepath.Join(procRoot, strconv.Itoa(pid), "stat"), shimFileBytes)
	if err != nil {
		return 0, false
	}
	return parseStatPPid(b)
}

// parseStatPPid parses the ppid field of a /proc/<pid>/stat line.
func parseStatPPid(b []byte) (int, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(string(f[1]))
	return ppid, err == nil
}

// readHead reads at most n bytes of a file.
func readHead(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	m, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b[:m], nil
}
