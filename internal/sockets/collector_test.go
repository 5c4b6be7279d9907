package sockets

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"syscall"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// fakeHost stands in for procfs and sock_diag through the Collector's seams.
type fakeHost struct {
	fds       map[int][]heldFD
	fdErr     map[int]error
	ns        map[int]uint64
	queues    map[sockKey]sockQueue // every socket on the host
	diagErr   map[int]error         // by pid
	procErr   map[int]error         // by pid
	table     map[int]int           // fd table of a pid (default: its own)
	left      map[int]bool          // pids no longer in their group's cgroup after the walk
	diagCalls []int                 // pids sock_diag was asked through
	procCalls []int
	walked    []int            // pids whose fds were walked
	lookups   []uint64         // namespaces whose sockets were looked up again
	lookupErr map[uint64]error // by namespace
	stale     map[sockKey]bool // sockets whose lookup is not conclusive
}

// fakeDiagID is the sock_diag identity the fake host gives a socket.
func fakeDiagID(inode uint64) diagSockID {
	id := diagSockID{family: afInet, protocol: ipprotoTCP}
	binary.NativeEndian.PutUint64(id.id[40:48], inode) // the cookie
	return id
}

func (h *fakeHost) pick(ns uint64, keep func(inode, cgroupID uint64) bool, src Source) map[uint64]sockQueue {
	out := make(map[uint64]sockQueue)
	for k, q := range h.queues {
		if k.ns != ns {
			continue
		}
		if src == SourceProcNet {
			q.cgroupID = 0 // /proc/<pid>/net has none
		}
		if keep(k.inode, q.cgroupID) {
			q.source, q.inode = src, k.inode
			if src == SourceSockDiag {
				q.diag = fakeDiagID(k.inode)
			}
			out[k.inode] = q
		}
	}
	return out
}

var testLimits = Limits{MaxFDsPerContainer: 1000, MaxFDsPerScrape: 10000, MaxNamespaces: 100}

func (h *fakeHost) collector(selfNS uint64, logger *zap.Logger) *Collector {
	return h.collectorWith(selfNS, testLimits, logger)
}

func (h *fakeHost) collectorWith(selfNS uint64, limits Limits, logger *zap.Logger) *Collector {
	c := NewCollector("/nonexistent", limits, logger)
	c.selfNS, c.hostNS = selfNS, selfNS
	c.walkFDs = func(_ context.Context, pid, budget int, visit fdVisitor) (int, bool, error) {
		h.walked = append(h.walked, pid)
		if err := h.fdErr[pid]; err != nil {
			return 0, false, err
		}
		if _, ok := h.ns[pid]; !ok {
			return 0, false, vanished(fs.ErrNotExist)
		}
		return visitHeld(h.fds[pid], budget, visit)
	}
	c.compareFDTables = func(a, b int) (int, error) {
		ta, tb := cmp.Or(h.table[a], a), cmp.Or(h.table[b], b)
		switch {
		case ta == tb:
			return 0, nil
		case ta < tb:
			return 1, nil
		default:
			return 2, nil
		}
	}
	c.inCgroup = func(pid int, _ string) (bool, error) { return !h.left[pid], nil }
	c.readNetNS = func(pid int) (uint64, error) {
		if ns, ok := h.ns[pid]; ok {
			return ns, nil
		}
		return 0, vanished(fs.ErrNotExist)
	}
	c.dumpDiag = func(_ context.Context, pid int, ns uint64, own bool, keep func(inode, cgroupID uint64) bool) (map[uint64]sockQueue, error) {
		h.diagCalls = append(h.diagCalls, pid)
		if own != (h.ns[pid] == selfNS) || ns != h.ns[pid] {
			return nil, fmt.Errorf("pid %d: own = %v, ns %d", pid, own, ns)
		}
		if err := h.diagErr[pid]; err != nil {
			return nil, err
		}
		return h.pick(ns, keep, SourceSockDiag), nil
	}
	c.lookupDiag = func(_ context.Context, ns uint64, socks []trackedSock) ([]sockQueue, []lookupResult, error) {
		h.lookups = append(h.lookups, ns)
		if err := h.lookupErr[ns]; err != nil {
			return nil, nil, err
		}
		qs := make([]sockQueue, len(socks))
		res := make([]lookupResult, len(socks))
		for i, t := range socks {
			q, ok := h.queues[sockKey{ns, t.inode}]
			switch {
			case h.stale[sockKey{ns, t.inode}]:
				res[i] = lookupUnknown
			case !ok || t.id != fakeDiagID(t.inode):
				res[i] = lookupGone
			default:
				q.source, q.inode, q.diag = SourceSockDiag, t.inode, t.id
				qs[i], res[i] = q, lookupFound
			}
		}
		return qs, res, nil
	}
	c.readProcNet = func(pid int, keep func(inode uint64) bool) (map[uint64]sockQueue, error) {
		h.procCalls = append(h.procCalls, pid)
		if err := h.procErr[pid]; err != nil {
			return nil, err
		}
		return h.pick(h.ns[pid], func(ino, _ uint64) bool { return keep(ino) }, SourceProcNet), nil
	}
	return c
}

