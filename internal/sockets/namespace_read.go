package sockets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// readNamespaces reads each namespace's queues once and returns them by inode (socket inodes
// are unique on the host), with the source used for each namespace.
func (c *Collector) readNamespaces(ctx context.Context, nss []*namespace, s *scrape) (map[uint64]sockQueue, map[uint64]Source, error) {
	queues := make(map[uint64]sockQueue)
	sources := make(map[uint64]Source, len(nss))
	c.nsReads = 0
	for _, ns := range nss {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("socket queues: %w", err)
		}
		c.nsReads++
		q, src := c.readNamespace(ctx, ns, s)
		sources[ns.id] = src
		for ino, sq := range q {
			queues[ino] = sq
		}
	}
	return queues, sources, nil
}

// readNamespace reads one namespace through the first of its pids still alive: sock_diag
// when allowed, else /proc/<pid>/net.
func (c *Collector) readNamespace(ctx context.Context, ns *namespace, s *scrape) (map[uint64]sockQueue, Source) {
	src := c.sourceFor(ns.id)
	if src == SourceProcNet && c.dumpDiag != nil {
		s.note("sock_diag_denied", fmt.Errorf("socket queues: entering network namespaces was not permitted earlier; reading /proc/<pid>/net"))
	}
	for _, pid := range ns.pids {
		if src == SourceSockDiag {
			q, err := c.dumpDiag(ctx, pid, ns.id == c.selfNS, ns.want)
			switch {
			case err == nil:
				return q, SourceSockDiag
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
		q, err := c.readProcNet(pid, ns.want)
		if err == nil {
			return q, SourceProcNet
		}
		s.fail("proc_net_permission", fmt.Errorf("socket queues: reading /proc/%d/net: %w", pid, err))
		if !errors.Is(err, errVanished) {
			return nil, src
		}
	}
	return nil, src
}
