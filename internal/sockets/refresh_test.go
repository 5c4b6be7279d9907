package sockets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// podsHost is n pods, each one container (pid 100+i, cgroup id 5000+i) alone in network
// namespace 1000+i with one TCP socket (inode 10+i) holding i+1 bytes of queue; the
// collector's own namespace is 1.
func podsHost(n int) (*fakeHost, map[string]Group) {
	h := &fakeHost{fds: map[int][]heldFD{}, ns: map[int]uint64{}, queues: map[sockKey]sockQueue{}}
	groups := make(map[string]Group, n)
	for i := range n {
		addPod(h, groups, i)
	}
	return h, groups
}

func addPod(h *fakeHost, groups map[string]Group, i int) {
	pid, ns, id, ino := 100+i, uint64(1000+i), uint64(5000+i), uint64(10+i)
	h.ns[pid] = ns
	h.fds[pid] = []heldFD{{pid, 3, ino}}
	h.queues[sockKey{ns, ino}] = sockQueue{proto: "tcp", rcvq: uint64(i + 1), payload: 1, cgroupID: id}
	groups[podKey(i)] = Group{PIDs: []int{pid}, Cgroup: "/" + podKey(i), CgroupID: id}
}

func podKey(i int) string { return fmt.Sprintf("pod%04d", i) }

// refreshing is a collector over h with a refresh interval and a clock the test moves.
func refreshing(h *fakeHost, interval time.Duration, limits Limits) (*Collector, *time.Time) {
	c := h.collectorWith(1, limits, nil)
	c.SetRefreshInterval(interval)
	clock := time.Unix(1_700_000_000, 0)
	c.now = func() time.Time { return clock }
	return c, &clock
}

// dumpedPIDs runs one Collect and returns the pids sock_diag was asked through and the usage.
func dumpedPIDs(t *testing.T, c *Collector, h *fakeHost, groups map[string]Group) (map[int]bool, map[string]Usage) {
	t.Helper()
	h.diagCalls = nil
	got, err := c.Collect(context.Background(), groups)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[int]bool)
	for _, pid := range h.diagCalls {
		if out[pid] {
			t.Fatalf("pid %d's namespace dumped twice in one scrape", pid)
		}
		out[pid] = true
	}
	if st := c.LastStats(); st.Namespaces != len(out) || st.Namespaces+st.Cached != countNS(h, groups) {
		t.Fatalf("stats %+v: %d dumps, %d namespaces", st, len(out), countNS(h, groups))
	}
	return out, got
}

func countNS(h *fakeHost, groups map[string]Group) int {
	seen := map[uint64]bool{}
	for _, g := range groups {
		for _, pid := range g.PIDs {
			seen[h.ns[pid]] = true
		}
	}
	return len(seen)
}

// TestRefreshSpreadsNamespacesOverTheInterval: 600 namespaces, refresh interval 6 scrapes:
// the first scrape reads all of them, then each scrape reads about a sixth, each namespace
// exactly once per interval, and every container is reported every scrape with its last
// reading.
func TestRefreshSpreadsNamespacesOverTheInterval(t *testing.T) {
	const n, k, step = 600, 6, 10 * time.Second
	h, groups := podsHost(n)
	c, clock := refreshing(h, k*step, testLimits)
	c.limits.MaxNamespaces = 1000
	first, _ := dumpedPIDs(t, c, h, groups)
	if len(first) != n {
		t.Fatalf("first scrape dumped %d namespaces, want all %d (seen for the first time)", len(first), n)
	}
	for round := range 3 {
		times := map[int]int{}
		for s := range k {
			*clock = clock.Add(step)
			dumped, got := dumpedPIDs(t, c, h, groups)
			if len(dumped) < n/k*7/10 || len(dumped) > n/k*13/10 {
				t.Errorf("round %d scrape %d dumped %d namespaces, want about %d", round, s, len(dumped), n/k)
			}
			for pid := range dumped {
				times[pid]++
			}
			for i := range n {
				u := got[podKey(i)]
				if u.Incomplete || u.RcvqBytes != uint64(i+1) || u.Sockets != 1 || u.Source != SourceSockDiag {
					t.Fatalf("round %d scrape %d: %s = %+v, want its last reading", round, s, podKey(i), u)
				}
			}
		}
		if len(times) != n {
			t.Errorf("round %d: %d namespaces dumped in an interval, want every one of %d", round, len(times), n)
		}
		for pid, x := range times {
			if x != 1 {
				t.Errorf("round %d: pid %d's namespace dumped %d times in one interval", round, pid, x)
			}
		}
	}
}

