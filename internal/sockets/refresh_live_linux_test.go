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
	var held []net.PacketConn
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	for {
		line, err := in.ReadString('\n')
		if err != nil {
			return 0 // stdin closed
		}
		var k int
		if _, err := fmt.Sscanf(line, "open %d", &k); err == nil {
			// A new UDP socket, k datagrams in its queue: what only a dump can find.
			c, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				return fail(err)
			}
			for range k {
				if _, err := c.WriteTo([]byte("yyyyyyyyyy"), c.LocalAddr()); err != nil {
					return fail(err)
				}
			}
			ino, err := inode(c.(*net.UDPConn))
			if err != nil {
				return fail(err)
			}
			held = append(held, c)
			fmt.Printf("opened inode=%d\n", ino)
			continue
		}
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
// socket, refresh interval 4 scrapes. The first scrape dumps every namespace. Queues filled
// after it are reported, equal to `ss -m`, at the next scrape, from exact lookups of the
// known sockets (sock_diag requests, no dump). No socket is created or closed, so each
// namespace's socket counts (/proc/<pid>/net/sockstat{,6}) stay those of its dump, and at the
// end of its refresh period its read is put off (once each over the interval) rather than
// done. Then half of the pods open a socket with data in it: over the next interval each of
// their namespaces is dumped once, at its period's end, after which the new socket counts,
// equal to ss; the other half are put off again. The netlink connection of a namespace not
// read is kept for its lookups and its next read.
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
	dumps, putOff := 0, 0
	for s := 1; s <= k; s++ {
		clock = clock.Add(step)
		got, st := collect()
		t.Logf("scrape %d: %+v", s, st)
		if st.Namespaces+st.Cached != pods {
			t.Errorf("scrape %d: %+v, want %d namespaces dumped or cached", s, st, pods)
		}
		dumps += st.Namespaces
		putOff += st.PutOff
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
	if dumps != 0 || putOff != pods {
		t.Errorf("over one interval of %d scrapes with no socket created or closed: %d namespace dumps and %d reads put off, want 0 and each of the %d once", k, dumps, putOff, pods)
	}

	// Half of the pods open a socket: their counts change, so each of their namespaces is
	// read at its period's end; until then the new socket is not known.
	opened := map[string]bool{}
	for i := range cs {
		if i%2 != 0 {
			continue
		}
		lc := &cs[i]
		if _, err := io.WriteString(lc.h.stdin, "open 3\n"); err != nil {
			t.Fatal(err)
		}
		line, err := readLine(lc.h.stdout, 30*time.Second)
		var ino uint64
		if _, scanErr := fmt.Sscanf(line, "opened inode=%d", &ino); err != nil || scanErr != nil {
			t.Fatalf("%s helper: %q, %v", lc.key, line, err)
		}
		lc.h.inodes = append(lc.h.inodes, ino)
		opened[lc.key] = true
	}
	ssOpened := e.ssSnapshot(nss...)
	dumps, putOff = 0, 0
	for s := 1; s <= k; s++ {
		clock = clock.Add(step)
		got, st := collect()
		t.Logf("after the new sockets, scrape %d: %+v", s, st)
		dumps += st.Namespaces
		putOff += st.PutOff
		for _, lc := range cs {
			u := got[lc.key]
			if now := ssUsage(ssOpened, lc.h.inodes, SourceSockDiag); !sameAsSS(u, now) && (!opened[lc.key] || !sameAsSS(u, ssUsage(ssFilled, lc.h.inodes[:2], SourceSockDiag))) {
				t.Errorf("scrape %d: %s = %+v, neither what ss says now %+v nor, before its namespace's read, what it said before the new socket", s, lc.key, u, now)
			}
		}
	}
	if dumps != len(opened) || putOff != pods-len(opened) {
		t.Errorf("over the next interval: %d namespace dumps and %d reads put off, want %d (the namespaces with a new socket) and %d", dumps, putOff, len(opened), pods-len(opened))
	}
	clock = clock.Add(step)
	got, _ := collect()
	for _, lc := range cs {
		if want := ssUsage(ssOpened, lc.h.inodes, SourceSockDiag); !sameAsSS(got[lc.key], want) {
			t.Errorf("after an interval: %s = %+v, want what ss says %+v", lc.key, got[lc.key], want)
		}
	}
	if after := e.ssSnapshot(nss...); !sameSockets(ssOpened, after, cs) {
		t.Error("queues changed during the test")
	}
}
