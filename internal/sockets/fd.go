package sockets

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// heldFD is an fd of a process that points at a socket.
type heldFD struct {
	PID   int
	FD    int
	Inode uint64
}

// fdVisitor is called for each socket fd a walk finds.
type fdVisitor func(fd int, inode uint64)

// The fds of a process (/proc/<pid>/fd) are walked by walkFDs in fd_linux.go (getdents64 and
// readlinkat into buffers kept between walks) or fd_others.go. Reading another process's fds
// needs root or CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH; the error then wraps
// fs.ErrPermission. A process that exits while its fds are read (ENOENT or ESRCH from open,
// getdents or readlink of the directory) wraps errVanished; fds closed meanwhile are skipped.

// parseSocketLink parses an fd link target "socket:[62958]"; any other target (files,
// pipes, anon inodes) gives false.
func parseSocketLink(target string) (uint64, bool) {
	rest, ok := strings.CutPrefix(target, "socket:[")
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(rest, "]")
	if !ok {
		return 0, false
	}
	inode, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || inode == 0 {
		return 0, false
	}
	return inode, true
}

var socketPrefix = []byte("socket:[")

// parseSocketLinkBytes is parseSocketLink on a readlink buffer, without allocating.
func parseSocketLinkBytes(target []byte) (uint64, bool) {
	rest, ok := bytes.CutPrefix(target, socketPrefix)
	if !ok {
		return 0, false
	}
	digits, ok := bytes.CutSuffix(rest, []byte("]"))
	if !ok {
		return 0, false
	}
	return parseDecimal(digits)
}

// parseDecimal parses a positive decimal number of at most 19 digits.
func parseDecimal(digits []byte) (uint64, bool) {
	if len(digits) == 0 || len(digits) > 19 {
		return 0, false
	}
	var v uint64
	for _, d := range digits {
		if d < '0' || d > '9' {
			return 0, false
		}
		v = v*10 + uint64(d-'0')
	}
	return v, v != 0
}

// parseFDName parses a /proc/<pid>/fd entry name, which ends at its first NUL in a dirent.
// "." and ".." give dot true.
func parseFDName(name []byte) (fd int, dot bool, err error) {
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	if string(name) == "." || string(name) == ".." {
		return 0, true, nil
	}
	if len(name) == 0 || len(name) > 10 {
		return 0, false, fmt.Errorf("%w: fd name %q", ErrMalformed, name)
	}
	v := 0
	for _, d := range name {
		if d < '0' || d > '9' {
			return 0, false, fmt.Errorf("%w: fd name %q", ErrMalformed, name)
		}
		v = v*10 + int(d-'0')
	}
	return v, false, nil
}

// inCgroup reports whether /proc/<pid>/cgroup names the cgroup at cgroup (the container's
// path relative to its hierarchy) or one below it (the receiver lists a container's pids
// with those of its child cgroups, where crun puts the workload). The line's path may be longer
// in front where the hierarchy is mounted below its root, as in tests. A missing file (the
// process exited) wraps errVanished.
func inCgroup(procRoot string, pid int, cgroup string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return false, vanished(err)
	}
	return cgroupFileHas(b, cgroup), nil
}

// cgroupFileHas reports whether a /proc/<pid>/cgroup text ("4:memory:/a/b", "0::/a/b") has
// a line whose path holds cgroup as whole components, at its end or followed by more.
func cgroupFileHas(b []byte, cgroup string) bool {
	cgroup = strings.TrimSuffix(cgroup, "/")
	if cgroup == "" {
		return true
	}
	if cgroup[0] != '/' {
		cgroup = "/" + cgroup
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		i := bytes.IndexByte(line, ':')
		if i < 0 {
			continue
		}
		j := bytes.IndexByte(line[i+1:], ':')
		if j < 0 {
			continue
		}
		path := line[i+1+j+1:]
		for off := 0; ; {
			k := bytes.Index(path[off:], []byte(cgroup))
			if k < 0 {
				break
			}
			end := off + k + len(cgroup)
			if end == len(path) || path[end] == '/' {
				return true
			}
			off += k + 1
		}
	}
	return false
}