// TestRefreshReportsAChangeWithinTheInterval: a queue that fills on a socket already known
// is reported at the next scrape, whether its namespace is read then or its sockets looked up
// again; a socket created since its namespace's last read is reported at the read of the
// namespace, the first scrape of its next period, never later than the interval plus one
// scrape, and until then the container has what the lookups of its known sockets give. A
// socket gone is dropped at the next scrape.
func TestRefreshReportsAChangeWithinTheInterval(t *testing.T) {
	const n, k, step = 20, 4, 15 * time.Second
	h, groups := podsHost(n)
	c, clock := refreshing(h, k*step, testLimits)
	dumpedPIDs(t, c, h, groups)
	for i := range n {
		ns, ino := uint64(1000+i), uint64(10+i)
		q := h.queues[sockKey{ns, ino}]
		q.rcvq += 1 << 20
		h.queues[sockKey{ns, ino}] = q
		// A new socket of the same container, with a queue of its own.
		h.queues[sockKey{ns, 5000 + ino}] = sockQueue{proto: "udp", rcvq: 4096, cgroupID: q.cgroupID}
		for s := 1; ; s++ {
			*clock = clock.Add(step)
			dumped, got := dumpedPIDs(t, c, h, groups)
			u := got[podKey(i)]
			if dumped[100+i] {
				if u.RcvqBytes != q.rcvq+4096 || u.Sockets != 2 {
					t.Fatalf("%s read at scrape %d: %+v, want %d in 2 sockets", podKey(i), s, u, q.rcvq+4096)
				}
				break
			}
			if u.RcvqBytes != q.rcvq || u.Sockets != 1 {
				t.Fatalf("%s not read at scrape %d: %+v, want its known socket's queue now, %d", podKey(i), s, u, q.rcvq)
			}
			if s >= k {
				t.Fatalf("%s: not read for %d scrapes (%v), interval %v", podKey(i), s, time.Duration(s)*step, k*step)
			}
		}
	}
	// Every socket of pod 3 closes: its container has none from the next scrape on.
	delete(h.queues, sockKey{1003, 13})
	delete(h.queues, sockKey{1003, 5013})
	*clock = clock.Add(step)
	dumped, got := dumpedPIDs(t, c, h, groups)
	if u := got[podKey(3)]; u.Incomplete || u.Sockets != 0 || u.RcvqBytes != 0 {
		t.Fatalf("pod 3 after its sockets closed (namespace dumped: %v): %+v", dumped[103], u)
	}
	// With none of its sockets left, pod 3's namespace is read at the next scrape (its
	// process, gone, would let it go), and then looked up no more.
	if !dumped[103] {
		*clock = clock.Add(step)
		if dumped, _ = dumpedPIDs(t, c, h, groups); !dumped[103] {
			t.Fatal("pod 3's namespace, every socket gone, not read at the next scrape")
		}
	}
}

