package sockets

import (
	"bytes"
	"fmt"
	"math"

	"github.com/cgroupmem/cgroupmem/internal/lines"
)

// sockCounts are the TCP and UDP sockets in use in a network namespace, IPv4 and IPv6
// together, as /proc/<pid>/net/sockstat and sockstat6 count them: the "inuse" of the kernel's
// per-namespace protocol counters (sock_prot_inuse_get), which count a socket while it is
// hashed (a listener, a connection accepted or not, an orphan closing; not a TIME_WAIT or
// request sock, not a socket never bound). A socket created or closed changes them.
type sockCounts struct {
	tcp, udp uint64
}

// parseSockstat reads the "inuse" of the lines labelled tcp and udp ("TCP" and "UDP" in
// sockstat, "TCP6" and "UDP6" in sockstat6):
//
//	sockets: used 290
//	TCP: inuse 5 orphan 0 tw 0 alloc 7 mem 1
//	UDP: inuse 2 mem 1
//
// Other lines are skipped; each of the two must be there once, with an inuse of the
// kernel's form.
func parseSockstat(b []byte, tcp, udp string) (sockCounts, error) {
	var c sockCounts
	var seen uint8
	for len(b) > 0 {
		var line []byte
		line, b = lines.Next(b)
		label, rest, ok := bytes.Cut(line, []byte(": "))
		if !ok {
			continue
		}
		var dst *uint64
		var bit uint8
		switch string(label) {
		case tcp:
			dst, bit = &c.tcp, 1
		case udp:
			dst, bit = &c.udp, 2
		default:
			continue
		}
		if seen&bit != 0 {
			return sockCounts{}, fmt.Errorf("%w: sockstat: a second %s line %q", ErrMalformed, label, line)
		}
		v, err := inuse(rest)
		if err != nil {
			return sockCounts{}, fmt.Errorf("%w: sockstat line %q: %w", ErrMalformed, line, err)
		}
		*dst, seen = v, seen|bit
	}
	if seen != 3 {
		return sockCounts{}, fmt.Errorf("%w: sockstat: no %s or no %s line", ErrMalformed, tcp, udp)
	}
	return c, nil
}

// inuse is the value of "inuse" in "inuse 5 orphan 0 tw 0 alloc 7 mem 1".
func inuse(fields []byte) (uint64, error) {
	for len(fields) > 0 {
		var key, val []byte
		key, fields, _ = bytes.Cut(fields, []byte(" "))
		val, fields, _ = bytes.Cut(fields, []byte(" "))
		if string(key) != "inuse" {
			continue
		}
		var v uint64
		for _, ch := range val {
			if ch < '0' || ch > '9' || v > (math.MaxUint64-9)/10 {
				return 0, fmt.Errorf("inuse %q: want an unsigned integer", val)
			}
			v = v*10 + uint64(ch-'0')
		}
		if len(val) == 0 {
			return 0, fmt.Errorf("inuse with no value")
		}
		return v, nil
	}
	return 0, fmt.Errorf("no inuse")
}

// add is the counts of both families.
func (c sockCounts) add(o sockCounts) sockCounts { return sockCounts{c.tcp + o.tcp, c.udp + o.udp} }
