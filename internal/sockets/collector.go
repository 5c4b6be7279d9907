package sockets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Collector reads socket receive queues and attributes them to groups of pids (containers).
type Collector struct {
	logger *zap.Logger
	diag   *diagDumper
	rep    reporter
	limits Limits

	mu          sync.Mutex
	selfNS      uint64 // the collector's own network namespace: sock_diag needs no setns there
	hostNS      uint64 // the namespace of <procRoot>/1: host daemons' sockets are there
	setnsDenied bool   // entering another namespace failed with a permission error

	useSockopt    bool // read sockets through their holders (UseSockopt)
	sockoptDenied bool // pidfd_getfd was refused: namespaces are read instead
	sockoptActive bool // this Collect reads through the holders
	sockopt       *sockoptReader

	// Test seams, set by NewCollector to read procRoot.
	walkFDs func(ctx context.Context, pid, budget int, visit fdVisitor) (int, bool, error)
	// compareFDTables is kcmp KCMP_FILES: 0 when two pids share an fd table, else 1 or 2.
	compareFDTables func(a, b int) (int, error)
	inCgroup        func(pid int, cgroup string) (bool, error)
	readNetNS       func(pid int) (uint64, error)
	readProcNet     func(pid int, keep func(inode uint64) bool) (map[uint64]sockQueue, error)
	// dumpDiag reads the sockets keep wants with sock_diag in pid's namespace, which must be
	// ns; nil means /proc/<pid>/net only.
	dumpDiag func(ctx context.Context, pid int, ns uint64, own bool, keep func(inode, cgroupID uint64) bool) (map[uint64]sockQueue, error)

	// lookupDiag looks sockets of namespace ns up again by their identity (diagDumper.lookup).
	// The slices it returns are valid until its next call.
	lookupDiag func(ctx context.Context, ns uint64, socks []trackedSock) ([]sockQueue, []lookupResult, error)
	// dumpedCounts are namespace ns's socket counts at its last dump, ok false when they
	// cannot tell a socket created since; countsNow reads them now (diagDumper).
	dumpedCounts func(ns uint64) (sockCounts, bool)
	countsNow    func(ns uint64) (sockCounts, error)

	// readSockopt reads fd of pid, socket inode, through the holder (sockoptReader.read).
	readSockopt func(pid, fd int, inode uint64) (sockQueue, bool, error)

	refresh  time.Duration        // SetRefreshInterval; 0: every namespace every Collect
	noPutOff bool                 // SetPutOff(false)
	nsCache  map[uint64]*cachedNS // the last read of each namespace, with a refresh interval
	groupNS  map[string][]uint64  // with a refresh interval, each complete group's namespaces at the last Collect
	now      func() time.Time     // test seam: the clock of the refresh schedule

	stats   Stats
	added   []sockKey       // scratch: sockets a pid's walk added to its group
	limited map[string]bool // containers warned about a limit (pruned to the current ones)
}

// Stats say what the last Collect examined.
type Stats struct {
	FDs            int // fds examined (readlink of /proc/<pid>/fd/N)
	WalkedPIDs     int // processes whose fds were walked
	SharedFDTables int // processes skipped: their fd table is one already walked (CLONE_FILES)
	ReusedPIDs     int // processes whose fds were dropped: the pid left the container's cgroup meanwhile
	Namespaces     int // network namespaces read
	Cached         int // network namespaces whose last read was used instead (SetRefreshInterval)
	ByCgroupID     int // groups attributed by the sockets' cgroup id, without a walk of their fds
	ListedGroups   int // groups whose processes were listed (Group.LoadPIDs called)
	SockoptReads   int // sockets read through their holders (UseSockopt)
	Lookups        int // sockets looked up again by their identity in namespaces not read (SetRefreshInterval)
	PutOff         int // namespaces due for a read whose socket counts had not changed: read later (stillCurrent)
}