// podHost: a host-network container (pid 1, namespace 1 = the collector's), a pod whose two
// containers (pids 2 and 3) share namespace 2, and its pause container (pid 4, no sockets).
func podHost() *fakeHost {
	return &fakeHost{
		fds: map[int][]heldFD{
			1: {{1, 3, 10}},
			2: {{2, 3, 20}, {2, 4, 21}},
			3: {{3, 3, 30}},
		},
		ns: map[int]uint64{1: 1, 2: 2, 3: 2, 4: 2},
		queues: map[sockKey]sockQueue{
			{1, 10}: {proto: "tcp", rcvq: 100, payload: 50},
			{2, 20}: {proto: "udp", rcvq: 832},
			{2, 21}: {proto: "tcp"},
			{2, 30}: {proto: "tcp6", rcvq: 4096, payload: 10},
		},
	}
}

func pidGroups(m map[string][]int) map[string]Group {
	out := make(map[string]Group, len(m))
	for k, pids := range m {
		out[k] = Group{PIDs: pids, Cgroup: "/" + k}
	}
	return out
}

var podGroups = pidGroups(map[string][]int{"host": {1}, "app": {2}, "sidecar": {3}, "pause": {4}})

func TestCollectAttributesByInodeAndReadsNamespacesOnce(t *testing.T) {
	h := podHost()
	core, logs := observer.New(zapcore.DebugLevel)
	c := h.collector(1, zap.New(core))
	got, err := c.Collect(context.Background(), podGroups)
	if err != nil {
		t.Fatal(err)
	}
	if n := logs.FilterMessage("largest socket receive queue").Len(); n != 3 {
		t.Errorf("%d debug lines naming the worst socket, want 3 (pause has none):\n%v", n, logs.All())
	}
	if app := logs.FilterMessage("largest socket receive queue").FilterField(zap.String("container", "app")).All(); len(app) != 1 {
		t.Errorf("%d debug lines for app, want 1", len(app))
	} else if got := app[0].ContextMap()["sockets"]; got != int64(2) {
		t.Errorf("app's debug line says sockets=%v, want the 2 it holds", got)
	}
	tests := []struct {
		group string
		rcvq  uint64
		socks int
		worst uint64
	}{
		{"host", 100, 1, 10},
		{"app", 832, 2, 20},
		{"sidecar", 4096, 1, 30},
		{"pause", 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.group, func(t *testing.T) {
			u := got[tt.group]
			if u.RcvqBytes != tt.rcvq || u.Sockets != tt.socks || u.Worst.Inode != tt.worst || u.Source != SourceSockDiag || u.Incomplete {
				t.Errorf("usage %+v, want rcvq %d sockets %d worst %d from sock_diag, complete", u, tt.rcvq, tt.socks, tt.worst)
			}
		})
	}
	if st := c.LastStats(); st.Namespaces != 2 || len(h.diagCalls) != 2 || len(h.procCalls) != 0 {
		t.Errorf("namespaces read %d, sock_diag calls %v, proc_net calls %v; want each namespace once through sock_diag",
			st.Namespaces, h.diagCalls, h.procCalls)
	}
}