// TestRefreshLookupsThatFailAreReadNext: when the lookups of a namespace fail, or one is not
// conclusive (another socket of a reuseport group answered), the namespace keeps its last
// reading for that scrape and is read in full at the next.
func TestRefreshLookupsThatFailAreReadNext(t *testing.T) {
	h, groups := podsHost(4)
	c, clock := refreshing(h, time.Hour, testLimits)
	dumpedPIDs(t, c, h, groups)
	h.lookupErr = map[uint64]error{1001: errors.New("sock_diag: receive: timeout")}
	h.stale = map[sockKey]bool{{1002, 12}: true}
	for _, i := range []int{1, 2} {
		q := h.queues[sockKey{uint64(1000 + i), uint64(10 + i)}]
		q.rcvq = 777
		h.queues[sockKey{uint64(1000 + i), uint64(10 + i)}] = q
	}
	*clock = clock.Add(time.Second)
	dumped, got := dumpedPIDs(t, c, h, groups)
	if len(dumped) != 0 || got[podKey(1)].RcvqBytes != 2 || got[podKey(2)].RcvqBytes != 3 {
		t.Fatalf("dumped %v, pods 1 and 2: %+v %+v, want their last readings (2, 3) and no dump", dumped, got[podKey(1)], got[podKey(2)])
	}
	h.lookupErr, h.stale = nil, nil
	*clock = clock.Add(time.Second)
	dumped, got = dumpedPIDs(t, c, h, groups)
	if len(dumped) != 2 || !dumped[101] || !dumped[102] || got[podKey(1)].RcvqBytes != 777 || got[podKey(2)].RcvqBytes != 777 {
		t.Fatalf("dumped %v, pods 1 and 2: %+v %+v, want both read in full (777)", dumped, got[podKey(1)], got[podKey(2)])
	}
	if st := c.LastStats(); st.Lookups != 2 {
		t.Fatalf("stats %+v: want pods 0 and 3 looked up, one socket each", st)
	}
}

// TestRefreshReadsNewNamespacesAndContainersAtOnce: a pod that appears, and a container that
// joins an existing pod's namespace, get values on their first scrape.
func TestRefreshReadsNewNamespacesAndContainersAtOnce(t *testing.T) {
	h, groups := podsHost(10)
	c, clock := refreshing(h, time.Hour, testLimits)
	dumpedPIDs(t, c, h, groups)
	*clock = clock.Add(time.Second)
	if dumped, _ := dumpedPIDs(t, c, h, groups); len(dumped) != 0 {
		t.Fatalf("dumped %v one second after reading everything, interval 1h", dumped)
	}

	addPod(h, groups, 10)
	*clock = clock.Add(time.Second)
	dumped, got := dumpedPIDs(t, c, h, groups)
	if len(dumped) != 1 || !dumped[110] {
		t.Fatalf("dumped %v, want only the new pod's namespace (pid 110)", dumped)
	}
	if u := got[podKey(10)]; u.Incomplete || u.RcvqBytes != 11 {
		t.Fatalf("new pod: %+v", u)
	}

	// A second container in pod 3's namespace, created now with its own socket.
	h.ns[200] = 1003
	h.queues[sockKey{1003, 900}] = sockQueue{proto: "udp", rcvq: 768, cgroupID: 7000}
	groups["pod0003-second"] = Group{PIDs: []int{200}, Cgroup: "/pod0003-second", CgroupID: 7000}
	*clock = clock.Add(time.Second)
	dumped, got = dumpedPIDs(t, c, h, groups)
	if len(dumped) != 1 || !(dumped[103] || dumped[200]) {
		t.Fatalf("dumped %v, want only pod 3's namespace", dumped)
	}
	if u := got["pod0003-second"]; u.Incomplete || u.RcvqBytes != 768 {
		t.Fatalf("new container in an old namespace: %+v", u)
	}
	if u := got[podKey(3)]; u.Incomplete || u.RcvqBytes != 4 {
		t.Fatalf("pod 3, read again: %+v", u)
	}
}

