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

// nsState is one network namespace seen in a scrape: the pids in it (any of them can be used
// to enter it), the groups with a pid in it, the socket inodes walked groups hold in it, and
// what reading it gave.
type nsState struct {
	id     uint64
	pids   []int
	groups []*groupState
	want   inodeSet

	read     bool                 // it was read (or every pid in it vanished trying)
	failed   bool                 // reading it failed: its groups' numbers are incomplete
	source   Source               // the source that read it
	queues   map[uint64]sockQueue // the sockets kept, by inode
	unmapped bool                 // sockets were kept that no group created: walk its groups
	got      bool                 // a read of it succeeded (keep)
	cached   *cachedNS            // its last read, when of the present refresh period
}

// addPID records that pid of group gs is in the namespace.
func (n *nsState) addPID(pid int, gs *groupState) {
	n.pids = append(n.pids, pid)
	if len(n.groups) == 0 || n.groups[len(n.groups)-1] != gs {
		n.groups = append(n.groups, gs)
	}
}

// hasByID reports whether a group attributed by cgroup id has a pid in the namespace.
func (n *nsState) hasByID() bool {
	for _, gs := range n.groups {
		if gs.byID {
			return true
		}
	}
	return false
}