func TestCollectFallsBackWhenSetnsIsDenied(t *testing.T) {
	h := podHost()
	denied := fmt.Errorf("setns: %w", fs.ErrPermission)
	h.diagErr = map[int]error{2: denied, 3: denied}
	core, logs := observer.New(zapcore.InfoLevel)
	c := h.collector(1, zap.New(core))
	for scrape := range 3 {
		h.diagCalls, h.procCalls = nil, nil
		got, err := c.Collect(context.Background(), podGroups)
		if err != nil {
			t.Fatalf("scrape %d: a fallback is not an error: %v", scrape, err)
		}
		want := map[string]Source{"host": SourceSockDiag, "app": SourceProcNet, "sidecar": SourceProcNet, "pause": SourceProcNet}
		for g, src := range want {
			if got[g].Source != src {
				t.Errorf("scrape %d: %s source %q, want %q", scrape, g, got[g].Source, src)
			}
		}
		if got["sidecar"].RcvqBytes != 4096 {
			t.Errorf("scrape %d: sidecar %+v", scrape, got["sidecar"])
		}
		wantDiag := 1 // the own namespace; setns is not tried again once denied
		if scrape == 0 {
			wantDiag = 2
		}
		if len(h.diagCalls) != wantDiag || len(h.procCalls) != 1 {
			t.Errorf("scrape %d: sock_diag calls %v, proc_net calls %v", scrape, h.diagCalls, h.procCalls)
		}
	}
	if n := logs.FilterField(zap.String("kind", "sock_diag_denied")).Len(); n != 1 {
		t.Errorf("fallback logged %d times, want once:\n%v", n, logs.All())
	}
}

func TestCollectPermissionErrorReportedOnce(t *testing.T) {
	h := podHost()
	core, logs := observer.New(zapcore.WarnLevel)
	c := h.collector(1, zap.New(core))
	eacces := fmt.Errorf("open /proc/2/fd: %w", fs.ErrPermission)
	steps := []struct {
		name    string
		fdErr   error
		wantErr bool
	}{
		{"first denial is reported", eacces, true},
		{"repeat is suppressed", eacces, false},
		{"still suppressed", eacces, false},
		{"recovery", nil, false},
		{"new denial is reported again", eacces, true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			h.fdErr = map[int]error{2: st.fdErr}
			got, err := c.Collect(context.Background(), podGroups)
			if (err != nil) != st.wantErr {
				t.Fatalf("error = %v, want error %v", err, st.wantErr)
			}
			if err != nil && !errors.Is(err, fs.ErrPermission) {
				t.Errorf("error %v does not wrap fs.ErrPermission", err)
			}
			var pe *PartialError
			if err != nil && (!errors.As(err, &pe) || pe.Failed != 1) {
				t.Errorf("error %#v: want a PartialError charged to 1 container (app)", err)
			}
			if got["app"].Incomplete != (st.fdErr != nil) {
				t.Errorf("app %+v: incomplete exactly while its fds cannot be read", got["app"])
			}
			if got["sidecar"].RcvqBytes != 4096 || got["sidecar"].Incomplete {
				t.Errorf("other groups must still be read: sidecar %+v", got["sidecar"])
			}
		})
	}
	if logs.Len() != 2 {
		t.Errorf("%d warnings, want 2:\n%v", logs.Len(), logs.All())
	}
}

// TestCollectChargesErrorsToTheirContainer: a one-off read error of one container's process
// costs that container's numbers only, and the error says so.
func TestCollectChargesErrorsToTheirContainer(t *testing.T) {
	h := podHost()
	h.fdErr = map[int]error{3: fmt.Errorf("readdirent /proc/3/fd: %w", errors.New("input/output error"))}
	c := h.collector(1, zap.NewNop())
	got, err := c.Collect(context.Background(), podGroups)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.Failed != 1 {
		t.Fatalf("error %v: want a PartialError charged to one container", err)
	}
	for k, u := range got {
		if u.Incomplete != (k == "sidecar") {
			t.Errorf("%s: %+v: only sidecar is incomplete", k, u)
		}
	}
	if got["app"].RcvqBytes != 832 || got["host"].RcvqBytes != 100 {
		t.Errorf("app %+v, host %+v", got["app"], got["host"])
	}
}