// TestRefreshPrunesTheCache: namespaces no pid is in any more and containers that are gone
// are forgotten in the next scrape; the cache never holds more than MaxNamespaces namespaces.
func TestRefreshPrunesTheCache(t *testing.T) {
	h, groups := podsHost(30)
	limits := testLimits
	limits.MaxNamespaces = 25
	c, clock := refreshing(h, time.Hour, limits)
	got, err := c.Collect(context.Background(), groups)
	if err != nil {
		t.Fatal(err)
	}
	limited := 0
	for _, u := range got {
		if u.Incomplete {
			limited++
		}
	}
	if st := c.LastStats(); st.Namespaces != 25 || limited != 5 {
		t.Fatalf("stats %+v, %d containers incomplete: want 25 namespaces read, 5 left out", st, limited)
	}
	if len(c.nsCache) != 25 {
		t.Fatalf("cache holds %d namespaces, want MaxNamespaces = 25", len(c.nsCache))
	}
	for i := range 20 {
		delete(groups, podKey(i))
	}
	*clock = clock.Add(time.Second)
	_, got = dumpedPIDs(t, c, h, groups)
	if len(c.nsCache) != 10 {
		t.Fatalf("cache holds %d namespaces after 20 of 30 pods went, want 10", len(c.nsCache))
	}
	for id, e := range c.nsCache {
		if id < 1020 || id >= 1030 {
			t.Errorf("namespace %d of a gone pod still cached", id)
		}
		for key := range e.contrib {
			if _, live := groups[key]; !live {
				t.Errorf("namespace %d keeps gone container %s", id, key)
			}
		}
	}
	for i := 20; i < 30; i++ {
		if u := got[podKey(i)]; u.Incomplete || u.RcvqBytes != uint64(i+1) {
			t.Errorf("%s = %+v", podKey(i), u)
		}
	}
	// A container leaving a namespace another container stays in: its entry goes.
	groups["pod0025-b"] = Group{PIDs: []int{300}, Cgroup: "/pod0025-b", CgroupID: 7025}
	h.ns[300] = 1025
	*clock = clock.Add(time.Second)
	dumpedPIDs(t, c, h, groups)
	if _, ok := c.nsCache[1025].contrib["pod0025-b"]; !ok {
		t.Fatal("pod0025-b not cached after its namespace was read")
	}
	delete(groups, "pod0025-b")
	*clock = clock.Add(time.Second)
	dumpedPIDs(t, c, h, groups)
	if _, ok := c.nsCache[1025].contrib["pod0025-b"]; ok {
		t.Fatal("gone container pod0025-b still cached")
	}
}

// TestRefreshZeroReadsEveryScrape: interval 0 dumps every namespace every scrape and keeps
// nothing.
func TestRefreshZeroReadsEveryScrape(t *testing.T) {
	h, groups := podsHost(12)
	c, clock := refreshing(h, time.Minute, testLimits)
	dumpedPIDs(t, c, h, groups)
	c.SetRefreshInterval(0)
	for range 3 {
		*clock = clock.Add(time.Second)
		if dumped, _ := dumpedPIDs(t, c, h, groups); len(dumped) != 12 {
			t.Fatalf("dumped %d namespaces with interval 0, want 12", len(dumped))
		}
		if c.nsCache != nil {
			t.Fatal("cache kept with interval 0")
		}
	}
}

// TestRefreshDoesNotKeepFailures: a namespace whose read failed is not remembered: it is read
// again the next scrape, and its container is incomplete until then, not given a stale number.
func TestRefreshDoesNotKeepFailures(t *testing.T) {
	h, groups := podsHost(5)
	c, clock := refreshing(h, time.Hour, testLimits)
	h.diagErr = map[int]error{102: errors.New("boom")}
	h.procErr = map[int]error{102: errors.New("boom too")}
	_, err := c.Collect(context.Background(), groups)
	if err == nil {
		t.Fatal("no error for the failed namespace")
	}
	if _, ok := c.nsCache[1002]; ok {
		t.Fatal("failed namespace cached")
	}
	h.diagErr, h.procErr = nil, nil
	*clock = clock.Add(time.Second)
	dumped, got := dumpedPIDs(t, c, h, groups)
	if len(dumped) != 1 || !dumped[102] {
		t.Fatalf("dumped %v, want only the namespace that failed", dumped)
	}
	if u := got[podKey(2)]; u.Incomplete || u.RcvqBytes != 3 {
		t.Fatalf("pod 2 after its failed read: %+v", u)
	}
}

