package sockets

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
)

// diagMsg builds a SOCK_DIAG_BY_FAMILY reply as the kernel lays it out.
func diagMsg(family, state uint8, local netip.AddrPort, rqueue, inode uint32, mem []uint32) []byte {
	b := make([]byte, inetDiagMsgLen)
	b[0], b[1] = family, state
	binary.BigEndian.PutUint16(b[4:6], local.Port())
	a := local.Addr().AsSlice()
	copy(b[8:24], a)
	binary.NativeEndian.PutUint32(b[56:60], rqueue)
	binary.NativeEndian.PutUint32(b[68:72], inode)
	attrs := []netlink.Attribute{{Type: 1, Data: []byte{0, 0, 0, 0}}} // INET_DIAG_MEMINFO, ignored
	if mem != nil {
		raw := make([]byte, 4*len(mem))
		for i, v := range mem {
			binary.NativeEndian.PutUint32(raw[i*4:], v)
		}
		attrs = append(attrs, netlink.Attribute{Type: inetDiagSKMemInfo, Data: raw})
	}
	ab, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		panic(err)
	}
	return append(b, ab...)
}

func TestDiagQueryRequest(t *testing.T) {
	tests := []struct {
		name      string
		q         diagQuery
		wantLen   int
		head      []byte // family/protocol/ext/pad or family/src_len/dst_len/ext
		statesOff int
	}{
		{"udp6 by family", udpByFamily[1], inetDiagReqV2Len, []byte{afInet6, ipprotoUDP, 0x40, 0}, 4},
		{"tcp4 by family", tcpByFamily[0], inetDiagReqV2Len, []byte{afInet, ipprotoTCP, 0x40, 0}, 4},
		{"tcp legacy, both families", tcpBothFamilies, inetDiagReqLen, []byte{0, 0, 0, 0x40}, 52},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.q.request()
			if len(b) != tt.wantLen {
				t.Fatalf("len %d, want %d", len(b), tt.wantLen)
			}
			if !bytes.Equal(b[:4], tt.head) {
				t.Errorf("head % x, want % x", b[:4], tt.head)
			}
			states := binary.NativeEndian.Uint32(b[tt.statesOff:])
			// ESTABLISHED, SYN_RECV (a connection not accepted yet), CLOSE_WAIT, CLOSE (UDP).
			for _, st := range []uint{1, 3, 7, 8} {
				if states&(1<<st) == 0 {
					t.Errorf("states %#x leave out state %d", states, st)
				}
			}
			if states&(1<<tcpTimeWait) != 0 || states&(1<<tcpNewSynRecv) != 0 {
				t.Errorf("states %#x ask for TIME_WAIT or NEW_SYN_RECV (no inode)", states)
			}
			if states&(1<<tcpListen) != 0 {
				t.Errorf("states %#x ask for LISTEN: its queue is always empty, and it costs the walk of the listening hash", states)
			}
		})
	}
}

func TestDecodeInetDiagMsg(t *testing.T) {
	v4 := netip.MustParseAddrPort("127.0.0.1:33467")
	v6 := netip.MustParseAddrPort("[::1]:8080")
	mem := []uint32{48304, 131072, 0, 3939840, 848, 0, 0, 0, 0}
	badFamily := diagMsg(afInet, 1, v4, 0, 1, nil)
	badFamily[0] = 99
	tests := []struct {
		name    string
		input   []byte
		want    inetDiagMsg
		wantErr error
	}{
		{
			name:  "tcp4 with skmeminfo",
			input: diagMsg(afInet, 1, v4, 30000, 62958, mem),
			want:  inetDiagMsg{Family: afInet, State: 1, Local: v4, RQueue: 30000, Inode: 62958, MemInfo: mem},
		},
		{
			name:  "tcp6 without skmeminfo",
			input: diagMsg(afInet6, tcpListen, v6, 3, 777, nil),
			want:  inetDiagMsg{Family: afInet6, State: tcpListen, Local: v6, RQueue: 3, Inode: 777},
		},
		{
			name:  "short skmeminfo of a future or past kernel",
			input: diagMsg(afInet, 7, v4, 0, 5, []uint32{832}),
			want:  inetDiagMsg{Family: afInet, State: 7, Local: v4, Inode: 5, MemInfo: []uint32{832}},
		},
		{name: "empty", input: nil, wantErr: ErrMalformed},
		{name: "short header", input: make([]byte, 71), wantErr: ErrMalformed},
		{name: "unknown family", input: badFamily, wantErr: ErrMalformed},
		{name: "truncated attribute", input: append(diagMsg(afInet, 1, v4, 0, 1, nil), 8, 0), wantErr: ErrMalformed},
		{name: "attribute longer than message", input: append(diagMsg(afInet, 1, v4, 0, 1, nil), 64, 0, 7, 0), wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeInetDiagMsg(tt.input)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestDiagQueue checks the conversion to Usage meanings for each protocol and state.
func TestDiagQueue(t *testing.T) {
	tests := []struct {
		name     string
		msg      inetDiagMsg
		protocol uint8
		proto    string
		rcvq     uint64
		payload  uint64
	}{
		{"tcp established", inetDiagMsg{Family: afInet, State: 1, RQueue: 30000, MemInfo: []uint32{48304}}, ipprotoTCP, "tcp", 48304, 30000},
		{"tcp listen backlog is a count", inetDiagMsg{Family: afInet6, State: tcpListen, RQueue: 4, MemInfo: []uint32{0}}, ipprotoTCP, "tcp6", 0, 0},
		{"udp rqueue is memory", inetDiagMsg{Family: afInet, State: 7, RQueue: 1664000, MemInfo: []uint32{1664000}}, ipprotoUDP, "udp", 1664000, 0},
		{"tcp without skmeminfo", inetDiagMsg{Family: afInet, State: 1, RQueue: 100}, ipprotoTCP, "tcp", 100, 100},
		{"udp without skmeminfo", inetDiagMsg{Family: afInet6, State: 7, RQueue: 832}, ipprotoUDP, "udp6", 832, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := diagQueue(tt.msg, tt.protocol)
			if q.rcvq != tt.rcvq || q.payload != tt.payload || q.source != SourceSockDiag || q.proto != tt.proto {
				t.Errorf("got %+v, want %s rcvq %d payload %d", q, tt.proto, tt.rcvq, tt.payload)
			}
		})
	}
}

func FuzzDecodeInetDiagMsg(f *testing.F) {
	f.Add(diagMsg(afInet, 1, netip.MustParseAddrPort("127.0.0.1:1"), 10, 42, []uint32{1, 2, 3, 4, 5, 6, 7, 8, 9}))
	f.Add(diagMsg(afInet6, tcpListen, netip.MustParseAddrPort("[::1]:2"), 0, 43, nil))
	f.Add(make([]byte, inetDiagMsgLen+3))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeInetDiagMsg(b)
		ino, ok := inetDiagMsgInode(b)
		if ok != (len(b) >= inetDiagMsgLen) {
			t.Fatalf("inetDiagMsgInode ok = %v for %d bytes", ok, len(b))
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if uint64(m.Inode) != ino || !m.Local.IsValid() {
			t.Fatalf("decoded %+v, inode peek %d", m, ino)
		}
		_ = diagQueue(m, ipprotoTCP)
	})
}