func TestCollectSkipsVanishedQuietly(t *testing.T) {
	h := podHost()
	// pid 2 exits between listing its fds and entering its namespace: pid 3 is used instead.
	h.diagErr = map[int]error{2: vanished(fs.ErrNotExist)}
	// pid 5 exits while its fds are read (readdirent ENOENT), pid 6 with ESRCH.
	h.ns[5], h.ns[6] = 2, 2
	h.fdErr = map[int]error{
		5: vanished(&fs.PathError{Op: "readdirent", Path: "/proc/5/fd", Err: fs.ErrNotExist}),
		6: vanished(fmt.Errorf("readlink: %w", syscall.ESRCH)),
	}
	c := h.collector(1, zap.NewNop())
	groups := pidGroups(map[string][]int{"app": {2, 5, 6, 99}, "sidecar": {3}, "gone": {98}})
	got, err := c.Collect(context.Background(), groups)
	if err != nil {
		t.Fatal(err)
	}
	if got["app"].RcvqBytes != 832 || got["app"].Incomplete || got["sidecar"].RcvqBytes != 4096 || got["gone"] != (Usage{Source: SourceSockDiag}) {
		t.Errorf("got %+v", got)
	}
	if len(h.diagCalls) != 2 || h.diagCalls[1] != 3 {
		t.Errorf("sock_diag calls %v, want pid 2 then pid 3", h.diagCalls)
	}
}

func TestCollectOtherErrorsEveryScrape(t *testing.T) {
	h := podHost()
	c := h.collector(1, zap.NewNop())
	c.dumpDiag = nil
	h.procErr = map[int]error{2: fmt.Errorf("/proc/2/net/tcp: %w", ErrMalformed)}
	for i := range 2 {
		got, err := c.Collect(context.Background(), podGroups)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("scrape %d: error = %v, want ErrMalformed", i, err)
		}
		var pe *PartialError
		// namespace 2 failed: app and sidecar hold sockets there; pause holds none.
		if !errors.As(err, &pe) || pe.Failed != 2 {
			t.Errorf("scrape %d: error %#v, want charged to app and sidecar", i, err)
		}
		if got["host"].RcvqBytes != 100 || got["host"].Source != SourceProcNet || got["host"].Incomplete {
			t.Errorf("scrape %d: host %+v", i, got["host"])
		}
		if !got["app"].Incomplete || !got["sidecar"].Incomplete || got["pause"].Incomplete {
			t.Errorf("scrape %d: app %+v sidecar %+v pause %+v", i, got["app"], got["sidecar"], got["pause"])
		}
	}
}

// TestCollectFDLimits: one container holding many fds of one socket and many sockets costs at
// most its own budget, each socket is kept once, and the container is warned about once.
func TestCollectFDLimits(t *testing.T) {
	h := podHost()
	for fd := range 5000 { // 5,000 dups of socket 20 and 100 sockets of their own
		h.fds[2] = append(h.fds[2], heldFD{2, 10 + fd, 20})
	}
	for i := range 100 {
		h.fds[2] = append(h.fds[2], heldFD{2, 6000 + i, uint64(1000 + i)})
		h.queues[sockKey{2, uint64(1000 + i)}] = sockQueue{proto: "udp", rcvq: 768}
	}
	core, logs := observer.New(zapcore.WarnLevel)
	c := h.collectorWith(1, Limits{MaxFDsPerContainer: 6000, MaxFDsPerScrape: 100000, MaxNamespaces: 10}, zap.New(core))
	got, err := c.Collect(context.Background(), podGroups)
	if err != nil {
		t.Fatal(err)
	}
	if app := got["app"]; app.Incomplete || app.Sockets != 102 || app.RcvqBytes != 832+100*768 {
		t.Errorf("app %+v: within its budget, each socket once", app)
	}
	c.limits.MaxFDsPerContainer = 1000
	for range 2 {
		got, err = c.Collect(context.Background(), podGroups)
		if err != nil {
			t.Fatal(err)
		}
		if !got["app"].Incomplete || got["sidecar"].Incomplete || got["sidecar"].RcvqBytes != 4096 || got["host"].RcvqBytes != 100 {
			t.Errorf("app %+v must be incomplete, the others complete: %+v", got["app"], got)
		}
		// host 1 fd + app 1000 (its limit) + sidecar 1
		if st := c.LastStats(); st.FDs != 1002 {
			t.Errorf("examined %d fds, want 1002: the container's limit bounds its cost", st.FDs)
		}
	}
	warns := logs.FilterField(zap.String("container", "app"))
	if warns.Len() != 1 || warns.All()[0].ContextMap()["limit"] != "max_fds_per_container" {
		t.Errorf("want one warning naming app and max_fds_per_container:\n%v", logs.All())
	}
	// The scrape's budget: app takes all of it; host and sidecar, walked after, get none.
	c.limits = Limits{MaxFDsPerContainer: 10000, MaxFDsPerScrape: 1001, MaxNamespaces: 10}
	got, _ = c.Collect(context.Background(), podGroups)
	if !got["app"].Incomplete || !got["sidecar"].Incomplete || !got["host"].Incomplete || got["pause"].Incomplete {
		t.Errorf("app %+v sidecar %+v host %+v", got["app"], got["sidecar"], got["host"])
	}
	if st := c.LastStats(); st.FDs != 1001 {
		t.Errorf("examined %d fds, want the scrape's budget 1001", st.FDs)
	}
	if w := logs.FilterField(zap.String("container", "sidecar")); w.Len() != 1 || w.All()[0].ContextMap()["limit"] != "max_fds_per_scrape" {
		t.Errorf("want one warning naming sidecar and max_fds_per_scrape:\n%v", logs.All())
	}
}

