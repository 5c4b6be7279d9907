package sockets

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"go.uber.org/zap"
)

// Reading a network namespace costs the kernel a walk of its socket hash tables (about
// 1.7 ms of CPU for a pod's namespace whose TCP table is the host's), whatever it holds. With
// a refresh interval, each namespace is read once per interval, at a phase of its own, and in
// between its groups are given what its last read gave them.

// lookupResult is what an exact request found of one socket.
type lookupResult uint8

const (
	lookupUnknown lookupResult = iota // not conclusive (e.g. ESTALE: another socket of a reuseport group answered): a dump must tell
	lookupFound                       // the socket, with its queue now
	lookupGone                        // no such socket any more (ENOENT, or another inode, or TIME_WAIT now)
)

// cachedNS is what the last read of a namespace gave each group, kept between scrapes.
type cachedNS struct {
	epoch   int64            // refresh epoch of the read (see epoch)
	source  Source           // the source that read it
	contrib map[string]Usage // by group key: the group's sockets found in it (zero included)
	// tracked are the sockets of contrib, when sock_diag read them and each is a group's
	// by cgroup id: between reads they are looked up again one by one (lookUpKnown), and
	// contrib is what those lookups found. nil: contrib stays as read.
	tracked []trackedSock

	// A followed namespace is a tracked one whose socket counts (sockCounts) were read
	// around its dump: while they stay the same and no lookup found a socket gone, no socket
	// was created or closed, so at the end of a refresh period its read is put off
	// (stillCurrent), up to followedMaxAge after it.
	followed bool
	counts   sockCounts // at the read
	readAt   time.Time  // the read
	changed  bool       // a lookup found a socket gone since
}

// followedMaxAge is how long a followed namespace whose counts stay the same can go without
// a full read: a bound on what the counts cannot tell (a socket closed and another created
// between two scrapes, one of them a listener, which is not looked up).
const followedMaxAge = time.Hour

// Bounds of the lookups (lookUpKnown): at ~7 µs a lookup, 16,384 lookups cost ~0.1 s of CPU
// per scrape, about what 20 namespace dumps cost.
const (
	maxTrackedPerNamespace = 1024
	maxLookupsPerScrape    = 16384
)

// trackedSock is a socket of a cached namespace that is looked up again at every scrape.
type trackedSock struct {
	key   string // the group whose socket it is (by cgroup id)
	inode uint64
	id    diagSockID
}

// lookUpKnown refreshes the cached readings of the namespaces not read this Collect from
// exact sock_diag lookups of their tracked sockets: a hash lookup per socket on the
// connection kept to the namespace, instead of a walk of its tables. A socket gone is
// dropped; a socket created since the namespace's last read is not known until its next
// one. When a lookup is not conclusive or fails, the namespace keeps its last reading for
// this Collect and is read in full at the next. Only a done context is an error.
//
// Whatever a container holds is hostile input: a namespace is tracked only with at most
// maxTrackedPerNamespace sockets (a larger one keeps its last reading between reads, as
// before lookups), and a scrape makes at most maxLookupsPerScrape lookups, namespaces with
// the fewest sockets first, so that the pods with many sockets are the ones left with their
// last readings.
func (c *Collector) lookUpKnown(ctx context.Context, nss map[uint64]*nsState) error {
	if c.sockoptActive || c.lookupDiag == nil {
		return nil
	}
	var due []*nsState
	for _, n := range nss {
		if e := n.cached; !n.read && e != nil && len(e.tracked) > 0 {
			due = append(due, n)
		}
	}
	slices.SortFunc(due, func(a, b *nsState) int {
		return cmp.Or(cmp.Compare(len(a.cached.tracked), len(b.cached.tracked)), cmp.Compare(a.id, b.id))
	})
	budget := maxLookupsPerScrape
	for _, n := range due {
		e := n.cached
		if len(e.tracked) > budget {
			break
		}
		budget -= len(e.tracked)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("socket queues: %w", err)
		}
		qs, res, err := c.lookupDiag(ctx, n.id, e.tracked)
		c.stats.Lookups += len(e.tracked)
		if err == nil && slices.Contains(res, lookupUnknown) {
			err = errors.New("a lookup was not conclusive")
		}
		if err != nil {
			if !errors.Is(err, errNoConn) {
				c.logger.Debug("socket queues: looking sockets up again failed; the namespace's last reading is used and it is read in full at the next scrape",
					zap.Uint64("netns", n.id), zap.Error(err))
			}
			e.epoch = math.MinInt64 // not current any more: read at the next Collect
			continue
		}
		contrib := make(map[string]Usage, len(e.contrib))
		for key := range e.contrib {
			contrib[key] = Usage{}
		}
		kept := e.tracked[:0]
		for i, t := range e.tracked {
			if res[i] != lookupFound {
				e.changed = true // a socket closed: the counts cannot vouch for the next period
				continue
			}
			u := contrib[t.key]
			u.add(qs[i], 0, 0)
			contrib[t.key] = u
			kept = append(kept, t)
		}
		if len(kept) == 0 {
			// Every socket it knew is gone: most likely its pod is being torn down. It is
			// read at the next Collect, which lists its containers again, so that a namespace
			// no process is in any more is let go (its kept connection holds it alive)
			// rather than looked up until its next period.
			e.epoch = math.MinInt64
		}
		clear(e.tracked[len(kept):])
		e.contrib, e.tracked = contrib, kept
	}
	return nil
}

