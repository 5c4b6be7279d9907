package sockets

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
)

// Kernel constants from linux/sock_diag.h, linux/inet_diag.h and linux/netlink.h, spelled
// out so that the encoding can be tested on any platform.
const (
	sockDiagByFamily   = 20 // SOCK_DIAG_BY_FAMILY
	tcpDiagGetSock     = 18 // TCPDIAG_GETSOCK: legacy request, dumps both families at once
	afInet             = 2  // AF_INET
	afInet6            = 10 // AF_INET6
	ipprotoTCP         = 6  // IPPROTO_TCP
	ipprotoUDP         = 17 // IPPROTO_UDP
	inetDiagSKMemInfo  = 7  // INET_DIAG_SKMEMINFO
	inetDiagCgroupID   = 21 // INET_DIAG_CGROUP_ID (Linux 5.7): u64, sent with every socket
	inetDiagReqV2Len   = 56 // sizeof(struct inet_diag_req_v2)
	inetDiagReqLen     = 60 // sizeof(struct inet_diag_req), the legacy request
	inetDiagMsgLen     = 72 // sizeof(struct inet_diag_msg)
	tcpTimeWait        = 6  // TCP_TIME_WAIT: inode 0, no queue
	tcpNewSynRecv      = 12 // TCP_NEW_SYN_RECV: request socks, inode 0
	skMemInfoRmemAlloc = 0  // SK_MEMINFO_RMEM_ALLOC, index in the u32 array
	// dumpStates are the TCP states a dump asks for: all but those without an inode
	// (TIME_WAIT, NEW_SYN_RECV) and LISTEN. A listener's own receive queue is always empty
	// (ss -m shows r0 whatever its backlog): what its clients sent before being accepted
	// waits in the connections' own sockets, which have no inode until accepted and are
	// not counted (no fd holds them either). Leaving LISTEN out spares the kernel its walk
	// of the host-wide listening hash (lhash2: about 0.9 ms of the 3.2 ms a pod's TCP dump
	// costs on this 24 GiB host) and the scrapes in between one lookup per listener. UDP
	// sockets are never in LISTEN.
	dumpStates   = ^uint32(1<<tcpTimeWait | 1<<tcpNewSynRecv | 1<<tcpListen)
	skMemInfoExt = 1 << (inetDiagSKMemInfo - 1) // idiag_ext bit asking for SKMEMINFO
)

// unacceptedState reports whether a TCP socket without an inode in this state is a
// connection waiting in a listener's accept queue (ESTABLISHED, SYN_RECV, CLOSE_WAIT when the
// client closed first) rather than an orphan that its process closed (FIN_WAIT1/2, CLOSING,
// LAST_ACK, CLOSE).
func unacceptedState(state uint8) bool { return state == 1 || state == 3 || state == 8 }

// diagQuery is one dump: the request type, an address family and a protocol.
type diagQuery struct {
	msgType  uint16
	family   uint8
	protocol uint8
}

var (
	// tcpBothFamilies walks the kernel's TCP hash tables once for IPv4 and IPv6. The tables
	// are host-wide (262,144 established buckets on an 24 GiB host), so each walk costs
	// ~0.3 ms even in an empty namespace: this halves the TCP cost per namespace.
	tcpBothFamilies = diagQuery{tcpDiagGetSock, 0, ipprotoTCP}
	// tcpByFamily replaces tcpBothFamilies where the legacy request is refused.
	tcpByFamily = []diagQuery{{sockDiagByFamily, afInet, ipprotoTCP}, {sockDiagByFamily, afInet6, ipprotoTCP}}
	// udpByFamily are the UDP dumps (UDP has no legacy request).
	udpByFamily = []diagQuery{{sockDiagByFamily, afInet, ipprotoUDP}, {sockDiagByFamily, afInet6, ipprotoUDP}}
)

// String names the dump in errors.
func (q diagQuery) String() string {
	if q.msgType == tcpDiagGetSock {
		return "tcp and tcp6"
	}
	return protoName(q.protocol, q.family)
}

// request encodes the request body for q, asking for every socket in dumpStates and its
// INET_DIAG_SKMEMINFO. struct inet_diag_req_v2 (SOCK_DIAG_BY_FAMILY):
//
//	u8 sdiag_family, u8 sdiag_protocol, u8 idiag_ext, u8 pad, u32 idiag_states,
//	struct inet_diag_sockid id (48 bytes, zero: no filter)
//
// struct inet_diag_req (TCPDIAG_GETSOCK; the family is ignored, both are dumped):
//
//	u8 idiag_family, u8 idiag_src_len, u8 idiag_dst_len, u8 idiag_ext,
//	struct inet_diag_sockid id (48 bytes), u32 idiag_states, u32 idiag_dbs
func (q diagQuery) request() []byte {
	if q.msgType == tcpDiagGetSock {
		b := make([]byte, inetDiagReqLen)
		b[3] = skMemInfoExt
		binary.NativeEndian.PutUint32(b[52:56], dumpStates)
		return b
	}
	b := make([]byte, inetDiagReqV2Len)
	b[0] = q.family
	b[1] = q.protocol
	b[2] = skMemInfoExt
	binary.NativeEndian.PutUint32(b[4:8], dumpStates)
	return b
}