// TestCollectSkipsSharedFDTables: processes sharing one fd table (clone CLONE_FILES) are
// walked once.
func TestCollectSkipsSharedFDTables(t *testing.T) {
	h := podHost()
	h.ns[5], h.ns[6], h.ns[7] = 2, 2, 2
	h.fds[5], h.fds[6], h.fds[7] = h.fds[2], h.fds[2], []heldFD{{7, 3, 21}}
	h.table = map[int]int{5: 2, 6: 2}
	c := h.collector(1, zap.NewNop())
	groups := pidGroups(map[string][]int{"app": {5, 2, 7, 6}})
	got, err := c.Collect(context.Background(), groups)
	if err != nil {
		t.Fatal(err)
	}
	if st := c.LastStats(); st.SharedFDTables != 2 || st.WalkedPIDs != 2 {
		t.Errorf("stats %+v: want pids 2 and 6 skipped (pid 5's table), 5 and 7 walked", st)
	}
	if app := got["app"]; app.RcvqBytes != 832 || app.Sockets != 2 {
		t.Errorf("app %+v", app)
	}
}

// TestCollectDropsReusedPIDs: a pid that is not in the container's cgroup once its fds were
// read was reused by another process: its sockets are not the container's.
func TestCollectDropsReusedPIDs(t *testing.T) {
	h := podHost()
	h.left = map[int]bool{3: true}
	c := h.collector(1, zap.NewNop())
	got, err := c.Collect(context.Background(), podGroups)
	if err != nil {
		t.Fatal(err)
	}
	if s := got["sidecar"]; s.Sockets != 0 || s.Incomplete {
		t.Errorf("sidecar %+v: its only pid was reused, nothing of it counts", s)
	}
	if st := c.LastStats(); st.ReusedPIDs != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestCollectKeysSocketsByNamespace: socket inodes are 32-bit; the same number in two
// namespaces is two sockets.
func TestCollectKeysSocketsByNamespace(t *testing.T) {
	h := podHost()
	h.ns[5] = 3
	h.fds[5] = []heldFD{{5, 3, 20}}
	h.queues[sockKey{3, 20}] = sockQueue{proto: "tcp", rcvq: 7, payload: 7}
	c := h.collector(1, zap.NewNop())
	got, err := c.Collect(context.Background(), pidGroups(map[string][]int{"app": {2}, "other": {5}}))
	if err != nil {
		t.Fatal(err)
	}
	if got["app"].RcvqBytes != 832 || got["other"].RcvqBytes != 7 {
		t.Errorf("app %+v other %+v", got["app"], got["other"])
	}
}

// TestCollectNamespaceLimitIsFair: a container spreading its processes over namespaces loses
// its own past the limit, not the others'.
func TestCollectNamespaceLimitIsFair(t *testing.T) {
	h := podHost()
	for pid := 10; pid < 20; pid++ { // "spread": ten processes, each in a namespace of its own
		h.ns[pid] = uint64(pid * 10)
		h.fds[pid] = []heldFD{{pid, 3, uint64(pid)}}
		h.queues[sockKey{uint64(pid * 10), uint64(pid)}] = sockQueue{proto: "udp", rcvq: 1}
	}
	spread := []int{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
	core, logs := observer.New(zapcore.WarnLevel)
	c := h.collectorWith(1, Limits{MaxFDsPerContainer: 100, MaxFDsPerScrape: 1000, MaxNamespaces: 4}, zap.New(core))
	groups := pidGroups(map[string][]int{"a-spread": spread, "host": {1}, "app": {2}, "sidecar": {3}})
	got, err := c.Collect(context.Background(), groups)
	if err != nil {
		t.Fatal(err)
	}
	if !got["a-spread"].Incomplete || got["host"].Incomplete || got["app"].Incomplete || got["sidecar"].RcvqBytes != 4096 {
		t.Errorf("got %+v", got)
	}
	if st := c.LastStats(); st.Namespaces != 4 {
		t.Errorf("read %d namespaces, want the limit, 4", st.Namespaces)
	}
	if w := logs.FilterField(zap.String("container", "a-spread")); w.Len() != 1 || w.All()[0].ContextMap()["limit"] != "max_namespaces" {
		t.Errorf("want one warning naming a-spread and max_namespaces:\n%v", logs.All())
	}
}

func TestCollectCanceled(t *testing.T) {
	c := podHost().collector(1, zap.NewNop())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Collect(ctx, podGroups); !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}

func TestCloseTwice(t *testing.T) {
	c := NewCollector("/proc", DefaultLimits(), nil)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// idHost is podHost with cgroup ids: host (pid 1) is cgroup 100, app (pid 2) 200, sidecar
// (pid 3) 300; each socket carries its creator's id, and socket 21, held by app, was created
// by sidecar (passed over a unix socket).
func idHost() (*fakeHost, map[string]Group) {
	h := podHost()
	for k, id := range map[sockKey]uint64{{1, 10}: 100, {2, 20}: 200, {2, 21}: 300, {2, 30}: 300} {
		q := h.queues[k]
		q.cgroupID = id
		h.queues[k] = q
	}
	groups := pidGroups(map[string][]int{"host": {1}, "app": {2}, "sidecar": {3}, "pause": {4}})
	for k, id := range map[string]uint64{"host": 100, "app": 200, "sidecar": 300, "pause": 400} {
		g := groups[k]
		g.CgroupID = id
		groups[k] = g
	}
	return h, groups
}

// TestCollectByCgroupID: groups with a cgroup id get the sockets created in their cgroup,
// without a walk of any fd; a socket created in one container and held by another counts in
// its creator.
func TestCollectByCgroupID(t *testing.T) {
	h, groups := idHost()
	h.queues[sockKey{2, 21}] = sockQueue{proto: "tcp", rcvq: 5, payload: 5, cgroupID: 300}
	c := h.collector(1, zap.NewNop())
	got, err := c.Collect(context.Background(), groups)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.walked) != 0 || c.LastStats().ByCgroupID != 4 {
		t.Errorf("walked %v, stats %+v: want no fd walk", h.walked, c.LastStats())
	}
	want := map[string]uint64{"host": 100, "app": 832, "sidecar": 4096 + 5, "pause": 0}
	for k, rcvq := range want {
		if got[k].RcvqBytes != rcvq || got[k].Incomplete {
			t.Errorf("%s: %+v, want rcvq %d", k, got[k], rcvq)
		}
	}
	// Walked instead (no ids): socket 21 counts in its holder, app.
	got, err = c.Collect(context.Background(), podGroups)
	if err != nil {
		t.Fatal(err)
	}
	if got["app"].RcvqBytes != 832+5 || got["sidecar"].RcvqBytes != 4096 {
		t.Errorf("by fd walk: app %+v sidecar %+v", got["app"], got["sidecar"])
	}
}

// TestCollectByCgroupIDFallsBackToTheWalk: a socket whose cgroup id is no group's (created
// outside the containers' cgroups) in a pod's namespace is found by walking the fds of the
// groups in that namespace; in the host's namespace (full of the host's own) it is not; and
// a namespace read from /proc/<pid>/net (no ids there) is walked.
func TestCollectByCgroupIDFallsBackToTheWalk(t *testing.T) {
	h, groups := idHost()
	h.queues[sockKey{2, 21}] = sockQueue{proto: "tcp", rcvq: 5, payload: 5, cgroupID: 999}
	h.fds[1] = append(h.fds[1], heldFD{1, 9, 11})
	h.queues[sockKey{1, 11}] = sockQueue{proto: "udp", rcvq: 768, cgroupID: 999}
	c := h.collector(1, zap.NewNop())
	got, err := c.Collect(context.Background(), groups)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(slices.Sorted(slices.Values(h.walked)), []int{2, 3, 4}) {
		t.Errorf("walked %v, want the pids of namespace 2 only", h.walked)
	}
	if got["app"].RcvqBytes != 832+5 || got["sidecar"].RcvqBytes != 4096 || got["host"].RcvqBytes != 100 {
		t.Errorf("app %+v sidecar %+v host %+v", got["app"], got["sidecar"], got["host"])
	}
	// No sock_diag: every group is walked, every socket counts in its holders.
	h.walked = nil
	c.dumpDiag = nil
	got, err = c.Collect(context.Background(), groups)
	if err != nil {
		t.Fatal(err)
	}
	if got["app"].RcvqBytes != 832+5 || got["sidecar"].RcvqBytes != 4096 || got["host"].RcvqBytes != 100+768 || got["host"].Source != SourceProcNet {
		t.Errorf("proc_net: app %+v sidecar %+v host %+v", got["app"], got["sidecar"], got["host"])
	}
}

// TestCollectSockopt: with UseSockopt every group is walked and each socket read through its
// holder, no namespace; a refusal of pidfd_getfd falls back to the namespaces, from then on,
// said once.
func TestCollectSockopt(t *testing.T) {
	h, groups := idHost() // ids are ignored with UseSockopt
	var reads []int
	var refuse bool
	core, logs := observer.New(zapcore.InfoLevel)
	c := h.collector(1, zap.New(core))
	c.UseSockopt(true)
	c.readSockopt = func(pid, fd int, inode uint64) (sockQueue, bool, error) {
		reads = append(reads, pid)
		if refuse {
			return sockQueue{}, false, fmt.Errorf("pidfd_getfd: %w", fs.ErrPermission)
		}
		q, ok := h.queues[sockKey{h.ns[pid], inode}]
		q.inode, q.source, q.cgroupID = inode, SourceSockopt, 0
		return q, ok, nil
	}
	got, err := c.Collect(context.Background(), groups)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.diagCalls)+len(h.procCalls) != 0 || len(reads) != 4 {
		t.Errorf("sock_diag %v proc_net %v sockopt reads %v: want the 4 held sockets through their holders only", h.diagCalls, h.procCalls, reads)
	}
	want := map[string]uint64{"host": 100, "app": 832, "sidecar": 4096, "pause": 0}
	for k, rcvq := range want {
		if got[k].RcvqBytes != rcvq || got[k].Source != SourceSockopt || got[k].Incomplete {
			t.Errorf("%s: %+v, want rcvq %d from sockopt", k, got[k], rcvq)
		}
	}
	refuse = true
	for scrape := range 2 {
		reads = nil
		got, err = c.Collect(context.Background(), groups)
		if err != nil {
			t.Fatalf("scrape %d: a fallback is not an error: %v", scrape, err)
		}
		if got["sidecar"].RcvqBytes != 4096 || got["sidecar"].Source != SourceSockDiag || got["host"].RcvqBytes != 100 {
			t.Errorf("scrape %d: sidecar %+v host %+v: want sock_diag's numbers", scrape, got["sidecar"], got["host"])
		}
		if scrape == 1 && len(reads) != 0 {
			t.Errorf("pidfd_getfd tried again after a refusal: %v", reads)
		}
	}
	if n := logs.FilterField(zap.String("kind", "sockopt_denied")).Len(); n != 1 {
		t.Errorf("fallback logged %d times, want once:\n%v", n, logs.All())
	}
}
