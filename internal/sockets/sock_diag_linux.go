//go:build linux

package sockets

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// diagDumper reads sockets with netlink sock_diag. The connection in the collector's own
// network namespace is kept between scrapes; one in another namespace is opened per scrape.
type diagDumper struct {
	own         *netlink.Conn
	noLegacyTCP bool // the kernel refused TCPDIAG_GETSOCK
	ownDeadline bool // a deadline is set on own
}

func newDiagDumper() *diagDumper { return &diagDumper{} }

// dump reads the sockets keep wants (by inode and cgroup id) from the namespace nsPath
// (<procRoot>/<pid>/ns/net), which must be namespace ns, or from the collector's own
// namespace when own is true (no privilege needed there). Entering another namespace needs
// CAP_SYS_ADMIN; the error then wraps fs.ErrPermission. A pid now in another namespace (it
// was reused) wraps errVanished.
func (d *diagDumper) dump(ctx context.Context, nsPath string, ns uint64, own bool, keep func(inode, cgroupID uint64) bool) (map[uint64]sockQueue, error) {
	conn, err := d.conn(nsPath, ns, own)
	if err != nil {
		return nil, err
	}
	if !own {
		defer conn.Close()
	}
	if err := d.setDeadline(ctx, conn, own); err != nil {
		return nil, d.drop(conn, own, fmt.Errorf("sock_diag: set deadline: %w", err))
	}
	out := make(map[uint64]sockQueue)
	if err := d.dumpTCP(conn, keep, out); err != nil {
		return nil, d.drop(conn, own, err)
	}
	for _, q := range udpByFamily {
		if err := dumpFamily(conn, q, keep, out); err != nil {
			return nil, d.drop(conn, own, err)
		}
	}
	return out, nil
}

// dumpTCP dumps TCP of both families in one walk with the legacy TCPDIAG_GETSOCK request,
// or, once a kernel has refused it, with one SOCK_DIAG_BY_FAMILY dump per family.
func (d *diagDumper) dumpTCP(conn *netlink.Conn, keep func(inode, cgroupID uint64) bool, out map[uint64]sockQueue) error {
	if !d.noLegacyTCP {
		err := dumpFamily(conn, tcpBothFamilies, keep, out)
		if !refused(err) {
			return err
		}
		d.noLegacyTCP = true
	}
	for _, q := range tcpByFamily {
		if err := dumpFamily(conn, q, keep, out); err != nil {
			return err
		}
	}
	return nil
}

// refused reports whether the kernel turned a request down (as opposed to a timeout or a
// malformed reply).
func refused(err error) bool {
	return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) ||
		errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPROTONOSUPPORT)
}

// setDeadline applies the context's deadline, and clears one a previous scrape left on the
// kept connection.
func (d *diagDumper) setDeadline(ctx context.Context, conn *netlink.Conn, own bool) error {
	deadline, ok := ctx.Deadline()
	if !ok && !(own && d.ownDeadline) {
		return nil
	}
	if own {
		d.ownDeadline = ok
	}
	return conn.SetDeadline(deadline)
}

// conn returns the own-namespace connection, dialling it once, or dials into nsPath after
// checking that it is namespace ns.
func (d *diagDumper) conn(nsPath string, ns uint64, own bool) (*netlink.Conn, error) {
	if own && d.own != nil {
		return d.own, nil
	}
	if own {
		c, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, nil)
		if err != nil {
			return nil, fmt.Errorf("sock_diag: dial: %w", err)
		}
		d.own = c
		return c, nil
	}
	f, err := os.Open(nsPath)
	if err != nil {
		return nil, vanished(fmt.Errorf("sock_diag: %w", err))
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("sock_diag: fstat %s: %w", nsPath, err)
	}
	if st.Ino != ns {
		return nil, fmt.Errorf("%w: %s is namespace %d, not %d: the pid was reused", errVanished, nsPath, st.Ino, ns)
	}
	c, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, &netlink.Config{NetNS: int(f.Fd())})
	if err != nil {
		return nil, fmt.Errorf("sock_diag: dial in %s: %w", nsPath, err)
	}
	return c, nil
}

// drop forgets a broken own-namespace connection so that the next scrape dials again.
func (d *diagDumper) drop(conn *netlink.Conn, own bool, err error) error {
	if own && d.own == conn {
		_ = d.own.Close()
		d.own = nil
	}
	return err
}

// dumpFamily sends one dump request and decodes the replies for want.
func dumpFamily(conn *netlink.Conn, q diagQuery, keep func(inode, cgroupID uint64) bool, out map[uint64]sockQueue) error {
	req, err := conn.Send(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(q.msgType), Flags: netlink.Request | netlink.Dump},
		Data:   q.request(),
	})
	if err != nil {
		return fmt.Errorf("sock_diag: %s: send: %w", q, err)
	}
	for m, err := range conn.ReceiveIter() {
		if err != nil {
			return fmt.Errorf("sock_diag: %s: receive: %w", q, err)
		}
		if m.Header.Type != req.Header.Type || m.Header.Sequence != req.Header.Sequence {
			continue
		}
		ino, ok := inetDiagMsgInode(m.Data)
		if !ok || ino == 0 || !keep(ino, inetDiagMsgCgroupID(m.Data)) {
			continue
		}
		msg, err := decodeInetDiagMsg(m.Data)
		if err != nil {
			return fmt.Errorf("sock_diag: %s: %w", q, err)
		}
		out[ino] = diagQueue(msg, q.protocol)
	}
	return nil
}

// close closes the own-namespace connection; it is safe to call twice.
func (d *diagDumper) close() error {
	if d.own == nil {
		return nil
	}
	err := d.own.Close()
	d.own = nil
	return err
}
