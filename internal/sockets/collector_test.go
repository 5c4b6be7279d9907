package sockets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
	queues    map[uint64]sockQueue // every socket on the host, by inode
	diagErr   map[int]error        // by pid
	procErr   map[int]error        // by pid
	diagCalls []int                // pids sock_diag was asked through
	procCalls []int
}

func (h *fakeHost) pick(want inodeSet, src Source) map[uint64]sockQueue {
	out := make(map[uint64]sockQueue)
	for ino := range want {
		if q, ok := h.queues[ino]; ok {
			q.source = src
			out[ino] = q
		}
	}
	return out
}

func (h *fakeHost) collector(selfNS uint64, logger *zap.Logger) *Collector {
	c := NewCollector("/nonexistent", logger)
	c.selfNS = selfNS
	c.readFDs = func(pid int) ([]heldFD, error) {
		if err := h.fdErr[pid]; err != nil {
			return nil, err
		}
		if _, ok := h.ns[pid]; !ok {
			return nil, vanished(fs.ErrNotExist)
		}
		return h.fds[pid], nil
	}
	c.readNetNS = func(pid int) (uint64, error) {
		if ns, ok := h.ns[pid]; ok {
			return ns, nil
		}
		return 0, vanished(fs.ErrNotExist)
	}
	c.dumpDiag = func(_ context.Context, pid int, own bool, want inodeSet) (map[uint64]sockQueue, error) {
		h.diagCalls = append(h.diagCalls, pid)
		if own != (h.ns[pid] == selfNS) {
			return nil, fmt.Errorf("pid %d: own = %v", pid, own)
		}
		if err := h.diagErr[pid]; err != nil {
			return nil, err
		}
		return h.pick(want, SourceSockDiag), nil
	}
	c.readProcNet = func(pid int, want inodeSet) (map[uint64]sockQueue, error) {
		h.procCalls = append(h.procCalls, pid)
		if err := h.procErr[pid]; err != nil {
			return nil, err
		}
		return h.pick(want, SourceProcNet), nil
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
		queues: map[uint64]sockQueue{
			10: {proto: "tcp", inode: 10, rcvq: 100, payload: 50},
			20: {proto: "udp", inode: 20, rcvq: 832},
			21: {proto: "tcp", inode: 21},
			30: {proto: "tcp6", inode: 30, rcvq: 4096, payload: 10},
		},
	}
}

var podGroups = map[string][]int{"host": {1}, "app": {2}, "sidecar": {3}, "pause": {4}}

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
			if u.RcvqBytes != tt.rcvq || u.Sockets != tt.socks || u.Worst.Inode != tt.worst || u.Source != SourceSockDiag {
				t.Errorf("usage %+v, want rcvq %d sockets %d worst %d from sock_diag", u, tt.rcvq, tt.socks, tt.worst)
			}
		})
	}
	if c.nsReads != 2 || len(h.diagCalls) != 2 || len(h.procCalls) != 0 {
		t.Errorf("namespaces read %d, sock_diag calls %v, proc_net calls %v; want each namespace once through sock_diag",
			c.nsReads, h.diagCalls, h.procCalls)
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
			if got["sidecar"].RcvqBytes != 4096 {
				t.Errorf("other groups must still be read: sidecar %+v", got["sidecar"])
			}
		})
	}
	if logs.Len() != 2 {
		t.Errorf("%d warnings, want 2:\n%v", logs.Len(), logs.All())
	}
}

func TestCollectSkipsVanishedQuietly(t *testing.T) {
	h := podHost()
	// pid 2 exits between listing its fds and entering its namespace: pid 3 is used instead.
	h.diagErr = map[int]error{2: vanished(fs.ErrNotExist)}
	c := h.collector(1, zap.NewNop())
	groups := map[string][]int{"app": {2, 99}, "sidecar": {3}, "gone": {98}}
	got, err := c.Collect(context.Background(), groups)
	if err != nil {
		t.Fatal(err)
	}
	if got["app"].RcvqBytes != 832 || got["sidecar"].RcvqBytes != 4096 || got["gone"] != (Usage{Source: SourceSockDiag}) {
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
		if got["host"].RcvqBytes != 100 || got["host"].Source != SourceProcNet {
			t.Errorf("scrape %d: host %+v", i, got["host"])
		}
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
	c := NewCollector("/proc", nil)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}
