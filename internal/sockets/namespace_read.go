package sockets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// readNamespace reads one namespace through the first of its pids still in it: sock_diag
// when allowed, else /proc/<pid>/net. It keeps the sockets some group created (by cgroup id)
// or a walked group holds, and, where groups attributed by cgroup id live (other than the
// host's namespace, full of the host's own sockets), those no group created, which their fds
// must then tell (n.unmapped). Everything /proc/<pid>/net gives has no cgroup id.
func (c *Collector) readNamespace(ctx context.Context, n *nsState, idOwner map[uint64]*groupState, s *scrape) {
	n.read = true
	byID := n.hasByID()
	retain := func(src Source) bool { return byID && (n.id != c.hostNS || src == SourceProcNet) }
	src := c.sourceFor(n.id)
	if src == SourceProcNet && c.dumpDiag != nil {
		s.note("sock_diag_denied", fmt.Errorf("socket queues: entering network namespaces was not permitted earlier; reading /proc/<pid>/net"))
	}
	for _, pid := range n.pids {
		if s.gone[pid] {
			continue
		}
		if src == SourceSockDiag {
			keepAll := retain(SourceSockDiag)
			q, err := c.dumpDiag(ctx, pid, n.id, n.id == c.selfNS, func(inode, cgroupID uint64) bool {
				if cgroupID != 0 && idOwner[cgroupID] != nil {
					return true
				}
				_, held := n.want[inode]
				return held || keepAll
			})
			switch {
			case err == nil:
				n.keep(q, SourceSockDiag, idOwner)
				return
			case errors.Is(err, errVanished):
				continue
			case errors.Is(err, fs.ErrPermission):
				c.setnsDenied = true
				s.note("sock_diag_denied", fmt.Errorf("socket queues: sock_diag in netns of pid %d (needs CAP_SYS_ADMIN), reading /proc/<pid>/net instead: %w", pid, err))
			default:
				s.note("sock_diag_failed", fmt.Errorf("socket queues: sock_diag in netns of pid %d, reading /proc/<pid>/net instead: %w", pid, err))
			}
			src = SourceProcNet
		}
		keepAll := retain(SourceProcNet)
		q, err := c.readProcNet(pid, func(inode uint64) bool {
			_, held := n.want[inode]
			return held || keepAll
		})
		if err == nil {
			// /proc/<pid>/net is the namespace of whatever process has the pid now.
			if now, nsErr := c.readNetNS(pid); nsErr != nil || now != n.id {
				continue
			}
			n.keep(q, SourceProcNet, idOwner)
			return
		}
		if errors.Is(err, errVanished) {
			continue
		}
		s.fail(nil, "proc_net_permission", fmt.Errorf("socket queues: reading /proc/%d/net: %w", pid, err))
		n.fail()
		n.source = src
		return
	}
	n.source = src
}

// keep stores what a read of the namespace gave, and whether some of it no group created.
func (n *nsState) keep(q map[uint64]sockQueue, src Source, idOwner map[uint64]*groupState) {
	n.queues, n.source, n.got = q, src, true
	for ino, sq := range q {
		if _, held := n.want[ino]; held {
			continue
		}
		if sq.cgroupID == 0 || idOwner[sq.cgroupID] == nil {
			n.unmapped = true
			return
		}
	}
}

// fail marks the namespace failed: the groups whose numbers need it are charged with it.
func (n *nsState) fail() { n.failed = true }
