//go:build linux

package sockets

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

// fakeDiagKernel answers sock_diag dumps from a list of sockets, like the kernel: one reply
// per socket of the requested protocol (and family, except for the legacy TCP request),
// multipart, ending with NLMSG_DONE.
type fakeDiagKernel struct {
	refuseLegacy bool
	malformed    uint32 // inode whose reply has a broken attribute
	requests     []netlink.HeaderType
	extra        []fakeSock // answered after fakeSocks
	onDump       func()     // called at each request
}

type fakeSock struct {
	protocol, family, state uint8
	local                   string
	rqueue, inode, rmem     uint32
}

var fakeSocks = []fakeSock{
	{ipprotoTCP, afInet, 1, "127.0.0.1:80", 30000, 100, 48304},
	{ipprotoTCP, afInet6, tcpListen, "[::1]:80", 3, 101, 0},
	{ipprotoUDP, afInet, 7, "127.0.0.1:53", 1664000, 102, 1664000},
	{ipprotoUDP, afInet6, 7, "[::1]:53", 832, 103, 832},
	{ipprotoTCP, afInet, 1, "127.0.0.1:81", 5, 999, 768}, // another container's
}

func (k *fakeDiagKernel) answer(reqs []netlink.Message) ([]netlink.Message, error) {
	req := reqs[0]
	k.requests = append(k.requests, req.Header.Type)
	if k.onDump != nil {
		k.onDump()
	}
	var protocol, family uint8
	switch req.Header.Type {
	case tcpDiagGetSock:
		if k.refuseLegacy { // NLMSG_ERROR: -EINVAL and the request's header
			errno := -int32(unix.EINVAL)
			data := binary.NativeEndian.AppendUint32(nil, uint32(errno))
			data = append(data, make([]byte, 16)...)
			return []netlink.Message{{Header: netlink.Header{Type: netlink.Error, Sequence: req.Header.Sequence}, Data: data}}, nil
		}
		protocol = ipprotoTCP
	case sockDiagByFamily:
		family, protocol = req.Data[0], req.Data[1]
	}
	var out []netlink.Message
	for _, s := range append(fakeSocks[:len(fakeSocks):len(fakeSocks)], k.extra...) {
		if s.protocol != protocol || (family != 0 && s.family != family) {
			continue
		}
		data := diagMsg(s.family, s.state, netip.MustParseAddrPort(s.local), s.rqueue, s.inode, []uint32{s.rmem, 0, 0})
		if s.inode == k.malformed {
			data = append(data, 9, 0)
		}
		out = append(out, netlink.Message{Header: netlink.Header{Type: req.Header.Type, Sequence: req.Header.Sequence}, Data: data})
	}
	out = append(out, netlink.Message{Header: netlink.Header{Sequence: req.Header.Sequence}})
	return nltest.Multipart(out)
}

func TestDiagDumperDump(t *testing.T) {
	want := inodeSet{100: {}, 101: {}, 102: {}, 103: {}}
	wantQueues := map[uint64][2]uint64{100: {48304, 30000}, 101: {0, 0}, 102: {1664000, 0}, 103: {832, 0}}
	tests := []struct {
		name         string
		refuseLegacy bool
		wantRequests []netlink.HeaderType // of the first and the second dump
	}{
		{"legacy tcp request", false, []netlink.HeaderType{18, 20, 20, 18, 20, 20}},
		{"legacy refused: tcp by family, and not asked again", true, []netlink.HeaderType{18, 20, 20, 20, 20, 20, 20, 20, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &fakeDiagKernel{refuseLegacy: tt.refuseLegacy}
			d := &diagDumper{conns: map[uint64]*keptConn{0: {c: nltest.Dial(k.answer)}}}
			defer d.close()
			for range 2 {
				got, err := d.dump(context.Background(), "", 0, true, want.keep)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(wantQueues) {
					t.Errorf("got %d sockets, want %d: %+v", len(got), len(wantQueues), got)
				}
				for ino, w := range wantQueues {
					if q := got[ino]; q.rcvq != w[0] || q.payload != w[1] || q.source != SourceSockDiag {
						t.Errorf("inode %d: %+v, want rcvq %d payload %d", ino, q, w[0], w[1])
					}
				}
			}
			if len(k.requests) != len(tt.wantRequests) {
				t.Fatalf("requests %v, want %v", k.requests, tt.wantRequests)
			}
			for i := range k.requests {
				if k.requests[i] != tt.wantRequests[i] {
					t.Fatalf("requests %v, want %v", k.requests, tt.wantRequests)
				}
			}
		})
	}
}