// TestPhaseSpread: the phases of sequential namespace inodes fall evenly into the scrapes
// of an interval.
func TestPhaseSpread(t *testing.T) {
	const n, bins = 6000, 6
	interval := time.Minute
	count := make([]int, bins)
	for i := range n {
		p := phase(uint64(4026531840+i), interval)
		if p < 0 || p >= int64(interval) {
			t.Fatalf("phase %d outside [0, %v)", p, interval)
		}
		count[p*bins/int64(interval)]++
	}
	for b, x := range count {
		if x < n/bins*9/10 || x > n/bins*11/10 {
			t.Errorf("bin %d holds %d of %d phases, want about %d", b, x, n, n/bins)
		}
	}
}

// TestRefreshCacheIsFair: a container with processes in 40 namespaces cannot crowd pods'
// namespaces out of a cache of MaxNamespaces = 20, even pods that come after it has filled
// the cache: the pods' are kept (not dumped again within the interval), the spreading
// container is incomplete and only its own namespaces are read again.
func TestRefreshCacheIsFair(t *testing.T) {
	h, groups := podsHost(2)
	var pids []int
	for i := range 40 {
		pid := 500 + i
		h.ns[pid] = uint64(9000 + i)
		pids = append(pids, pid)
	}
	groups["spreader"] = Group{PIDs: pids, Cgroup: "/spreader", CgroupID: 8000}
	limits := testLimits
	limits.MaxNamespaces = 20
	c, clock := refreshing(h, time.Hour, limits)
	pods, seen := 2, map[int]bool{}
	for scrape := range 12 {
		if scrape >= 4 && pods < 10 { // new pods once the spreader has filled the cache
			addPod(h, groups, pods)
			pods++
		}
		h.diagCalls = nil
		got, err := c.Collect(context.Background(), groups)
		if err != nil {
			t.Fatal(err)
		}
		if !got["spreader"].Incomplete {
			t.Errorf("scrape %d: the container over max_namespaces is complete", scrape)
		}
		for i := range pods {
			if u := got[podKey(i)]; u.Incomplete || u.RcvqBytes != uint64(i+1) {
				t.Errorf("scrape %d: %s = %+v", scrape, podKey(i), u)
			}
		}
		for _, pid := range h.diagCalls {
			if pid < 500 && seen[pid] {
				t.Errorf("scrape %d: pod pid %d's namespace dumped again within the interval", scrape, pid)
			}
			seen[pid] = true
		}
		if len(c.nsCache) > 20 {
			t.Fatalf("cache holds %d namespaces, max_namespaces 20", len(c.nsCache))
		}
		*clock = clock.Add(time.Second)
	}
}

// lazyGroups turns groups into groups that list their processes on demand, and counts, by
// group key, the listings Collect asks for.
func lazyGroups(groups map[string]Group) (map[string]Group, map[string]int) {
	listed := map[string]int{}
	out := make(map[string]Group, len(groups))
	for key, g := range groups {
		pids := g.PIDs
		g.PIDs = nil
		g.LoadPIDs = func() []int {
			listed[key]++
			return slices.Clone(pids)
		}
		out[key] = g
	}
	return out, listed
}

