//go:build linux

package sockets

import (
	"errors"
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockoptReader reads a socket's receive queue through the process that holds it, with no
// namespace read: pidfd_getfd(2) gives the collector its own fd of the socket (for the few
// microseconds of the read), getsockopt(SO_MEMINFO) its rmem_alloc (sk_get_meminfo, the same
// array as sock_diag's INET_DIAG_SKMEMINFO: ss -m's r), ioctl(SIOCINQ) a TCP socket's unread
// bytes. pidfd_getfd needs ptrace-attach access to the holder (root, or CAP_SYS_PTRACE);
// Linux 5.6.
type sockoptReader struct {
	pidfds map[int]int // by pid, for one scrape
}

func newSockoptReader() *sockoptReader { return &sockoptReader{pidfds: make(map[int]int)} }

// read returns the queue of fd of pid, which must still be socket inode. ok is false when it
// is not a TCP or UDP socket, or the fd was closed or reused meanwhile. A process gone wraps
// errVanished; a refusal wraps fs.ErrPermission.
func (r *sockoptReader) read(pid, fd int, inode uint64) (sockQueue, bool, error) {
	pfd, ok := r.pidfds[pid]
	if !ok {
		var err error
		if pfd, err = unix.PidfdOpen(pid, 0); err != nil {
			return sockQueue{}, false, vanished(fmt.Errorf("pidfd_open %d: %w", pid, err))
		}
		r.pidfds[pid] = pfd
	}
	sfd, err := unix.PidfdGetfd(pfd, fd, 0)
	switch {
	case errors.Is(err, unix.EBADF):
		return sockQueue{}, false, nil // closed meanwhile
	case err != nil:
		return sockQueue{}, false, vanished(fmt.Errorf("pidfd_getfd pid %d fd %d: %w", pid, fd, err))
	}
	defer unix.Close(sfd)
	var st unix.Stat_t
	if err := unix.Fstat(sfd, &st); err != nil || st.Ino != inode {
		return sockQueue{}, false, nil // another file now
	}
	domain, err1 := unix.GetsockoptInt(sfd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	proto, err2 := unix.GetsockoptInt(sfd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if proto == unix.IPPROTO_MPTCP {
		// An MPTCP socket (Go listens with MPTCP by default since 1.24): sock_diag lists its
		// TCP subflow under the same inode, ss as tcp.
		proto = unix.IPPROTO_TCP
	}
	if err1 != nil || err2 != nil || (domain != unix.AF_INET && domain != unix.AF_INET6) ||
		(proto != unix.IPPROTO_TCP && proto != unix.IPPROTO_UDP) {
		return sockQueue{}, false, nil
	}
	var mem [unix.SK_MEMINFO_VARS]uint32
	n := uint32(unsafe.Sizeof(mem))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(sfd), unix.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&n)), 0); e != 0 {
		return sockQueue{}, false, fmt.Errorf("getsockopt SO_MEMINFO of pid %d fd %d: %w", pid, fd, e)
	}
	q := sockQueue{proto: protoName(uint8(proto), uint8(domain)), inode: inode, rcvq: uint64(mem[unix.SK_MEMINFO_RMEM_ALLOC]), source: SourceSockopt}
	if proto == unix.IPPROTO_TCP {
		listen, err := unix.GetsockoptInt(sfd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
		if err == nil && listen != 0 {
			return sockQueue{}, false, nil // a listener: left out, as sock_diag leaves it (dumpStates)
		}
		if inq, err := unix.IoctlGetInt(sfd, unix.SIOCINQ); err == nil && inq > 0 {
			q.payload = uint64(inq)
		}
	}
	if q.rcvq != 0 || q.payload != 0 {
		q.local = localAddr(sfd)
	}
	return q, true, nil
}

// localAddr is the socket's local address, for the worst-socket log line.
func localAddr(fd int) netip.AddrPort {
	switch sa := mustSockname(fd).(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

func mustSockname(fd int) unix.Sockaddr {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil
	}
	return sa
}

// end closes the scrape's pidfds.
func (r *sockoptReader) end() {
	for pid, fd := range r.pidfds {
		_ = unix.Close(fd)
		delete(r.pidfds, pid)
	}
}