// NewCollector returns a Collector that reads procRoot ("/proc", or "<root_path>/proc" for a
// host's procfs mounted in a container) within limits.
func NewCollector(procRoot string, limits Limits, logger *zap.Logger) *Collector {
	if logger == nil {
		logger = zap.NewNop()
	}
	c := &Collector{logger: logger, diag: newDiagDumper(), rep: reporter{logger: logger}, limits: limits, limited: map[string]bool{}, sockopt: newSockoptReader()}
	c.readSockopt = c.sockopt.read
	c.now = time.Now
	if target, err := os.Readlink("/proc/self/ns/net"); err == nil {
		c.selfNS, _ = parseNetNSLink(target)
	}
	c.hostNS = c.selfNS
	if ns, err := readNetNS(procRoot, 1); err == nil {
		c.hostNS = ns
	}
	w := newFDWalker(procRoot)
	c.walkFDs = w.walk
	c.compareFDTables = kcmpFiles
	c.inCgroup = func(pid int, cgroup string) (bool, error) { return inCgroup(procRoot, pid, cgroup) }
	c.readNetNS = func(pid int) (uint64, error) { return readNetNS(procRoot, pid) }
	c.readProcNet = func(pid int, keep func(uint64) bool) (map[uint64]sockQueue, error) {
		return readProcNet(procRoot, pid, keep)
	}
	c.dumpDiag = func(ctx context.Context, pid int, ns uint64, own bool, keep func(inode, cgroupID uint64) bool) (map[uint64]sockQueue, error) {
		return c.diag.dump(ctx, netNSPath(procRoot, pid), ns, own, keep)
	}
	c.lookupDiag = c.diag.lookup
	c.dumpedCounts, c.countsNow = c.diag.dumpedCounts, c.diag.countsNow
	return c
}

// UseSockopt makes Collect walk every container's fds, whatever its cgroup id, and read each
// socket through the process holding it (pidfd_getfd, then getsockopt SO_MEMINFO and ioctl
// SIOCINQ: SourceSockopt) instead of dumping every network namespace: its cost is per socket
// held, not per namespace. Where pidfd_getfd is refused (it needs CAP_SYS_PTRACE), said once,
// namespaces are read as without it.
func (c *Collector) UseSockopt(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.useSockopt = on
}

// LastStats says what the last Collect examined.
func (c *Collector) LastStats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// groupState is one group during a Collect.
type groupState struct {
	key        string
	g          Group
	byID       bool               // attributed by cgroup id
	walked     bool               // its fds were walked
	nss        []uint64           // the namespaces of its pids, each once, in pid order
	nsSet      map[uint64]bool    // nss as a set, once it has more than one
	held       map[sockKey]heldFD // sockets its fds point at (first holder), when walked
	fdsUsed    int
	deferred   bool   // given its namespaces' readings of this period, its processes not listed
	incomplete bool   // a read failed or a limit was reached
	failed     bool   // a read failed with an error worth reporting
	limitedBy  string // the limit that left some of its sockets unread
	usage      Usage
}

// addNS records that a pid of the group is in namespace ns.
func (gs *groupState) addNS(ns uint64) {
	if len(gs.nss) > 0 && gs.nss[len(gs.nss)-1] == ns {
		return // the common case: every pid in one namespace
	}
	if gs.nsSet == nil {
		gs.nsSet = make(map[uint64]bool)
		for _, id := range gs.nss {
			gs.nsSet[id] = true
		}
	}
	if !gs.nsSet[ns] {
		gs.nsSet[ns] = true
		gs.nss = append(gs.nss, ns)
	}
}

// limit marks the group incomplete because of the limit named by its config key.
func (gs *groupState) limit(key string) {
	gs.incomplete = true
	if gs.limitedBy == "" {
		gs.limitedBy = key
	}
}