// TestRefreshListsProcessesOnlyForNamespacesDue: groups attributed by cgroup id that list
// their processes lazily are listed at the first scrape and then only at the scrape that
// reads their namespace, once per interval; every scrape still reports each container's
// known sockets' queues (looked up again), and a queue that fills is reported at once.
func TestRefreshListsProcessesOnlyForNamespacesDue(t *testing.T) {
	const n, k, step = 120, 6, 10 * time.Second
	h, eager := podsHost(n)
	groups, listed := lazyGroups(eager)
	c, clock := refreshing(h, k*step, testLimits)
	c.limits.MaxNamespaces = 1000
	collect := func() (map[int]bool, map[string]Usage) {
		h.diagCalls = nil
		clear(listed)
		got, err := c.Collect(context.Background(), groups)
		if err != nil {
			t.Fatal(err)
		}
		dumped := map[int]bool{}
		for _, pid := range h.diagCalls {
			dumped[pid] = true
		}
		return dumped, got
	}
	if dumped, _ := collect(); len(dumped) != n || len(listed) != n {
		t.Fatalf("first scrape: %d namespaces dumped and %d groups listed, want all %d", len(dumped), len(listed), n)
	}
	// Pod 7's queue fills after the first scrape: its socket's lookup gives it at once.
	q := h.queues[sockKey{1007, 17}]
	q.rcvq += 1 << 20
	h.queues[sockKey{1007, 17}] = q
	for round := range 2 {
		times := map[string]int{}
		for s := range k {
			*clock = clock.Add(step)
			dumped, got := collect()
			for i := range n {
				key := podKey(i)
				if listed[key] > 1 {
					t.Fatalf("round %d scrape %d: %s listed %d times", round, s, key, listed[key])
				}
				if (listed[key] == 1) != dumped[100+i] {
					t.Fatalf("round %d scrape %d: %s listed %d times, its namespace dumped: %v", round, s, key, listed[key], dumped[100+i])
				}
				times[key] += listed[key]
				want := uint64(i + 1)
				if i == 7 {
					want = q.rcvq
				}
				if u := got[key]; u.Incomplete || u.RcvqBytes != want || u.Sockets != 1 || u.Source != SourceSockDiag {
					t.Fatalf("round %d scrape %d: %s = %+v, want rcvq %d", round, s, key, u, want)
				}
			}
			if st := c.LastStats(); st.ListedGroups != len(dumped) || st.Namespaces+st.Cached != n {
				t.Fatalf("round %d scrape %d: stats %+v, %d dumped", round, s, st, len(dumped))
			}
		}
		for i := range n {
			if times[podKey(i)] != 1 {
				t.Fatalf("round %d: %s listed %d times in one interval, want once", round, podKey(i), times[podKey(i)])
			}
		}
	}
}

// TestRefreshListsDeferredGroupsToWalkUnmappedSockets: a pod namespace read because a new
// container came into it, which holds a socket no container created (a child cgroup's): the
// containers of the pod given their last readings are listed then and their fds walked, so
// the socket is found in its holder, as without deferral.
func TestRefreshListsDeferredGroupsToWalkUnmappedSockets(t *testing.T) {
	h, eager := podsHost(4)
	groups, listed := lazyGroups(eager)
	c, clock := refreshing(h, time.Hour, testLimits)
	if _, err := c.Collect(context.Background(), groups); err != nil {
		t.Fatal(err)
	}
	// Pod 2's container (pid 102) now holds a socket made in a child cgroup (id 0), and a
	// second container (pid 202, id 6002) starts in its namespace.
	h.queues[sockKey{1002, 77}] = sockQueue{proto: "udp", rcvq: 4096}
	h.fds[102] = append(h.fds[102], heldFD{102, 4, 77})
	h.ns[202] = 1002
	eagerSecond := map[string]Group{"pod0002-second": {PIDs: []int{202}, Cgroup: "/pod0002-second", CgroupID: 6002}}
	second, secondListed := lazyGroups(eagerSecond)
	groups["pod0002-second"] = second["pod0002-second"]
	clear(listed)
	*clock = clock.Add(time.Second)
	got, err := c.Collect(context.Background(), groups)
	if err != nil {
		t.Fatal(err)
	}
	if secondListed["pod0002-second"] != 1 || listed[podKey(2)] != 1 || len(listed) != 1 {
		t.Fatalf("listed %v and %v, want the new container and pod 2's other container only", secondListed, listed)
	}
	if u := got[podKey(2)]; u.Incomplete || u.RcvqBytes != 3+4096 || u.Sockets != 2 {
		t.Fatalf("pod 2's container: %+v, want its own socket and the child cgroup's it holds", u)
	}
	if u := got[podKey(1)]; u.Incomplete || u.RcvqBytes != 2 {
		t.Fatalf("pod 1, not read: %+v", u)
	}
}

