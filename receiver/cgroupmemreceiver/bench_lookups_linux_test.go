//go:build linux

package cgroupmemreceiver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// What the floor needs of the kernel's sock_diag interface (linux/sock_diag.h,
// linux/inet_diag.h), written out here so that it shares no code with internal/sockets.
const (
	bareSockDiagByFamily = 20                            // SOCK_DIAG_BY_FAMILY
	bareReqLen           = 56                            // struct inet_diag_req_v2
	bareIDLen            = 48                            // struct inet_diag_sockid
	bareMsgIDAt          = 4                             // the sockid's offset in struct inet_diag_msg
	bareMsgInodeAt       = 68                            // the inode's offset in struct inet_diag_msg
	bareSKMemInfoExt     = 1 << (7 - 1)                  // idiag_ext bit of INET_DIAG_SKMEMINFO
	bareStates           = ^uint32(1<<6 | 1<<10 | 1<<12) // all but TIME_WAIT, LISTEN and NEW_SYN_RECV

	// bareLookupsPer is what the receiver looks up per container of socketBenchTree: both
	// ends of its connection and its two UDP sockets (listeners are not looked up).
	bareLookupsPer = 4
)

// benchBareLookups is the floor under the socket part of metrics=default: in every pod's
// network namespace the sockets the receiver looks up at each scrape between dumps (every
// socket of the namespace but listeners), asked for with the same exact SOCK_DIAG_BY_FAMILY
// requests (INET_DIAG_SKMEMINFO) in one send per namespace, and one read per reply, each
// reply checked to be the socket asked for and nothing else decoded; the connections are
// plain blocking netlink sockets, opened once in each namespace, outside Go's poller. What
// the receiver adds on top (finding each namespace, its known sockets and their owners,
// decoding the replies, the metrics) is not here: this is what the lookups themselves cost
// in the kernel and its system calls.
func benchBareLookups(b *testing.B, bt benchTree) {
	var conns []*bareDiagConn
	b.Cleanup(func() {
		for _, c := range conns {
			_ = unix.Close(c.fd)
		}
	})
	total := 0
	for _, pid := range bt.netnsPIDs {
		c, err := openBareDiag(pid)
		require.NoError(b, err)
		conns = append(conns, c)
		require.NoError(b, c.listSockets())
		total += len(c.inodes)
	}
	require.Equal(b, bareLookupsPer*bt.containers, total, "sockets looked up: both ends of a connection and two UDP sockets per container")
	buf := make([]byte, 1<<16)
	for _, c := range conns {
		require.NoError(b, c.lookUp(buf))
	}
	m := startMeasure(b)
	for b.Loop() {
		for _, c := range conns {
			if err := c.lookUp(buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	m.report(b, bt.containers)
}

// bareDiagConn is a sock_diag socket in one network namespace and the exact requests of its
// sockets, made once.
type bareDiagConn struct {
	fd     int
	req    []byte   // every exact request of the namespace, sent at once
	inodes []uint32 // the socket each request (its sequence number) asks for
}

// openBareDiag opens a sock_diag socket in pid's network namespace from a thread that enters
// it and comes back; a thread that cannot come back stays locked and ends with its goroutine.
func openBareDiag(pid int) (*bareDiagConn, error) {
	ns, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(ns)
	c := &bareDiagConn{fd: -1}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer unix.Close(self)
		if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
		if back := unix.Setns(self, unix.CLONE_NEWNET); back != nil {
			if err == nil {
				_ = unix.Close(fd)
			}
			done <- errors.Join(err, back)
			return
		}
		runtime.UnlockOSThread()
		c.fd = fd
		done <- err
	}()
	if err := <-done; err != nil {
		return nil, err
	}
	return c, nil
}

// listSockets dumps the namespace's TCP and UDP sockets of both families once, in the states
// the receiver asks for, and makes the exact request of each.
func (c *bareDiagConn) listSockets() error {
	buf := make([]byte, 1<<16)
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		for _, protocol := range []uint8{unix.IPPROTO_TCP, unix.IPPROTO_UDP} {
			req := appendBareRequest(nil, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 0, family, protocol, 0, nil)
			if _, err := unix.Write(c.fd, req); err != nil {
				return err
			}
			for done := false; !done; {
				n, err := unix.Read(c.fd, buf)
				if err != nil {
					return err
				}
				msgs, err := syscall.ParseNetlinkMessage(buf[:n])
				if err != nil {
					return err
				}
				for _, m := range msgs {
					switch m.Header.Type {
					case unix.NLMSG_DONE:
						done = true
					case unix.NLMSG_ERROR:
						return fmt.Errorf("sock_diag dump of family %d protocol %d: error reply", family, protocol)
					case bareSockDiagByFamily:
						if len(m.Data) < bareMsgInodeAt+4 {
							return fmt.Errorf("sock_diag: short message (%d bytes)", len(m.Data))
						}
						ino := binary.NativeEndian.Uint32(m.Data[bareMsgInodeAt:])
						if ino == 0 {
							continue
						}
						id := m.Data[bareMsgIDAt : bareMsgIDAt+bareIDLen]
						c.req = appendBareRequest(c.req, unix.NLM_F_REQUEST, uint32(len(c.inodes)), family, protocol, bareSKMemInfoExt, id)
						c.inodes = append(c.inodes, ino)
					}
				}
			}
		}
	}
	return nil
}

// appendBareRequest appends a SOCK_DIAG_BY_FAMILY request: a dump (id nil) or the exact
// request of the socket a dump reported as id. udp_dump_one takes the request's source as
// the packet's, that is the socket's remote end, so a UDP socket's ends are swapped.
func appendBareRequest(buf []byte, flags uint16, seq uint32, family, protocol, ext uint8, id []byte) []byte {
	buf = binary.NativeEndian.AppendUint32(buf, unix.NLMSG_HDRLEN+bareReqLen)
	buf = binary.NativeEndian.AppendUint16(buf, bareSockDiagByFamily)
	buf = binary.NativeEndian.AppendUint16(buf, flags)
	buf = binary.NativeEndian.AppendUint32(buf, seq)
	buf = binary.NativeEndian.AppendUint32(buf, 0)
	buf = append(buf, family, protocol, ext, 0)
	buf = binary.NativeEndian.AppendUint32(buf, bareStates)
	sid := make([]byte, bareIDLen)
	if id != nil {
		copy(sid, id)
		if protocol == unix.IPPROTO_UDP {
			copy(sid[0:2], id[2:4])    // sport <- dport
			copy(sid[2:4], id[0:2])    // dport <- sport
			copy(sid[4:20], id[20:36]) // src <- dst
			copy(sid[20:36], id[4:20]) // dst <- src
		}
	}
	return append(buf, sid...)
}

// lookUp sends the namespace's exact requests at once and reads a reply per request; the
// kernel answers them while handling the send, so every reply is queued when it returns. A
// reply that is not the socket asked for, or one missing, is an error.
func (c *bareDiagConn) lookUp(buf []byte) error {
	if _, err := unix.Write(c.fd, c.req); err != nil {
		return err
	}
	for got := 0; got < len(c.inodes); {
		n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, uintptr(c.fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), unix.MSG_DONTWAIT, 0, 0)
		if errno != 0 {
			return fmt.Errorf("sock_diag: %d of %d replies: %w", got, len(c.inodes), errno)
		}
		for b := buf[:n]; len(b) >= unix.NLMSG_HDRLEN; got++ {
			l := int(binary.NativeEndian.Uint32(b))
			typ := binary.NativeEndian.Uint16(b[4:])
			seq := binary.NativeEndian.Uint32(b[8:])
			if l < unix.NLMSG_HDRLEN || l > len(b) || typ != bareSockDiagByFamily || int(seq) >= len(c.inodes) ||
				l < unix.NLMSG_HDRLEN+bareMsgInodeAt+4 ||
				binary.NativeEndian.Uint32(b[unix.NLMSG_HDRLEN+bareMsgInodeAt:]) != c.inodes[seq] {
				return fmt.Errorf("sock_diag: reply %d is not the socket asked for (type %d, length %d)", got, typ, l)
			}
			b = b[min((l+3)&^3, len(b)):]
		}
	}
	return nil
}
