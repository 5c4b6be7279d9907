package sockets

import "net/netip"

// Source says which kernel interface gave the numbers.
type Source string

const (
	// SourceSockDiag is netlink sock_diag with INET_DIAG_SKMEMINFO: exact truesize.
	SourceSockDiag Source = "sock_diag"
	// SourceProcNet is /proc/<pid>/net/{tcp,tcp6,udp,udp6}: TCP truesize is unknown there.
	SourceProcNet Source = "proc_net"
	// SourceSockopt is getsockopt(SO_MEMINFO) on the socket, reached through its holder with
	// pidfd_getfd: exact truesize, no namespace read.
	SourceSockopt Source = "sockopt"
)

// Group is one container handed to Collect.
type Group struct {
	// PIDs are the processes of the container's cgroup (its cgroup.procs).
	PIDs []int
	// LoadPIDs, when PIDs is nil, reads them; Collect calls it only when it needs them. With
	// a refresh interval, a group attributed by cgroup id whose namespaces all have a reading
	// of the present refresh period is given those readings without its processes being
	// listed: its cgroup.procs and their namespace links are read only when one of its
	// namespaces is due (or its sockets must be found by walking its fds).
	LoadPIDs func() []int `json:"-"`
	// Cgroup is the container's cgroup path relative to its hierarchy, e.g.
	// "/kubepods/burstable/pod<uid>/<id>". After a pid's fds are read, its /proc/<pid>/cgroup
	// must name a path ending with it, or the pid was reused by another process and its fds
	// are dropped. "" skips the check.
	Cgroup string
	// CgroupID is the cgroup2 id of the container's cgroup: the inode number of its directory
	// on a cgroup2 mount (the unified hierarchy on v2, or its mirror under
	// /sys/fs/cgroup/unified on a v1 hybrid host where the runtime creates one). With an id,
	// the container's sockets are those whose INET_DIAG_CGROUP_ID is this id and its fds are
	// not walked; 0 means unknown: its sockets are found by walking its processes' fds.
	CgroupID uint64
}

// Limits bound what one Collect may examine, whatever the containers do.
type Limits struct {
	// MaxFDsPerContainer is how many fds of one container's processes are examined per
	// scrape (every fd counts, sockets or not). Past it the container's socket numbers are
	// incomplete and are not reported.
	MaxFDsPerContainer int
	// MaxFDsPerScrape is how many fds are examined per scrape over all containers.
	MaxFDsPerScrape int
	// MaxNamespaces is how many network namespaces are read per scrape. Each container's
	// first namespace is taken before any container's second, so one container that spreads
	// its processes over many namespaces only loses its own.
	MaxNamespaces int
}

// DefaultLimits are the limits the receiver uses unless configured: far above what a node's
// ordinary containers hold (the receiver's documentation gives the cost of each).
func DefaultLimits() Limits {
	return Limits{MaxFDsPerContainer: 16384, MaxFDsPerScrape: 262144, MaxNamespaces: 1024}
}

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
	// Sockets counts the TCP and UDP sockets the group holds (each socket once), TCP
	// listeners left out: a listener's own receive queue is always empty (dumpStates).
	Sockets int
	// Worst is the socket with the largest RcvqBytes (zero when no queue is non-empty).
	Worst SocketQueue
	// Source is the interface the numbers came from; SourceProcNet when any of the group's
	// namespaces had to be read from /proc/<pid>/net.
	Source Source
	// Incomplete says that some of the group's sockets could not be read this scrape (a
	// limit was reached, or a read failed): the numbers are a lower bound and must not be
	// reported as the container's.
	Incomplete bool
}

// SocketQueue describes one socket's receive queue.
type SocketQueue struct {
	Proto        string         // "tcp", "tcp6", "udp" or "udp6"
	Local        netip.AddrPort // local address and port
	Inode        uint64         // socket inode, as in /proc/<pid>/fd and `ss -e` (ino:)
	PID          int            // a process of the group holding the socket; 0 when attributed by cgroup id
	FD           int            // that process's fd number; 0 when attributed by cgroup id
	RcvqBytes    uint64         // as in Usage.RcvqBytes
	PayloadBytes uint64         // as in Usage.PayloadBytes
}

// tcpListen is the kernel's TCP_LISTEN state; its queue length is a count of connections.
const tcpListen = 0x0A

// sockQueue is one socket as read from either source, already converted to the Usage
// meaning of its fields.
type sockQueue struct {
	proto    string
	local    netip.AddrPort
	inode    uint64
	rcvq     uint64
	payload  uint64
	source   Source
	cgroupID uint64     // INET_DIAG_CGROUP_ID; 0 from /proc/<pid>/net or kernels before 5.7
	diag     diagSockID // how to look it up again (sock_diag only; zero otherwise)
}

// sockKey names a socket on the host: socket inode numbers are 32-bit and are only looked up
// within the namespace they were read from.
type sockKey struct {
	ns    uint64
	inode uint64
}

// inodeSet is a set of socket inodes.
type inodeSet map[uint64]struct{}

// has reports whether inode is in the set.
func (s inodeSet) has(inode uint64) bool {
	_, ok := s[inode]
	return ok
}

// keep is has as a sock_diag filter, whatever the socket's cgroup id.
func (s inodeSet) keep(inode, _ uint64) bool { return s.has(inode) }