// TestRefreshLookupsAreBounded: a namespace with more sockets than maxTrackedPerNamespace is
// not looked up (its last reading is kept between reads), and a scrape's lookups stop at
// maxLookupsPerScrape, the namespaces with the fewest sockets first: a pod holding many
// sockets cannot take the lookups of the others.
func TestRefreshLookupsAreBounded(t *testing.T) {
	const pods, big, extra = 25, 17, 1000
	h, groups := podsHost(pods)
	addSockets := func(i, n int) {
		for j := range n {
			h.queues[sockKey{uint64(1000 + i), uint64(100000*(i+1) + j)}] = sockQueue{proto: "udp", cgroupID: uint64(5000 + i)}
		}
	}
	// Pod 0 holds more sockets than a namespace may have tracked; pods 1 to 17 hold 1,001
	// each, 17,017 together, more than a scrape's budget; pods 18 to 24 one each.
	addSockets(0, maxTrackedPerNamespace)
	for i := 1; i <= big; i++ {
		addSockets(i, extra)
	}
	c, clock := refreshing(h, time.Hour, testLimits)
	c.limits.MaxNamespaces = 1000
	dumpedPIDs(t, c, h, groups)
	if e := c.nsCache[1000]; e == nil || e.tracked != nil {
		t.Fatalf("pod 0's namespace, %d sockets: cached %+v, want it kept untracked", maxTrackedPerNamespace+1, e)
	}
	if e := c.nsCache[1001]; e == nil || len(e.tracked) != extra+1 {
		t.Fatal("pod 1's namespace is not tracked")
	}
	for i := range pods {
		q := h.queues[sockKey{uint64(1000 + i), uint64(10 + i)}]
		q.rcvq = 999
		h.queues[sockKey{uint64(1000 + i), uint64(10 + i)}] = q
	}
	h.lookups = nil
	*clock = clock.Add(time.Second)
	dumped, got := dumpedPIDs(t, c, h, groups)
	if len(dumped) != 0 {
		t.Fatalf("dumped %v", dumped)
	}
	looked := map[uint64]bool{}
	for _, ns := range h.lookups {
		looked[ns] = true
	}
	for i := range pods {
		// The small pods first, then the big ones by namespace until the budget is spent:
		// 7 + 16 x 1,001 lookups fit in 16,384, the 17th big pod's do not.
		want := i != 0 && i != big
		if looked[uint64(1000+i)] != want {
			t.Errorf("%s looked up: %v, want %v", podKey(i), looked[uint64(1000+i)], want)
		}
		wantRcvq := uint64(i + 1) // its last reading
		if want {
			wantRcvq = 999
		}
		if u := got[podKey(i)]; u.RcvqBytes != wantRcvq || u.Incomplete {
			t.Errorf("%s: %+v, want rcvq %d", podKey(i), u, wantRcvq)
		}
	}
	if st := c.LastStats(); st.Lookups != 7+16*(extra+1) {
		t.Errorf("stats %+v, want %d lookups", st, 7+16*(extra+1))
	}
}

// followCounts makes the fake host tell c each namespace's socket counts: one TCP socket per
// socket of the namespace in h.queues; countsErr fails the reading of some.
func followCounts(c *Collector, h *fakeHost, countsErr map[uint64]error) {
	count := func(ns uint64) sockCounts {
		var n sockCounts
		for k := range h.queues {
			if k.ns == ns {
				n.tcp++
			}
		}
		return n
	}
	c.dumpedCounts = func(ns uint64) (sockCounts, bool) { return count(ns), true }
	c.countsNow = func(ns uint64) (sockCounts, error) {
		if err := countsErr[ns]; err != nil {
			return sockCounts{}, err
		}
		return count(ns), nil
	}
}

