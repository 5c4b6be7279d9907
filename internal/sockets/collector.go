package sockets

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"

	"go.uber.org/zap"
)

// Collector reads socket receive queues and attributes them to groups of pids (containers).
type Collector struct {
	logger *zap.Logger
	diag   *diagDumper
	rep    reporter

	mu          sync.Mutex
	selfNS      uint64 // the collector's own network namespace: sock_diag needs no setns there
	setnsDenied bool   // entering another namespace failed with a permission error

	// Test seams, set by NewCollector to read procRoot.
	readFDs     func(pid int) ([]heldFD, error)
	readNetNS   func(pid int) (uint64, error)
	readProcNet func(pid int, want inodeSet) (map[uint64]sockQueue, error)
	// dumpDiag reads want with sock_diag in pid's namespace; nil means /proc/<pid>/net only.
	dumpDiag func(ctx context.Context, pid int, own bool, want inodeSet) (map[uint64]sockQueue, error)

	nsReads int // namespaces read in the last scrape
}

// NewCollector returns a Collector that reads procRoot ("/proc", or "<root_path>/proc" for a
// host's procfs mounted in a container).
func NewCollector(procRoot string, logger *zap.Logger) *Collector {
	if logger == nil {
		logger = zap.NewNop()
	}
	c := &Collector{logger: logger, diag: newDiagDumper(), rep: reporter{logger: logger}}
	if target, err := os.Readlink("/proc/self/ns/net"); err == nil {
		c.selfNS, _ = parseNetNSLink(target)
	}
	c.readFDs = func(pid int) ([]heldFD, error) { return readSocketFDs(procRoot, pid) }
	c.readNetNS = func(pid int) (uint64, error) { return readNetNS(procRoot, pid) }
	c.readProcNet = func(pid int, want inodeSet) (map[uint64]sockQueue, error) {
		return readProcNet(procRoot, pid, want)
	}
	c.dumpDiag = func(ctx context.Context, pid int, own bool, want inodeSet) (map[uint64]sockQueue, error) {
		return c.diag.dump(ctx, netNSPath(procRoot, pid), own, want)
	}
	return c
}

// Collect attributes sockets to groups. groups maps a container key to the pids in its
// cgroup.procs. A group with no socket gets a zero Usage with the source used. Vanished pids
// are skipped quietly. The error lists failures worth a partial-scrape error; a permission
// error is returned once and then only logged until a scrape goes without it.
func (c *Collector) Collect(ctx context.Context, groups map[string][]int) (map[string]Usage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &scrape{problems: make(map[string]problem)}
	held, all, nsOf, err := c.scanGroups(ctx, groups, s)
	if err != nil {
		return nil, err
	}
	queues, nsSource, err := c.readNamespaces(ctx, namespaces(all, nsOf), s)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Usage, len(groups))
	for key, pids := range groups {
		u := summarize(held[key], queues)
		u.Source = c.groupSource(pids, nsOf, nsSource)
		out[key] = u
		c.logWorst(key, u)
	}
	return out, c.rep.finish(s.problems, s.errs)
}

// logWorst names, at debug level, the socket with the largest receive queue of a group:
// the process, fd and local address to look at (what `ss -m` and a look at
// /proc/<pid>/fd would find by hand).
func (c *Collector) logWorst(key string, u Usage) {
	if u.NonEmpty == 0 || !c.logger.Core().Enabled(zap.DebugLevel) {
		return
	}
	w := u.Worst
	c.logger.Debug("largest socket receive queue",
		zap.String("container", key), zap.String("proto", w.Proto), zap.Stringer("local", w.Local),
		zap.Int("pid", w.PID), zap.Int("fd", w.FD), zap.Uint64("inode", w.Inode),
		zap.Uint64("rcvq_bytes", w.RcvqBytes), zap.Uint64("payload_bytes", w.PayloadBytes),
		zap.Int("non_empty_sockets", u.NonEmpty), zap.String("source", string(u.Source)))
}

// Close releases the netlink socket kept between scrapes; it is safe to call twice.
func (c *Collector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.diag.close()
}

// scanGroups lists the socket fds and the network namespace of every pid, by group and all
// together in the order of sorted group keys.
func (c *Collector) scanGroups(ctx context.Context, groups map[string][]int, s *scrape) (map[string][]heldFD, []heldFD, map[int]uint64, error) {
	held := make(map[string][]heldFD, len(groups))
	var all []heldFD
	nsOf := make(map[int]uint64)
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		for _, pid := range groups[key] {
			if err := ctx.Err(); err != nil {
				return nil, nil, nil, fmt.Errorf("socket queues: %w", err)
			}
			fds, err := c.readFDs(pid)
			if err != nil {
				s.fail("fd_permission", fmt.Errorf("socket queues: reading fds of pid %d: %w", pid, err))
				continue
			}
			ns, err := c.readNetNS(pid)
			if err != nil {
				s.fail("netns_permission", fmt.Errorf("socket queues: reading netns of pid %d: %w", pid, err))
				continue
			}
			nsOf[pid] = ns
			held[key] = append(held[key], fds...)
			all = append(all, fds...)
		}
	}
	return held, all, nsOf, nil
}

// groupSource is the source used for the namespaces of a group's pids: proc_net if any of
// them was (or, for namespaces not read because they hold no socket, would be) read from
// /proc/<pid>/net.
func (c *Collector) groupSource(pids []int, nsOf map[int]uint64, nsSource map[uint64]Source) Source {
	for _, pid := range pids {
		ns, ok := nsOf[pid]
		if !ok {
			continue
		}
		src, read := nsSource[ns]
		if !read {
			src = c.sourceFor(ns)
		}
		if src == SourceProcNet {
			return SourceProcNet
		}
	}
	return c.sourceFor(c.selfNS)
}

// sourceFor is the source to try first for a namespace.
func (c *Collector) sourceFor(ns uint64) Source {
	if c.dumpDiag == nil || (ns != c.selfNS && c.setnsDenied) {
		return SourceProcNet
	}
	return SourceSockDiag
}