// Collect attributes sockets to groups, keyed by container. A group with no socket gets a
// zero Usage with the source used; a group some of whose sockets could not be read gets
// Usage.Incomplete. Vanished pids are skipped quietly. The error (a *PartialError) lists
// failures worth a partial-scrape error and how many groups they cost; a permission error is
// returned once and then only logged until a scrape goes without it. Only a done context
// fails the whole Collect.
func (c *Collector) Collect(ctx context.Context, groups map[string]Group) (map[string]Usage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &scrape{problems: make(map[string]problem), fdBudget: c.limits.MaxFDsPerScrape, gone: make(map[int]bool)}
	c.stats = Stats{}
	c.sockoptActive = c.useSockopt && !c.sockoptDenied
	if c.useSockopt && c.sockoptDenied { // said once, while it lasts
		s.note("sockopt_denied", errors.New("socket queues: pidfd_getfd was refused earlier; reading network namespaces"))
	}
	now := c.now()
	states, idOwner := c.groupStates(groups)
	nsOf := make(map[int]uint64)
	nss := make(map[uint64]*nsState)
	nsFor := func(ns uint64) *nsState {
		n := nss[ns]
		if n == nil {
			n = &nsState{id: ns, want: make(inodeSet)}
			if !c.sockoptActive {
				n.cached = c.current(ns, now)
			}
			nss[ns] = n
		}
		return n
	}
	// load lists a group's processes (when not given) and records the namespace of each.
	load := func(gs *groupState) error {
		gs.deferred = false
		if gs.g.PIDs == nil && gs.g.LoadPIDs != nil {
			gs.g.PIDs = gs.g.LoadPIDs()
			c.stats.ListedGroups++
		}
		for _, pid := range gs.g.PIDs {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("socket queues: %w", err)
			}
			ns, err := c.readNetNS(pid)
			if err != nil {
				s.fail(gs, "netns_permission", fmt.Errorf("socket queues: reading netns of pid %d: %w", pid, err))
				continue
			}
			nsOf[pid] = ns
			nsFor(ns).addPID(pid, gs)
			gs.addNS(ns)
		}
		return nil
	}
	for _, gs := range states {
		if known, ok := c.freshGroup(gs, now); ok {
			// Every namespace of the group has a reading of this period: it gets those, and
			// its processes are listed only if one of them must be walked (below).
			gs.deferred = true
			for _, ns := range known {
				n := nsFor(ns)
				n.groups = append(n.groups, gs)
				gs.addNS(ns)
			}
			c.stats.ByCgroupID++
			continue
		}
		if err := load(gs); err != nil {
			return nil, err
		}
		if gs.byID {
			c.stats.ByCgroupID++
			continue
		}
		if err := c.walk(ctx, gs, nsOf, nss, s); err != nil {
			return nil, err
		}
	}
	read := c.sockoptActive && c.readThroughHolders(ctx, states, nss, s)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("socket queues: %w", err)
	}
	order := c.fairOrder(states, nss)
	for _, n := range order {
		if read {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("socket queues: %w", err)
		}
		c.stats.Namespaces++
		c.readNamespace(ctx, n, idOwner, s)
		if !n.unmapped {
			continue
		}
		// Sockets of this namespace that no group created: found by walking the fds of its
		// groups attributed by id so far.
		for _, gs := range n.groups {
			if gs.byID && !gs.walked {
				if gs.deferred {
					if err := load(gs); err != nil {
						return nil, err
					}
				}
				if err := c.walk(ctx, gs, nsOf, nss, s); err != nil {
					return nil, err
				}
			}
		}
	}
	// A namespace given its last reading instead of a read is still read from
	// /proc/<pid>/net at its next refresh: the fallback is in use, nothing has cleared.
	for _, n := range nss {
		if !n.read && n.cached != nil && n.cached.source == SourceProcNet && c.dumpDiag != nil && c.setnsDenied {
			s.note("sock_diag_denied", errors.New("socket queues: entering network namespaces was not permitted earlier; reading /proc/<pid>/net"))
		}
	}
	if err := c.lookUpKnown(ctx, nss); err != nil {
		return nil, err
	}
	out, contrib := c.summarize(states, nss, idOwner)
	c.remember(now, nss, order, contrib, states, groups, idOwner)
	c.warnLimited(states, groups)
	c.diag.endScrape(func(ns uint64) bool { _, ok := c.nsCache[ns]; return ok })
	return out, s.finish(&c.rep, states)
}