// TestRefreshPutsOffNamespacesWhoseCountsStay: at the end of its refresh period, a
// namespace whose socket counts are those of its last read, and whose known sockets are all
// still there, is not read again (its sockets are looked up, as between reads); one whose
// counts changed, or whose counts cannot be read, is read; a socket closed and another
// created between two scrapes, which leaves the counts the same, makes the lookups find the
// closed one gone, and the namespace is read at the end of its next period.
func TestRefreshPutsOffNamespacesWhoseCountsStay(t *testing.T) {
	h, groups := podsHost(4)
	c, clock := refreshing(h, time.Minute, testLimits)
	countsErr := map[uint64]error{}
	followCounts(c, h, countsErr)
	h.queues[sockKey{1002, 700}] = sockQueue{proto: "tcp", rcvq: 5, cgroupID: 5002} // pod 2 has two
	dumpedPIDs(t, c, h, groups)
	*clock = clock.Add(time.Minute)
	if dumped, _ := dumpedPIDs(t, c, h, groups); len(dumped) != 0 || c.LastStats().PutOff != 4 {
		t.Fatalf("a period later with no socket created or closed: dumped %v, stats %+v; want none dumped, 4 put off", dumped, c.LastStats())
	}

	h.queues[sockKey{1001, 500}] = sockQueue{proto: "udp", rcvq: 4096, cgroupID: 5001} // pod 1 opens a socket
	countsErr[1003] = errors.New("sockstat: read failed")
	*clock = clock.Add(time.Minute)
	dumped, got := dumpedPIDs(t, c, h, groups)
	if len(dumped) != 2 || !dumped[101] || !dumped[103] || c.LastStats().PutOff != 2 {
		t.Fatalf("dumped %v, stats %+v: want pod 1 (a socket more) and pod 3 (counts unknown) read, the others put off", dumped, c.LastStats())
	}
	if u := got[podKey(1)]; u.RcvqBytes != 2+4096 || u.Sockets != 2 {
		t.Errorf("pod 1 = %+v, want its new socket counted", u)
	}

	// Pod 2 closes one of its sockets and opens another between two scrapes: the same counts.
	delete(h.queues, sockKey{1002, 12})
	h.queues[sockKey{1002, 600}] = sockQueue{proto: "tcp", rcvq: 9, cgroupID: 5002}
	*clock = clock.Add(time.Minute)
	dumped, got = dumpedPIDs(t, c, h, groups)
	if dumped[102] || got[podKey(2)].Sockets != 1 || got[podKey(2)].RcvqBytes != 5 {
		t.Fatalf("dumped %v, pod 2 = %+v: want it put off (same counts), its closed socket dropped by its lookup", dumped, got[podKey(2)])
	}
	*clock = clock.Add(time.Minute)
	dumped, got = dumpedPIDs(t, c, h, groups)
	if !dumped[102] || got[podKey(2)].RcvqBytes != 5+9 {
		t.Fatalf("dumped %v, pod 2 = %+v: want it read at its next period's end, its new socket found", dumped, got[podKey(2)])
	}
}

// TestRefreshPutsOffForAnHourAtMost: namespaces whose counts never change are still read
// once followedMaxAge after their last read.
func TestRefreshPutsOffForAnHourAtMost(t *testing.T) {
	h, groups := podsHost(20)
	c, clock := refreshing(h, time.Minute, testLimits)
	followCounts(c, h, nil)
	dumpedPIDs(t, c, h, groups)
	times := map[int][]int{}
	for m := 1; m <= 90; m++ {
		*clock = clock.Add(time.Minute)
		dumped, _ := dumpedPIDs(t, c, h, groups)
		for pid := range dumped {
			times[pid] = append(times[pid], m)
		}
	}
	for i := range 20 {
		if ms := times[100+i]; len(ms) != 1 || ms[0] < 60 || ms[0] > 61 {
			t.Errorf("pod %d read at minutes %v of 90, want once, at 60 or 61 (an hour after its first read, at its period's end)", i, ms)
		}
	}
}