func TestDiagDumperMalformedReply(t *testing.T) {
	tests := []struct {
		name      string
		malformed uint32 // a reply with a broken attribute
		other     uint64 // a wanted socket whose reply is fine
	}{
		{"udp", 102, 100},
		{"tcp, legacy request", 100, 102},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &fakeDiagKernel{malformed: tt.malformed}
			d := &diagDumper{conns: map[uint64]*keptConn{0: {c: nltest.Dial(k.answer)}}}
			defer d.close()
			// A broken reply for another container's socket is not even decoded.
			if _, err := d.dump(context.Background(), "", 0, true, inodeSet{tt.other: {}}.keep); err != nil {
				t.Fatal(err)
			}
			_, err := d.dump(context.Background(), "", 0, true, inodeSet{uint64(tt.malformed): {}}.keep)
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error = %v, want ErrMalformed", err)
			}
			if d.conns[0] != nil {
				t.Error("a connection that failed is kept")
			}
			if d.noLegacyTCP {
				t.Error("a malformed reply is taken for a refusal of TCPDIAG_GETSOCK")
			}
		})
	}
}

// TestDiagDumperCountsAroundADump: a dump reads the namespace's sockstat files before and
// after; the counts vouch for the namespace (dumpedCounts ok) only when they did not change
// during the dump and no connection waiting to be accepted (no inode yet) was seen; an
// orphan closing (no inode either) does not matter. Without the files, or when the pid
// became another namespace's before they were opened, the counts are unknown.
func TestDiagDumperCountsAroundADump(t *testing.T) {
	dir := t.TempDir()
	stat := filepath.Join(dir, "sockstat")
	write := func(tcp int) {
		if err := os.WriteFile(stat, fmt.Appendf(nil, "sockets: used 9\nTCP: inuse %d orphan 0 tw 0 alloc 4 mem 1\nUDP: inuse 2 mem 1\n", tcp), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(4)
	want := inodeSet{100: {}, 101: {}, 102: {}, 103: {}}
	k := &fakeDiagKernel{}
	kc := &keptConn{c: nltest.Dial(k.answer)}
	kc.openCounts(dir, "", 0) // no sockstat6 here: IPv6 off
	d := &diagDumper{conns: map[uint64]*keptConn{0: kc}}
	defer d.close()
	dump := func() (sockCounts, bool) {
		t.Helper()
		if _, err := d.dump(context.Background(), "", 0, true, want.keep); err != nil {
			t.Fatal(err)
		}
		return d.dumpedCounts(0)
	}
	if got, ok := dump(); !ok || got != (sockCounts{4, 2}) {
		t.Errorf("quiet dump: counts %+v, %v; want {4 2}, true", got, ok)
	}
	if got, err := d.countsNow(0); err != nil || got != (sockCounts{4, 2}) {
		t.Errorf("countsNow: %+v, %v", got, err)
	}
	k.extra = []fakeSock{{ipprotoTCP, afInet, 4, "127.0.0.1:82", 0, 0, 0}} // FIN_WAIT1, closed by its process
	if _, ok := dump(); !ok {
		t.Error("an orphan closing made the counts unusable")
	}
	k.extra = []fakeSock{{ipprotoTCP, afInet, 1, "127.0.0.1:82", 10, 0, 2304}} // ESTABLISHED, not accepted yet
	if _, ok := dump(); ok {
		t.Error("a connection not accepted yet: its accept() gives it an inode without the counts changing, yet the counts were used")
	}
	k.extra = nil
	tcp := 4
	k.onDump = func() { tcp++; write(tcp) } // a socket created during the dump
	if _, ok := dump(); ok {
		t.Error("counts that changed during the dump were used")
	}
	k.onDump = nil
	if got, ok := dump(); !ok || got.tcp != uint64(tcp) {
		t.Errorf("quiet dump again: %+v, %v; want tcp %d", got, ok, tcp)
	}

	none := &keptConn{c: nltest.Dial(k.answer)}
	defer none.close()
	none.openCounts(filepath.Join(dir, "missing"), "", 0)
	if _, err := none.counts(); !errors.Is(err, errNoCounts) {
		t.Errorf("without sockstat: %v, want errNoCounts", err)
	}
	var st unix.Stat_t
	if err := unix.Stat(stat, &st); err != nil {
		t.Fatal(err)
	}
	reused := &keptConn{c: nltest.Dial(k.answer)}
	defer reused.close()
	reused.openCounts(dir, stat, st.Ino+1) // nsPath is not namespace ns any more
	if _, err := reused.counts(); !errors.Is(err, errNoCounts) {
		t.Errorf("pid of another namespace by now: %v, want errNoCounts", err)
	}
}