// groupStates orders the groups by key and maps cgroup ids to them; an id claimed by two
// groups (never seen) is used for the first only.
func (c *Collector) groupStates(groups map[string]Group) ([]*groupState, map[uint64]*groupState) {
	states := make([]*groupState, 0, len(groups))
	idOwner := make(map[uint64]*groupState)
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		gs := &groupState{key: key, g: groups[key]}
		if id := gs.g.CgroupID; id != 0 && idOwner[id] == nil && !c.sockoptActive {
			idOwner[id] = gs
			gs.byID = true
		}
		states = append(states, gs)
	}
	return states, idOwner
}

// walk lists the sockets the fds of a group's processes point at, within the fd limits:
// each socket once per group, processes that share an fd table with one already walked
// skipped, and a process whose cgroup is no longer the group's afterwards dropped (its pid
// was reused). Only a done context is an error.
func (c *Collector) walk(ctx context.Context, gs *groupState, nsOf map[int]uint64, nss map[uint64]*nsState, s *scrape) error {
	gs.walked = true
	if gs.held == nil {
		gs.held = make(map[sockKey]heldFD)
	}
	var tables []int // walked pids, ordered by their fd tables (kcmp)
	for _, pid := range gs.g.PIDs {
		ns, ok := nsOf[pid]
		if !ok {
			continue
		}
		if c.sharesFDTable(pid, &tables) {
			c.stats.SharedFDTables++
			continue
		}
		containerLeft, scrapeLeft := c.limits.MaxFDsPerContainer-gs.fdsUsed, s.fdBudget
		budget := min(containerLeft, scrapeLeft)
		c.added = c.added[:0]
		n, complete, err := c.walkFDs(ctx, pid, max(budget, 0), func(fd int, inode uint64) {
			k := sockKey{ns: ns, inode: inode}
			if _, dup := gs.held[k]; !dup {
				gs.held[k] = heldFD{PID: pid, FD: fd, Inode: inode}
				c.added = append(c.added, k)
			}
		})
		gs.fdsUsed += n
		s.fdBudget -= n
		c.stats.FDs += n
		if ctx.Err() != nil {
			return fmt.Errorf("socket queues: %w", ctx.Err())
		}
		if err == nil && gs.g.Cgroup != "" {
			var in bool
			if in, err = c.inCgroup(pid, gs.g.Cgroup); err == nil && !in {
				err = fmt.Errorf("%w: pid %d left cgroup %s", errVanished, pid, gs.g.Cgroup)
				c.stats.ReusedPIDs++
			}
		}
		if err != nil {
			for _, k := range c.added {
				delete(gs.held, k)
			}
			if errors.Is(err, errVanished) {
				s.gone[pid] = true
			}
			s.fail(gs, "fd_permission", fmt.Errorf("socket queues: reading fds of pid %d: %w", pid, err))
			continue
		}
		c.stats.WalkedPIDs++
		for _, k := range c.added {
			nss[k.ns].want[k.inode] = struct{}{}
		}
		if !complete {
			if scrapeLeft < containerLeft {
				gs.limit("max_fds_per_scrape")
			} else {
				gs.limit("max_fds_per_container")
			}
			break
		}
	}
	return nil
}

// readThroughHolders reads every walked socket through the process holding it, each once.
// It reports false, having read nothing, when pidfd_getfd is refused: the namespaces are to be
// read instead, and from then on.
func (c *Collector) readThroughHolders(ctx context.Context, states []*groupState, nss map[uint64]*nsState, s *scrape) bool {
	defer c.sockopt.end()
	done := make(map[sockKey]bool)
	for _, gs := range states {
		for k, h := range gs.held {
			if done[k] {
				continue
			}
			done[k] = true
			if len(done)%ctxCheckEvery == 0 && ctx.Err() != nil {
				return false
			}
			q, ok, err := c.readSockopt(h.PID, h.FD, h.Inode)
			c.stats.SockoptReads++
			switch {
			case errors.Is(err, fs.ErrPermission):
				c.sockoptDenied, c.sockoptActive = true, false
				s.note("sockopt_denied", fmt.Errorf("socket queues: pidfd_getfd of pid %d refused (needs CAP_SYS_PTRACE); reading network namespaces instead: %w", h.PID, err))
				for _, n := range nss {
					n.queues = nil
				}
				return false
			case err != nil:
				s.fail(gs, "sockopt", fmt.Errorf("socket queues: reading a socket of pid %d: %w", h.PID, err))
				continue
			case !ok:
				continue
			}
			n := nss[k.ns]
			if n.queues == nil {
				n.queues = make(map[uint64]sockQueue)
			}
			n.queues[k.inode] = q
		}
	}
	for _, n := range nss {
		n.read, n.source = true, SourceSockopt
	}
	return true
}

