//go:build linux

package sockets

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// fillHelper binds a UDP receiver (1 MiB buffer) and a sender connected to it, says
// "ready pid=N inodes=<receiver>,<sender>", and for each line "send K" sends K datagrams of
// 10 bytes that are never read, answering "sent" (loopback delivery is done when the write
// returns).
func fillHelper() int {
	in := bufio.NewReader(os.Stdin)
	fail := func(err error) int { fmt.Println("error", err); return 1 }
	if _, err := in.ReadString('\n'); err != nil {
		return fail(err)
	}
	rx, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	if err := rx.(*net.UDPConn).SetReadBuffer(1 << 20); err != nil {
		return fail(err)
	}
	tx, err := net.Dial("udp4", rx.LocalAddr().String())
	if err != nil {
		return fail(err)
	}
	rxIno, err1 := inode(rx.(*net.UDPConn))
	txIno, err2 := inode(tx.(*net.UDPConn))
	if err1 != nil || err2 != nil {
		return fail(fmt.Errorf("inodes: %v %v", err1, err2))
	}
	fmt.Printf("ready pid=%d inodes=%d,%d\n", os.Getpid(), rxIno, txIno)
	for {
		line, err := in.ReadString('\n')
		if err != nil {
			return 0 // stdin closed
		}
		var k int
		if _, err := fmt.Sscanf(line, "send %d", &k); err != nil {
			return fail(err)
		}
		for range k {
			if _, err := tx.Write([]byte("zzzzzzzzzz")); err != nil {
				return fail(err)
			}
		}
		fmt.Println("sent")
	}
}

// TestLiveRefreshInterval: 12 pods, each alone in a network namespace of its own with a UDP
// socket, refresh interval 4 scrapes. The first scrape dumps every namespace; over the next 4
// each namespace is dumped exactly once, about 12/4 per scrape, and the others have their
// known sockets looked up again (exact sock_diag requests). Queues filled after the first
// scrape are reported, equal to `ss -m`, at the next scrape, whether their namespace is dumped
// then or its sockets looked up. The netlink connection of a namespace not read is kept for
// its lookups and its next read.
func TestLiveRefreshInterval(t *testing.T) {
	const pods, k, step = 12, 4, 10 * time.Second
	e := requireLive(t)
	var cs []liveContainer
	var nss []string
	for i := range pods {
		ns := e.netns(fmt.Sprintf("refresh%d", i))
		dir := e.cgroup(fmt.Sprintf("kubepods/pod%08d-7777-4444-8888-999999999999/c%02d", i, i))
		lc := liveContainer{key: fmt.Sprintf("pod%02d", i), dir: dir, netns: ns}
		lc.h = e.start(dir, ns, "fill")
		cs = append(cs, lc)
		nss = append(nss, ns)
	}
	groups := map[string]Group{}
	if e.unified != "" {
		groups, _ = byIDAndWalked(t, e, cs)
	} else {
		_, groups = byIDAndWalked(t, e, cs)
	}

	c := NewCollector("/proc", DefaultLimits(), zaptest.NewLogger(t))
	defer c.Close()
	c.SetRefreshInterval(k * step)
	clock := time.Unix(1_700_000_000, 0)
	c.SetClock(func() time.Time { return clock })
	collect := func() (map[string]Usage, Stats) {
		t.Helper()
		got, err := c.Collect(context.Background(), groups)
		if err != nil {
			t.Fatal(err)
		}
		return got, c.LastStats()
	}

	first, st := collect()
	ssFirst := e.ssSnapshot(nss...)
	if st.Namespaces != pods {
		t.Fatalf("first scrape: %+v, want all %d namespaces dumped (seen for the first time)", st, pods)
	}
	for _, lc := range cs {
		if want := ssUsage(ssFirst, lc.h.inodes, SourceSockDiag); !sameAsSS(first[lc.key], want) || first[lc.key].Incomplete {
			t.Fatalf("%s first scrape:\n got %+v\nwant %+v (ss)", lc.key, first[lc.key], want)
		}
	}

	for i, lc := range cs {
		if _, err := io.WriteString(lc.h.stdin, fmt.Sprintf("send %d\n", 10*(i+1))); err != nil {
			t.Fatal(err)
		}
		if line, err := readLine(lc.h.stdout, 30*time.Second); err != nil || line != "sent" {
			t.Fatalf("%s helper: %q, %v", lc.key, line, err)
		}
	}
	ssFilled := e.ssSnapshot(nss...)

	changedAt := map[string]int{}
	dumps := 0
	for s := 1; s <= k; s++ {
		clock = clock.Add(step)
		got, st := collect()
		t.Logf("scrape %d: %d namespaces dumped, %d from their last reading", s, st.Namespaces, st.Cached)
		if st.Namespaces+st.Cached != pods {
			t.Errorf("scrape %d: %+v, want %d namespaces dumped or cached", s, st, pods)
		}
		if st.Namespaces == pods {
			t.Errorf("scrape %d dumped every namespace: the refresh interval is not used", s)
		}
		dumps += st.Namespaces
		if len(c.diag.conns) != pods {
			t.Errorf("scrape %d: %d sock_diag connections kept, want one per namespace (kept until its next read)", s, len(c.diag.conns))
		}
		changed := 0
		for _, lc := range cs {
			u := got[lc.key]
			filled := ssUsage(ssFilled, lc.h.inodes, SourceSockDiag)
			switch {
			case u.Incomplete:
				t.Errorf("scrape %d: %s incomplete", s, lc.key)
			case changedAt[lc.key] != 0:
				if !sameAsSS(u, filled) {
					t.Errorf("scrape %d: %s went back from %+v to %+v", s, lc.key, filled, u)
				}
			case sameAsSS(u, filled):
				changedAt[lc.key] = s
				changed++
			default:
				t.Errorf("scrape %d: %s = %+v, not what ss says now %+v", s, lc.key, u, filled)
			}
		}
		if want := 2 * (pods - st.Namespaces); st.Lookups != want {
			t.Errorf("scrape %d: %d sockets looked up, want the %d of the namespaces not dumped", s, st.Lookups, want)
		}
		if s == 1 && changed != pods {
			t.Errorf("scrape %d: %d containers got their new queue, want all %d (%d namespaces dumped)", s, changed, pods, st.Namespaces)
		}
	}
	if dumps != pods {
		t.Errorf("%d namespace dumps over one interval of %d scrapes, want each of %d once", dumps, k, pods)
	}
	if after := e.ssSnapshot(nss...); !sameSockets(ssFilled, after, cs) {
		t.Error("queues changed during the test")
	}
}