// trackable lists the sockets a namespace read gave, to be looked up again between its
// reads: nil unless sock_diag read it, no socket of it is only held (found by a walk), and
// each is a complete group's by cgroup id with its identity known.
func trackable(n *nsState, idOwner map[uint64]*groupState) []trackedSock {
	if n.source != SourceSockDiag || n.unmapped || len(n.queues) > maxTrackedPerNamespace {
		return nil
	}
	out := make([]trackedSock, 0, len(n.queues))
	for ino, q := range n.queues {
		owner := idOwner[q.cgroupID]
		if q.cgroupID == 0 || owner == nil || owner.incomplete || q.diag.family == 0 {
			return nil
		}
		out = append(out, trackedSock{key: owner.key, inode: ino, id: q.diag})
	}
	slices.SortFunc(out, func(a, b trackedSock) int { return cmp.Compare(a.inode, b.inode) })
	return out
}

// SetRefreshInterval makes Collect read each network namespace at most once per d (0, the
// default: every Collect), spread evenly over d: a namespace has a stable phase within d
// (from its inode) and is read at the first Collect of each of its periods. In between, the
// groups get the numbers of its last read, which are then up to d plus one scrape interval
// old. A namespace seen for the first time, or needed by a group that the last read did not
// give numbers to (a new container, or one incomplete then), is read at once. Reading
// through the holders (UseSockopt) reads no namespace and is not affected.
func (c *Collector) SetRefreshInterval(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refresh = max(d, 0)
	if c.refresh == 0 {
		c.nsCache, c.groupNS = nil, nil
	}
}

// phase is the namespace's offset within the refresh interval: its inode, mixed
// (splitmix64's finalizer) so that the sequential inodes of namespaces made one after another
// spread evenly.
func phase(ns uint64, interval time.Duration) int64 {
	z := ns + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return int64(z % uint64(interval))
}

// epoch is the number of the namespace's refresh period at t: it changes once per interval,
// at the namespace's phase.
func epoch(ns uint64, t time.Time, interval time.Duration) int64 {
	x := t.UnixNano() - phase(ns, interval)
	e := x / int64(interval)
	if x%int64(interval) < 0 {
		e--
	}
	return e
}

// current is the cached read of namespace ns if it is of the present refresh period, or of
// an earlier one and still current (stillCurrent), else nil.
func (c *Collector) current(ns uint64, now time.Time) *cachedNS {
	if c.refresh <= 0 {
		return nil
	}
	e := c.nsCache[ns]
	if e == nil {
		return nil
	}
	if ep := epoch(ns, now, c.refresh); e.epoch != ep {
		if !c.stillCurrent(ns, e, now) {
			return nil
		}
		e.epoch = ep
		c.stats.PutOff++
	}
	return e
}

// stillCurrent reports whether a followed namespace's read can stand for another refresh
// period: no lookup found a socket of it gone, its read is younger than followedMaxAge, and
// its socket counts now are those of the read, so no socket was created or closed since
// (the lookups keep the known ones' queues current). A namespace marked for a read at the
// next Collect (epoch math.MinInt64), or whose counts cannot be read, is read.
func (c *Collector) stillCurrent(ns uint64, e *cachedNS, now time.Time) bool {
	if c.noPutOff || !e.followed || e.changed || e.epoch == math.MinInt64 || now.Sub(e.readAt) >= followedMaxAge || c.countsNow == nil {
		return false
	}
	counts, err := c.countsNow(ns)
	if err != nil || counts != e.counts {
		e.followed = false
		return false
	}
	return true
}

// fresh reports whether a group's numbers from namespace n can be those of its last read.
func (n *nsState) fresh(key string) bool {
	if n.cached == nil {
		return false
	}
	_, ok := n.cached.contrib[key]
	return ok
}