// sharesFDTable reports whether pid's fd table is one of tables' (walked pids kept in the
// kernel's order of their tables, so that this costs O(log n) kcmp calls), and inserts pid
// otherwise. Where kcmp fails (not built in, not permitted, a pid gone) the pid is walked.
func (c *Collector) sharesFDTable(pid int, tables *[]int) bool {
	lo, hi := 0, len(*tables)
	for lo < hi {
		mid := (lo + hi) / 2
		r, err := c.compareFDTables(pid, (*tables)[mid])
		switch {
		case err != nil:
			return false
		case r == 0:
			return true
		case r == 1:
			hi = mid
		default:
			lo = mid + 1
		}
	}
	*tables = slices.Insert(*tables, lo, pid)
	return false
}

// fairOrder lists the namespaces to read, at most MaxNamespaces: every group's first
// namespace, then every group's second, and so on, so that a group spreading its processes
// over many namespaces only loses its own past the limit. A group with a namespace left out is
// incomplete. A namespace whose last read is of the present refresh period and gave the group
// its numbers is not read for that group (nsState.fresh).
func (c *Collector) fairOrder(states []*groupState, nss map[uint64]*nsState) []*nsState {
	var out []*nsState
	taken := make(map[uint64]bool)
	needs := make([][]uint64, len(states))
	for i, gs := range states {
		needs[i] = gs.needed()
	}
	for round := 0; ; round++ {
		more := false
		for i, gs := range states {
			if round >= len(needs[i]) {
				continue
			}
			more = true
			id := needs[i][round]
			switch {
			case taken[id]:
			case nss[id].fresh(gs.key):
			case len(out) < c.limits.MaxNamespaces:
				taken[id] = true
				out = append(out, nss[id])
			default:
				gs.limit("max_namespaces")
			}
		}
		if !more {
			return out
		}
	}
}

// needed are the namespaces a group's numbers come from, in the order of its pids: all of
// its pids' when attributed by cgroup id, else those its fds hold sockets in.
func (gs *groupState) needed() []uint64 {
	if gs.byID {
		return gs.nss
	}
	holds := make(map[uint64]bool)
	for k := range gs.held {
		holds[k.ns] = true
	}
	var out []uint64
	for _, id := range gs.nss {
		if holds[id] {
			out = append(out, id)
		}
	}
	return out
}

// summarize adds each group's sockets up: a socket whose cgroup id is a group's counts in
// that group (its creator's), any other in every walked group holding it, once per group. A
// namespace not read this Collect gives each group what its last read gave it. It also
// returns what each namespace read gave each group, to be remembered.
func (c *Collector) summarize(states []*groupState, nss map[uint64]*nsState, idOwner map[uint64]*groupState) (map[string]Usage, map[*nsState]map[*groupState]*Usage) {
	contrib := make(map[*nsState]map[*groupState]*Usage)
	part := func(n *nsState, gs *groupState) *Usage {
		m := contrib[n]
		if m == nil {
			m = make(map[*groupState]*Usage)
			contrib[n] = m
		}
		u := m[gs]
		if u == nil {
			u = &Usage{}
			m[gs] = u
		}
		return u
	}
	for _, n := range nss {
		for _, q := range n.queues {
			if owner := idOwner[q.cgroupID]; q.cgroupID != 0 && owner != nil {
				part(n, owner).add(q, 0, 0)
			}
		}
	}
	out := make(map[string]Usage, len(states))
	for _, gs := range states {
		for k, h := range gs.held {
			n := nss[k.ns]
			q, ok := n.queues[k.inode]
			if !ok || (q.cgroupID != 0 && idOwner[q.cgroupID] != nil) {
				continue
			}
			part(n, gs).add(q, h.PID, h.FD)
		}
	}
	byKey := make(map[string]*groupState, len(states))
	for _, gs := range states {
		byKey[gs.key] = gs
	}
	for _, n := range nss {
		switch {
		case n.read:
			for gs, u := range contrib[n] {
				gs.usage.merge(*u)
			}
		case n.cached != nil:
			c.stats.Cached++
			for key, u := range n.cached.contrib {
				if gs := byKey[key]; gs != nil {
					gs.usage.merge(u)
				}
			}
		}
	}
	for _, gs := range states {
		for _, id := range gs.needed() {
			n := nss[id]
			if n.cached != nil && !n.read && n.fresh(gs.key) {
				continue
			}
			if !n.read || n.failed {
				gs.incomplete = true
				gs.failed = gs.failed || n.failed
			}
		}
		gs.usage.Source = c.groupSource(gs, nss)
		gs.usage.Incomplete = gs.incomplete
		out[gs.key] = gs.usage
		c.logWorst(gs.key, gs.usage)
	}
	return out, contrib
}

