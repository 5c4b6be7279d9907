package sockets

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// netNSPath is the namespace file of pid: readlink gives "net:[4026531833]", open gives an
// fd for setns. Both need ptrace-read access to pid.
func netNSPath(procRoot string, pid int) string {
	return filepath.Join(procRoot, strconv.Itoa(pid), "ns", "net")
}

// readNetNS returns the network namespace inode of pid.
func readNetNS(procRoot string, pid int) (uint64, error) {
	target, err := os.Readlink(netNSPath(procRoot, pid))
	if err != nil {
		return 0, vanished(err)
	}
	return parseNetNSLink(target)
}

// parseNetNSLink parses a namespace link target "net:[4026531833]".
func parseNetNSLink(target string) (uint64, error) {
	rest, ok := strings.CutPrefix(target, "net:[")
	digits, ok2 := strings.CutSuffix(rest, "]")
	if !ok || !ok2 {
		return 0, fmt.Errorf("%w: netns link: %q", ErrMalformed, target)
	}
	ns, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || ns == 0 {
		return 0, fmt.Errorf("%w: netns link: %q", ErrMalformed, target)
	}
	return ns, nil
}

// namespace is one network namespace seen in a scrape: the pids in it that hold sockets (any
// of them can be used to enter it) and the socket inodes they hold.
type namespace struct {
	id   uint64
	pids []int
	want inodeSet
}

// namespaces groups held sockets by the namespace of their process, so that each namespace
// is read once however many containers share it. nsOf maps a pid to its namespace.
func namespaces(held []heldFD, nsOf map[int]uint64) []*namespace {
	byID := make(map[uint64]*namespace)
	var out []*namespace
	seenPID := make(map[int]bool)
	for _, h := range held {
		id, ok := nsOf[h.PID]
		if !ok {
			continue
		}
		ns := byID[id]
		if ns == nil {
			ns = &namespace{id: id, want: make(inodeSet)}
			byID[id] = ns
			out = append(out, ns)
		}
		if !seenPID[h.PID] {
			seenPID[h.PID] = true
			ns.pids = append(ns.pids, h.PID)
		}
		ns.want[h.Inode] = struct{}{}
	}
	return out
}