// inetDiagMsg is the part of struct inet_diag_msg and its attributes that is used here.
type inetDiagMsg struct {
	Family   uint8
	State    uint8
	Local    netip.AddrPort
	RQueue   uint32
	Inode    uint32
	MemInfo  []uint32 // INET_DIAG_SKMEMINFO, nil when absent
	CgroupID uint64   // INET_DIAG_CGROUP_ID, 0 when absent
}

// decodeInetDiagMsg decodes one SOCK_DIAG_BY_FAMILY reply. struct inet_diag_msg (72 bytes):
//
//	0 u8 family, 1 u8 state, 2 u8 timer, 3 u8 retrans,
//	4 be16 sport, 6 be16 dport, 8 be32 src[4], 24 be32 dst[4], 40 u32 if, 44 u32 cookie[2],
//	52 u32 expires, 56 u32 rqueue, 60 u32 wqueue, 64 u32 uid, 68 u32 inode
//
// followed by rtattrs; INET_DIAG_SKMEMINFO is a u32 array read by its length.
func decodeInetDiagMsg(b []byte) (inetDiagMsg, error) {
	if len(b) < inetDiagMsgLen {
		return inetDiagMsg{}, fmt.Errorf("%w: inet_diag_msg: %d bytes, want %d", ErrMalformed, len(b), inetDiagMsgLen)
	}
	m := inetDiagMsg{
		Family: b[0],
		State:  b[1],
		RQueue: binary.NativeEndian.Uint32(b[56:60]),
		Inode:  binary.NativeEndian.Uint32(b[68:72]),
	}
	port := binary.BigEndian.Uint16(b[4:6])
	switch m.Family {
	case afInet:
		m.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[8:12])), port)
	case afInet6:
		m.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), port)
	default:
		return inetDiagMsg{}, fmt.Errorf("%w: inet_diag_msg: family %d", ErrMalformed, m.Family)
	}
	mem, err := decodeSKMemInfo(b[inetDiagMsgLen:])
	if err != nil {
		return inetDiagMsg{}, err
	}
	m.MemInfo = mem
	m.CgroupID = inetDiagMsgCgroupID(b)
	return m, nil
}

// inetDiagMsgCgroupID returns a reply's INET_DIAG_CGROUP_ID, or 0 when it has none (kernels
// before 5.7, or built without CONFIG_SOCK_CGROUP_DATA), without allocating: it is looked at
// for every socket of a namespace, whoever holds it. Malformed attributes give 0 here; the
// full decode of a kept socket reports them.
func inetDiagMsgCgroupID(b []byte) uint64 {
	if len(b) < inetDiagMsgLen {
		return 0
	}
	for attrs := b[inetDiagMsgLen:]; len(attrs) > 0; {
		typ, data, rest, err := nextAttr(attrs)
		if err != nil {
			return 0
		}
		if typ == inetDiagCgroupID && len(data) == 8 {
			return binary.NativeEndian.Uint64(data)
		}
		attrs = rest
	}
	return 0
}

// inetDiagMsgInode returns idiag_inode of a reply without decoding the rest, so that the
// sockets of other containers cost no more than this look.
func inetDiagMsgInode(b []byte) (uint64, bool) {
	if len(b) < inetDiagMsgLen {
		return 0, false
	}
	return uint64(binary.NativeEndian.Uint32(b[68:72])), true
}

// decodeSKMemInfo finds INET_DIAG_SKMEMINFO among the attributes: u32 rmem_alloc, rcvbuf,
// wmem_alloc, sndbuf, fwd_alloc, wmem_queued, optmem, backlog, drops (newer kernels may add
// more). The attributes are walked in place: one allocation, the array.
func decodeSKMemInfo(attrs []byte) ([]uint32, error) {
	var mem []uint32
	for len(attrs) > 0 {
		typ, data, rest, err := nextAttr(attrs)
		if err != nil {
			return nil, fmt.Errorf("%w: inet_diag attributes: %w", ErrMalformed, err)
		}
		attrs = rest
		if typ != inetDiagSKMemInfo {
			continue
		}
		mem = make([]uint32, len(data)/4)
		for i := range mem {
			mem[i] = binary.NativeEndian.Uint32(data[i*4:])
		}
	}
	return mem, nil
}