// warnLimited warns once per container whose sockets a limit left partly unread, and forgets
// containers that are gone.
func (c *Collector) warnLimited(states []*groupState, groups map[string]Group) {
	for _, gs := range states {
		if gs.limitedBy == "" || c.limited[gs.key] {
			continue
		}
		c.limited[gs.key] = true
		c.logger.Warn("socket queues: a limit left this container's sockets partly unread; its socket metrics are not reported while it lasts (warned once per container)",
			zap.String("container", gs.key), zap.String("limit", gs.limitedBy),
			zap.Int("fds_examined", gs.fdsUsed),
			zap.Int("max_fds_per_container", c.limits.MaxFDsPerContainer),
			zap.Int("max_fds_per_scrape", c.limits.MaxFDsPerScrape),
			zap.Int("max_namespaces", c.limits.MaxNamespaces))
	}
	for key := range c.limited {
		if _, ok := groups[key]; !ok {
			delete(c.limited, key)
		}
	}
}

// logWorst names, at debug level, the socket with the largest receive queue of a group:
// the process, fd and local address to look at (what `ss -m` and a look at
// /proc/<pid>/fd would find by hand), beside how many of the group's sockets have a queue and
// how many it holds.
func (c *Collector) logWorst(key string, u Usage) {
	if u.NonEmpty == 0 || !c.logger.Core().Enabled(zap.DebugLevel) {
		return
	}
	w := u.Worst
	c.logger.Debug("largest socket receive queue",
		zap.String("container", key), zap.String("proto", w.Proto), zap.Stringer("local", w.Local),
		zap.Int("pid", w.PID), zap.Int("fd", w.FD), zap.Uint64("inode", w.Inode),
		zap.Uint64("rcvq_bytes", w.RcvqBytes), zap.Uint64("payload_bytes", w.PayloadBytes),
		zap.Int("non_empty_sockets", u.NonEmpty), zap.Int("sockets", u.Sockets), zap.String("source", string(u.Source)))
}

// Close releases the netlink sockets kept between scrapes; it is safe to call twice.
func (c *Collector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.diag.close()
}

// groupSource is the source used for a group's namespaces: proc_net if any of them was (or,
// for namespaces not read, would be) read from /proc/<pid>/net.
func (c *Collector) groupSource(gs *groupState, nss map[uint64]*nsState) Source {
	for _, id := range gs.nss {
		src := nss[id].source
		switch {
		case nss[id].read:
		case nss[id].fresh(gs.key):
			src = nss[id].cached.source
		default:
			src = c.sourceFor(id)
		}
		if src == SourceProcNet {
			return SourceProcNet
		}
	}
	return c.sourceFor(c.selfNS)
}

// sourceFor is the source to try first for a namespace.
func (c *Collector) sourceFor(ns uint64) Source {
	if c.sockoptActive {
		return SourceSockopt
	}
	if c.dumpDiag == nil || (ns != c.selfNS && c.setnsDenied) {
		return SourceProcNet
	}
	return SourceSockDiag
}
