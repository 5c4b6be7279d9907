package sockets

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// procNetEntry is one socket line of /proc/<pid>/net/{tcp,tcp6,udp,udp6}.
type procNetEntry struct {
	Local   netip.AddrPort
	State   uint8
	RxQueue uint64
	Inode   uint64
}

// parseProcNetTCP parses /proc/<pid>/net/tcp or tcp6. Line format (whitespace separated):
//
//	sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
//	 3: 0100007F:82BB 0100007F:DC36 01 00000000:00007530 00:00000000 00000000     0        0 62958 ...
//
// rx_queue is the unread payload in bytes, except for LISTEN (st 0A) where it is the accept
// backlog, a count of connections.
func parseProcNetTCP(r io.Reader) ([]procNetEntry, error) {
	return parseProcNetTable(r, "tcp")
}

// parseProcNetUDP parses /proc/<pid>/net/udp or udp6; the format is that of tcp with
// "ref pointer drops" appended. rx_queue is the receive-queue memory in truesize bytes
// (sk_rmem_alloc), not payload.
func parseProcNetUDP(r io.Reader) ([]procNetEntry, error) {
	return parseProcNetTable(r, "udp")
}

// parseProcNetTable parses the table shared by the tcp and udp files; the header line (first
// field "sl") is skipped.
func parseProcNetTable(r io.Reader, file string) ([]procNetEntry, error) {
	var out []procNetEntry
	s := bufio.NewScanner(r)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) == 0 || fields[0] == "sl" {
			continue
		}
		e, err := parseProcNetLine(fields)
		if err != nil {
			return nil, fmt.Errorf("%s: line %q: %w", file, s.Text(), err)
		}
		out = append(out, e)
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return out, nil
}

// parseProcNetLine parses the fields of one socket line: local address (1), state (3),
// tx_queue:rx_queue (4) and inode (9).
func parseProcNetLine(fields []string) (procNetEntry, error) {
	if len(fields) < 10 {
		return procNetEntry{}, fmt.Errorf("%w: %d fields, want at least 10", ErrMalformed, len(fields))
	}
	local, err := parseProcNetAddr(fields[1])
	if err != nil {
		return procNetEntry{}, err
	}
	st, err := strconv.ParseUint(fields[3], 16, 8)
	if err != nil {
		return procNetEntry{}, fmt.Errorf("%w: st: %q", ErrMalformed, fields[3])
	}
	_, rx, ok := strings.Cut(fields[4], ":")
	if !ok {
		return procNetEntry{}, fmt.Errorf("%w: tx_queue:rx_queue: %q", ErrMalformed, fields[4])
	}
	rxq, err := strconv.ParseUint(rx, 16, 64)
	if err != nil {
		return procNetEntry{}, fmt.Errorf("%w: rx_queue: %q", ErrMalformed, rx)
	}
	inode, err := strconv.ParseUint(fields[9], 10, 64)
	if err != nil {
		return procNetEntry{}, fmt.Errorf("%w: inode: %q", ErrMalformed, fields[9])
	}
	return procNetEntry{Local: local, State: uint8(st), RxQueue: rxq, Inode: inode}, nil
}

// parseProcNetAddr parses "0100007F:82BB": the address is printed as 1 (IPv4) or 4 (IPv6)
// 32-bit words in host byte order, the port in hex.
func parseProcNetAddr(s string) (netip.AddrPort, error) {
	hexAddr, hexPort, ok := strings.Cut(s, ":")
	if !ok || (len(hexAddr) != 8 && len(hexAddr) != 32) {
		return netip.AddrPort{}, fmt.Errorf("%w: address: %q", ErrMalformed, s)
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: port: %q", ErrMalformed, s)
	}
	var b [16]byte
	for i := 0; i < len(hexAddr)/8; i++ {
		w, err := strconv.ParseUint(hexAddr[i*8:i*8+8], 16, 32)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("%w: address: %q", ErrMalformed, s)
		}
		binary.NativeEndian.PutUint32(b[i*4:], uint32(w))
	}
	addr := netip.AddrFrom16(b)
	if len(hexAddr) == 8 {
		addr = netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// tcpQueue converts a tcp line. TCP truesize is not in the file: rcvq is the unread payload,
// a lower bound of it. LISTEN backlogs are counts, not bytes, and are left out.
func tcpQueue(e procNetEntry, proto string) sockQueue {
	q := sockQueue{proto: proto, local: e.Local, inode: e.Inode, source: SourceProcNet}
	if e.State != tcpListen {
		q.rcvq, q.payload = e.RxQueue, e.RxQueue
	}
	return q
}

// udpQueue converts a udp line: rx_queue is already sk_rmem_alloc (truesize); the payload is
// unknown.
func udpQueue(e procNetEntry, proto string) sockQueue {
	return sockQueue{proto: proto, local: e.Local, inode: e.Inode, rcvq: e.RxQueue, source: SourceProcNet}
}
