package sockets

import "net/netip"

// Source says which kernel interface gave the numbers.
type Source string

const (
	// SourceSockDiag is netlink sock_diag with INET_DIAG_SKMEMINFO: exact truesize.
	SourceSockDiag Source = "sock_diag"
	// SourceProcNet is /proc/<pid>/net/{tcp,tcp6,udp,udp6}: TCP truesize is unknown there.
	SourceProcNet Source = "proc_net"
)

// Usage is the receive-queue memory of one container's sockets.
type Usage struct {
	// RcvqBytes is the sum of rmem_alloc (skb truesize) of the group's TCP and UDP sockets.
	// With SourceProcNet the TCP part is the unread payload, a lower bound of its truesize.
	RcvqBytes uint64
	// PayloadBytes is the unread TCP payload (rx_queue) of non-LISTEN sockets. The unread
	// payload of a UDP queue is not exposed by the kernel and is not included.
	PayloadBytes uint64
	// NonEmpty counts sockets with a non-empty receive queue.
	NonEmpty int
	// Sockets counts the TCP and UDP sockets the group holds (each inode once).
	Sockets int
	// Worst is the socket with the largest RcvqBytes (zero when no queue is non-empty).
	Worst SocketQueue
	// Source is the interface the numbers came from; SourceProcNet when any of the group's
	// namespaces had to be read from /proc/<pid>/net.
	Source Source
}

// SocketQueue describes one socket's receive queue.
type SocketQueue struct {
	Proto        string         // "tcp", "tcp6", "udp" or "udp6"
	Local        netip.AddrPort // local address and port
	Inode        uint64         // socket inode, as in /proc/<pid>/fd and `ss -e` (ino:)
	PID          int            // a process of the group holding the socket
	FD           int            // that process's fd number
	RcvqBytes    uint64         // as in Usage.RcvqBytes
	PayloadBytes uint64         // as in Usage.PayloadBytes
}

// tcpListen is the kernel's TCP_LISTEN state; its queue length is a count of connections.
const tcpListen = 0x0A

// sockQueue is one socket as read from either source, already converted to the Usage
// meaning of its fields.
type sockQueue struct {
	proto   string
	local   netip.AddrPort
	inode   uint64
	rcvq    uint64
	payload uint64
	source  Source
}

// inodeSet is a set of socket inodes.
type inodeSet map[uint64]struct{}
