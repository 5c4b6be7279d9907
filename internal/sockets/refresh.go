package sockets

import "time"

// Reading a network namespace costs the kernel a walk of its socket hash tables (about
// 1.7 ms of CPU for a pod's namespace whose TCP table is the host's), whatever it holds. With
// a refresh interval, each namespace is read once per interval, at a phase of its own, and in
// between its groups are given what its last read gave them.

// cachedNS is what the last read of a namespace gave each group, kept between scrapes.
type cachedNS struct {
	epoch   int64            // refresh epoch of the read (see epoch)
	source  Source           // the source that read it
	contrib map[string]Usage // by group key: the group's sockets found in it (zero included)
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
		c.nsCache = nil
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

// current is the cached read of namespace ns if it is of the present refresh period, else nil.
func (c *Collector) current(ns uint64, now time.Time) *cachedNS {
	if c.refresh <= 0 {
		return nil
	}
	e := c.nsCache[ns]
	if e == nil || e.epoch != epoch(ns, now, c.refresh) {
		return nil
	}
	return e
}

// fresh reports whether a group's numbers from namespace n can be those of its last read.
func (n *nsState) fresh(key string) bool {
	if n.cached == nil {
		return false
	}
	_, ok := n.cached.contrib[key]
	return ok
}

// remember keeps, after a Collect, what each namespace read in full gave the groups that
// were complete, and forgets namespaces no pid is in any more and groups that are gone. At
// most MaxNamespaces namespaces are kept; when the cache is full, a namespace that is some
// group's first (the one its first pid is in) takes the place of one that is no group's
// first, so that a group spreading its processes over many namespaces cannot crowd other
// containers' namespaces out of the cache (and make them be read every scrape).
func (c *Collector) remember(now time.Time, nss map[uint64]*nsState, order []*nsState, contrib map[*nsState]map[*groupState]*Usage, states []*groupState, groups map[string]Group) {
	if c.refresh <= 0 || c.sockoptActive {
		c.nsCache = nil
		return
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
		e := &cachedNS{epoch: epoch(id, now, c.refresh), source: n.source, contrib: make(map[string]Usage)}
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

// SetClock replaces the clock of the refresh schedule (time.Now by default): a benchmark runs
// its scrapes a collection interval apart in the schedule's time without waiting for it.
func (c *Collector) SetClock(now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}