// freshGroup reports whether a group can be given its namespaces' readings of the present
// refresh period without its processes being listed, and which namespaces those are: a group
// that lists its processes lazily (Group.LoadPIDs), attributed by cgroup id, whose namespaces
// at the last Collect (where it was complete) all have a reading of this period with numbers
// for it.
func (c *Collector) freshGroup(gs *groupState, now time.Time) ([]uint64, bool) {
	if c.refresh <= 0 || c.sockoptActive || !gs.byID || gs.g.PIDs != nil || gs.g.LoadPIDs == nil {
		return nil, false
	}
	known := c.groupNS[gs.key]
	if len(known) == 0 {
		return nil, false
	}
	for _, ns := range known {
		e := c.current(ns, now)
		if e == nil {
			return nil, false
		}
		if _, ok := e.contrib[gs.key]; !ok {
			return nil, false
		}
	}
	return known, true
}

// remember keeps, after a Collect, what each namespace read in full gave the groups that
// were complete, and forgets namespaces no pid is in any more and groups that are gone. At
// most MaxNamespaces namespaces are kept; when the cache is full, a namespace that is some
// group's first (the one its first pid is in) takes the place of one that is no group's
// first, so that a group spreading its processes over many namespaces cannot crowd other
// containers' namespaces out of the cache (and make them be read every scrape).
func (c *Collector) remember(now time.Time, nss map[uint64]*nsState, order []*nsState, contrib map[*nsState]map[*groupState]*Usage, states []*groupState, groups map[string]Group, idOwner map[uint64]*groupState) {
	if c.refresh <= 0 || c.sockoptActive {
		c.nsCache, c.groupNS = nil, nil
		return
	}
	if c.groupNS == nil {
		c.groupNS = make(map[string][]uint64)
	}
	for key := range c.groupNS {
		if _, live := groups[key]; !live {
			delete(c.groupNS, key)
		}
	}
	for _, gs := range states {
		if gs.byID && !gs.incomplete && len(gs.nss) > 0 {
			c.groupNS[gs.key] = append(c.groupNS[gs.key][:0], gs.nss...)
		} else {
			delete(c.groupNS, gs.key)
		}
	}
	first := make(map[uint64]bool, len(states))
	for _, gs := range states {
		if len(gs.nss) > 0 {
			first[gs.nss[0]] = true
		}
	}
	var evictable []uint64 // cached namespaces that are no group's first
	for id, e := range c.nsCache {
		if _, seen := nss[id]; !seen {
			delete(c.nsCache, id)
			continue
		}
		for key := range e.contrib {
			if _, live := groups[key]; !live {
				delete(e.contrib, key)
			}
		}
		e.tracked = slices.DeleteFunc(e.tracked, func(t trackedSock) bool { _, live := groups[t.key]; return !live })
		if !first[id] {
			evictable = append(evictable, id)
		}
	}
	if c.nsCache == nil {
		c.nsCache = make(map[uint64]*cachedNS)
	}
	for _, n := range order {
		id := n.id
		if !n.read || !n.got || n.failed {
			continue
		}
		if _, kept := c.nsCache[id]; !kept && len(c.nsCache) >= c.limits.MaxNamespaces {
			if !first[id] || len(evictable) == 0 {
				continue
			}
			delete(c.nsCache, evictable[len(evictable)-1])
			evictable = evictable[:len(evictable)-1]
		}
		e := &cachedNS{epoch: epoch(id, now, c.refresh), source: n.source, contrib: make(map[string]Usage), tracked: trackable(n, idOwner), readAt: now}
		if e.tracked != nil && c.dumpedCounts != nil {
			e.counts, e.followed = c.dumpedCounts(id)
		}
		for _, gs := range n.groups {
			if !gs.incomplete {
				e.contrib[gs.key] = Usage{}
			}
		}
		for gs, u := range contrib[n] {
			if !gs.incomplete {
				e.contrib[gs.key] = *u
			}
		}
		c.nsCache[id] = e
	}
}

// merge adds the numbers of part (one namespace's sockets of a group) to u.
func (u *Usage) merge(part Usage) {
	u.RcvqBytes += part.RcvqBytes
	u.PayloadBytes += part.PayloadBytes
	u.NonEmpty += part.NonEmpty
	u.Sockets += part.Sockets
	w := part.Worst
	if w.Inode != 0 && worse(sockQueue{rcvq: w.RcvqBytes, payload: w.PayloadBytes, inode: w.Inode}, u.Worst) {
		u.Worst = w
	}
}

// SetPutOff turns off (or back on) putting reads off while a namespace's socket counts stay
// the same (stillCurrent): every namespace is then read once per refresh interval, as where
// sockets keep being created and closed. On by default; benchmarks measure both.
func (c *Collector) SetPutOff(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noPutOff = !on
}

// SetClock replaces the clock of the refresh schedule (time.Now by default): a benchmark runs
// its scrapes a collection interval apart in the schedule's time without waiting for it.
func (c *Collector) SetClock(now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}
