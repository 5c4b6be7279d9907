package sockets

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSummarize(t *testing.T) {
	addr := netip.MustParseAddrPort("127.0.0.1:80")
	queues := map[uint64]sockQueue{
		1: {proto: "tcp", local: addr, inode: 1, rcvq: 48304, payload: 30000},
		2: {proto: "udp", local: addr, inode: 2, rcvq: 1664000},
		3: {proto: "tcp", local: addr, inode: 3},
		4: {proto: "udp6", local: addr, inode: 4, rcvq: 1664000},
	}
	tests := []struct {
		name string
		held []heldFD
		want Usage
	}{
		{name: "nothing held", want: Usage{}},
		{name: "non-inet sockets only", held: []heldFD{{9, 3, 99}}, want: Usage{}},
		{
			name: "sums, counts and picks the worst",
			held: []heldFD{{9, 3, 1}, {9, 4, 2}, {9, 5, 3}},
			want: Usage{
				RcvqBytes: 48304 + 1664000, PayloadBytes: 30000, NonEmpty: 2, Sockets: 3,
				Worst: SocketQueue{Proto: "udp", Local: addr, Inode: 2, PID: 9, FD: 4, RcvqBytes: 1664000},
			},
		},
		{
			name: "an inode held by two fds counts once",
			held: []heldFD{{9, 3, 1}, {10, 7, 1}},
			want: Usage{
				RcvqBytes: 48304, PayloadBytes: 30000, NonEmpty: 1, Sockets: 1,
				Worst: SocketQueue{Proto: "tcp", Local: addr, Inode: 1, PID: 9, FD: 3, RcvqBytes: 48304, PayloadBytes: 30000},
			},
		},
		{
			name: "a tie goes to the lower inode whatever the fd order",
			held: []heldFD{{9, 4, 4}, {9, 3, 2}},
			want: Usage{
				RcvqBytes: 2 * 1664000, NonEmpty: 2, Sockets: 2,
				Worst: SocketQueue{Proto: "udp", Local: addr, Inode: 2, PID: 9, FD: 3, RcvqBytes: 1664000},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summarize(tt.held, queues)
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// summarize adds up the queues of the sockets a group holds with Usage.add, as Collect does. Each inode counts once however
// many fds of the group point at it; inodes that are not TCP or UDP sockets (unix, netlink)
// have no queue entry and are skipped. Source is left for the caller.
func summarize(held []heldFD, queues map[uint64]sockQueue) Usage {
	var u Usage
	seen := make(map[uint64]bool, len(held))
	for _, h := range held {
		q, ok := queues[h.Inode]
		if !ok || seen[h.Inode] {
			continue
		}
		seen[h.Inode] = true
		u.add(q, h.PID, h.FD)
	}
	return u
}
