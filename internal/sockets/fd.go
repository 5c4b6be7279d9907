package sockets

import (
	"errors"
	"fmt"
	"io/fs"
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

// readSocketFDs lists the socket fds of pid from <procRoot>/<pid>/fd. Reading another
// process's fds needs root or CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH; the error then wraps
// fs.ErrPermission. A missing directory (the process exited) wraps fs.ErrNotExist; fds
// closed while the directory is read are skipped.
func readSocketFDs(procRoot string, pid int) ([]heldFD, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid), "fd")
	f, err := os.Open(dir)
	if err != nil {
		return nil, vanished(err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var out []heldFD
	for _, name := range names {
		target, err := os.Readlink(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		inode, ok := parseSocketLink(target)
		if !ok {
			continue
		}
		fd, err := strconv.Atoi(name)
		if err != nil {
			return nil, fmt.Errorf("%w: fd name %q in %s", ErrMalformed, name, dir)
		}
		out = append(out, heldFD{PID: pid, FD: fd, Inode: inode})
	}
	return out, nil
}

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
