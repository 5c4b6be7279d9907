package sockets

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ssSocket is one socket of `ss -tuanme` output: Recv-Q and skmem's r, by inode.
type ssSocket struct {
	Netid  string
	State  string
	RecvQ  uint64
	Rmem   uint64
	Cgroup string // with --cgroup: the cgroup2 path of the socket (its creator's)
}

// parseSS parses `ss -tuanm -e [-p]` output: a socket line with "ino:N", then a line with
// "skmem:(rN,...)".
func parseSS(r io.Reader) (map[uint64]ssSocket, error) {
	out := make(map[uint64]ssSocket)
	var cur *ssSocket
	var curIno uint64
	s := bufio.NewScanner(r)
	for s.Scan() {
		line := s.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] == "Netid" {
			continue
		}
		if i := strings.Index(line, "skmem:(r"); i >= 0 {
			if cur == nil {
				return nil, fmt.Errorf("skmem before a socket line: %q", line)
			}
			num, _, _ := strings.Cut(line[i+len("skmem:(r"):], ",")
			v, err := strconv.ParseUint(num, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("skmem r: %q", line)
			}
			cur.Rmem = v
			out[curIno] = *cur
			cur = nil
			continue
		}
		if len(fields) < 3 {
			return nil, fmt.Errorf("socket line: %q", line)
		}
		recvQ, err := strconv.ParseUint(fields[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("Recv-Q: %q", line)
		}
		curIno = 0
		cur = &ssSocket{Netid: fields[0], State: fields[1], RecvQ: recvQ}
		for _, f := range fields {
			if v, ok := strings.CutPrefix(f, "ino:"); ok {
				curIno, err = strconv.ParseUint(v, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("ino: %q", line)
				}
			}
			if v, ok := strings.CutPrefix(f, "cgroup:"); ok && cur.Cgroup == "" {
				cur.Cgroup = v // the first: the local socket's (ss prints the peer's after "<->")
			}
		}
	}
	return out, s.Err()
}

// ssUsage computes what Collect should report for inodes from ss output. With sock_diag
// rcvq is skmem r; with proc_net it is r for UDP and Recv-Q for TCP (no truesize there).
// Payload is Recv-Q of TCP sockets. LISTEN sockets are not counted. The worst socket has the largest
// rcvq, then payload, then the lowest inode.
func ssUsage(ss map[uint64]ssSocket, inodes []uint64, src Source) Usage {
	var u Usage
	u.Source = src
	for _, ino := range slices.Compact(slices.Sorted(slices.Values(inodes))) {
		s, ok := ss[ino]
		if !ok {
			continue
		}
		if s.State == "LISTEN" {
			continue // left out by every source (dumpStates)
		}
		u.Sockets++
		var rcvq, payload uint64
		switch {
		case s.Netid == "udp":
			rcvq = s.Rmem
		default:
			rcvq, payload = s.Rmem, s.RecvQ
			if src == SourceProcNet {
				rcvq = s.RecvQ
			}
		}
		u.RcvqBytes += rcvq
		u.PayloadBytes += payload
		if rcvq == 0 && payload == 0 {
			continue
		}
		u.NonEmpty++
		if u.Worst.Inode == 0 || rcvq > u.Worst.RcvqBytes || (rcvq == u.Worst.RcvqBytes && payload > u.Worst.PayloadBytes) {
			u.Worst = SocketQueue{Inode: ino, RcvqBytes: rcvq, PayloadBytes: payload}
		}
	}
	return u
}

// sameAsSS compares got with the ss expectation; of the worst socket only inode, rcvq and
// payload are compared.
func sameAsSS(got, want Usage) bool {
	w := got.Worst
	got.Worst = SocketQueue{Inode: w.Inode, RcvqBytes: w.RcvqBytes, PayloadBytes: w.PayloadBytes}
	return got == want
}

func TestParseSS(t *testing.T) {
	in := `Netid State  Recv-Q  Send-Q Local Address:Port  Peer Address:Port Process
udp   UNCONN 1664000 0          127.0.0.1:54502      0.0.0.0:*     users:(("python3",pid=359,fd=6)) ino:62959 sk:3 cgroup:/ <->
	 skmem:(r1664000,rb8388608,t0,tb212992,f3072,w0,o0,bl0,d0)
tcp   LISTEN 0       4          127.0.0.1:33467      0.0.0.0:*     ino:62956 sk:6 cgroup:/ <->
	 skmem:(r0,rb131072,t0,tb16384,f0,w0,o0,bl0,d0)
`
	got, err := parseSS(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64]ssSocket{
		62959: {Netid: "udp", State: "UNCONN", RecvQ: 1664000, Rmem: 1664000, Cgroup: "/"},
		62956: {Netid: "tcp", State: "LISTEN", Rmem: 0, Cgroup: "/"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}