// nextAttr splits the first netlink attribute (struct nlattr: u16 len, u16 type, payload
// padded to 4 bytes) off b.
func nextAttr(b []byte) (typ uint16, data, rest []byte, err error) {
	if len(b) < 4 {
		return 0, nil, nil, fmt.Errorf("%d bytes left, too short for an attribute header", len(b))
	}
	l := int(binary.NativeEndian.Uint16(b[0:2]))
	if l < 4 || l > len(b) {
		return 0, nil, nil, fmt.Errorf("attribute length %d with %d bytes left", l, len(b))
	}
	typ = binary.NativeEndian.Uint16(b[2:4]) & 0x3fff // without NLA_F_NESTED, NLA_F_NET_BYTEORDER
	next := min((l+3)&^3, len(b))
	return typ, b[4:l], b[next:], nil
}

// diagQueue converts a reply to a query for protocol. rcvq is rmem_alloc (truesize). TCP
// payload is rqueue (bytes received and not read) except for LISTEN, where rqueue is the
// accept backlog. UDP rqueue is memory, not payload, so UDP payload stays unknown (0).
// Without SKMEMINFO (never seen on kernels since 3.6) rcvq falls back to rqueue as in
// /proc/net.
func diagQueue(m inetDiagMsg, protocol uint8) sockQueue {
	q := sockQueue{proto: protoName(protocol, m.Family), local: m.Local, inode: uint64(m.Inode), source: SourceSockDiag, cgroupID: m.CgroupID}
	isTCP := protocol == ipprotoTCP
	if isTCP && m.State != tcpListen {
		q.payload = uint64(m.RQueue)
	}
	switch {
	case len(m.MemInfo) > skMemInfoRmemAlloc:
		q.rcvq = uint64(m.MemInfo[skMemInfoRmemAlloc])
	case isTCP:
		q.rcvq = q.payload
	default:
		q.rcvq = uint64(m.RQueue)
	}
	return q
}

// protoName names a socket as /proc/net does: "tcp", "tcp6", "udp", "udp6".
func protoName(protocol, family uint8) string {
	name := "udp"
	if protocol == ipprotoTCP {
		name = "tcp"
	}
	if family == afInet6 {
		name += "6"
	}
	return name
}

// diagSockID is what an exact sock_diag request needs to find one socket again: its family,
// protocol and struct inet_diag_sockid (ports, addresses, interface, cookie) as a dump
// reported it. The zero value is no socket.
type diagSockID struct {
	family   uint8
	protocol uint8
	id       [48]byte // struct inet_diag_sockid, in the reply's orientation (src is local)
}

// inetDiagMsgSockID is the identity of a dump reply to a query for protocol.
func inetDiagMsgSockID(b []byte, protocol uint8) (diagSockID, bool) {
	if len(b) < inetDiagMsgLen || (b[0] != afInet && b[0] != afInet6) {
		return diagSockID{}, false
	}
	return diagSockID{family: b[0], protocol: protocol, id: [48]byte(b[4:52])}, true
}

// appendExactRequest appends to buf the SOCK_DIAG_BY_FAMILY request (struct inet_diag_req_v2, no dump
// flag) that asks the kernel for this one socket with its INET_DIAG_SKMEMINFO: a lookup in
// the socket hash tables (inet_diag_find_one_icsk for TCP, udp_dump_one for UDP), then the
// cookie check, instead of a walk of the tables. udp_dump_one passes the request's src as the
// packet's source, that is the socket's remote end ("src and dst are swapped for historical
// reasons", net/ipv4/udp_diag.c), so for UDP the two ends are swapped here; TCP takes them
// as a dump reports them. Appending into the batch's buffer keeps a lookup free of
// allocations: the lookups run for every known socket at every scrape.
func (s diagSockID) appendExactRequest(buf []byte) []byte {
	buf = slices.Grow(buf, inetDiagReqV2Len)
	b := buf[len(buf) : len(buf)+inetDiagReqV2Len]
	clear(b)
	b[0] = s.family
	b[1] = s.protocol
	b[2] = skMemInfoExt
	binary.NativeEndian.PutUint32(b[4:8], dumpStates)
	id := b[8:56]
	copy(id, s.id[:])
	if s.protocol == ipprotoUDP {
		// sport <-> dport, src[16] <-> dst[16]; the interface and cookie stay.
		copy(id[0:2], s.id[2:4])
		copy(id[2:4], s.id[0:2])
		copy(id[4:20], s.id[20:36])
		copy(id[20:36], s.id[4:20])
	}
	return buf[:len(buf)+inetDiagReqV2Len]
}
