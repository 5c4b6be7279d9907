//go:build linux

package sockets

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// diagDumper reads sockets with netlink sock_diag. A connection is kept per network
// namespace between scrapes (a netlink socket stays in the namespace it was made in), so that a
// namespace is entered (setns on a locked thread) only the first time it is read; connections
// to namespaces a scrape did not read are closed at its end. A kept connection holds its
// namespace alive until then: a pod's namespace outlives the pod by at most one scrape.
type diagDumper struct {
	conns       map[uint64]*keptConn
	noLegacyTCP bool   // the kernel refused TCPDIAG_GETSOCK
	buf         []byte // replies to exact requests
	req         []byte // a batch of exact requests
	// qs and res are lookup's results, reused from one call to the next: the lookups run
	// for every known socket at every scrape.
	qs  []sockQueue
	res []lookupResult
	rw  *rawIO
	seq uint32 // the sequence numbers of exact requests
}

// keptConn is a connection kept between scrapes.
type keptConn struct {
	c        *netlink.Conn
	rc       syscall.RawConn // c's descriptor, for lookup; nil until its first
	deadline bool            // a deadline is set on it
	used     bool            // read in this scrape

	// sockstat and sockstat6 are the namespace's /proc/<pid>/net/sockstat{,6}, kept open
	// beside the connection (an open one stays the namespace's whatever becomes of the pid),
	// or nil when they could not be opened: its socket counts are then unknown. sockstat6 is
	// also nil where IPv6 is off (no such file, no IPv6 socket).
	sockstat, sockstat6 *os.File
	// dumped are the counts read after the last dump, dumpedOK whether they can tell a
	// socket created since (see dump).
	dumped   sockCounts
	dumpedOK bool
}

// close closes the connection and the files kept with it.
func (kc *keptConn) close() {
	_ = kc.c.Close()
	for _, f := range []*os.File{kc.sockstat, kc.sockstat6} {
		if f != nil {
			_ = f.Close()
		}
	}
}

func newDiagDumper() *diagDumper { return &diagDumper{conns: make(map[uint64]*keptConn)} }

// dump reads the sockets keep wants (by inode and cgroup id) from namespace ns, entering it
// by nsPath (<procRoot>/<pid>/ns/net), which must be ns, unless a connection to ns is kept or
// own says it is the collector's own namespace (no privilege needed there). Entering another
// namespace needs CAP_SYS_ADMIN; the error then wraps fs.ErrPermission. A pid now in another
// namespace (it was reused) wraps errVanished.
func (d *diagDumper) dump(ctx context.Context, nsPath string, ns uint64, own bool, keep func(inode, cgroupID uint64) bool) (map[uint64]sockQueue, error) {
	kc, err := d.conn(nsPath, ns, own)
	if err != nil {
		return nil, err
	}
	kc.used = true
	if err := kc.setDeadline(ctx); err != nil {
		return nil, d.drop(ns, fmt.Errorf("sock_diag: set deadline: %w", err))
	}
	before, countErr := kc.counts()
	out := make(map[uint64]sockQueue)
	var seen dumpSeen
	if err := d.dumpTCP(kc.c, keep, out, &seen); err != nil {
		return nil, d.drop(ns, err)
	}
	for _, q := range udpByFamily {
		if err := dumpFamily(kc.c, q, keep, out, &seen); err != nil {
			return nil, d.drop(ns, err)
		}
	}
	after, err := kc.counts()
	// The counts can tell a socket created after this dump only if no socket was created
	// or closed while it ran, and if every socket it found is one a lookup can follow: a
	// connection not accepted yet has no inode, is not kept, and gets one on accept()
	// without the counts changing.
	kc.dumped, kc.dumpedOK = after, countErr == nil && err == nil && before == after && seen.unaccepted == 0
	return out, nil
}

// dumpedCounts are the socket counts of namespace ns around its last dump; ok is false
// when they are unknown or cannot tell a socket created since (keptConn.dumpedOK).
func (d *diagDumper) dumpedCounts(ns uint64) (sockCounts, bool) {
	kc := d.conns[ns]
	if kc == nil || !kc.dumpedOK {
		return sockCounts{}, false
	}
	return kc.dumped, true
}

// countsNow reads the socket counts of namespace ns from the files kept with its connection.
func (d *diagDumper) countsNow(ns uint64) (sockCounts, error) {
	kc := d.conns[ns]
	if kc == nil {
		return sockCounts{}, errNoConn
	}
	kc.used = true
	return kc.counts()
}

// openCounts opens the namespace's sockstat files in dir (<procRoot>/<pid>/net, or
// /proc/self/net for the collector's own namespace), then checks that nsPath is still
// namespace ns, so that a pid reused in between cannot give another namespace's counts.
// Without them the counts stay unknown.
func (kc *keptConn) openCounts(dir, nsPath string, ns uint64) {
	f, err := os.Open(filepath.Join(dir, "sockstat"))
	if err != nil {
		return
	}
	f6, err := os.Open(filepath.Join(dir, "sockstat6"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		_ = f.Close()
		return
	}
	if nsPath != "" {
		var st unix.Stat_t
		if unix.Stat(nsPath, &st) != nil || st.Ino != ns {
			_ = f.Close()
			if f6 != nil {
				_ = f6.Close()
			}
			return
		}
	}
	kc.sockstat, kc.sockstat6 = f, f6
}

// counts reads the kept sockstat files.
func (kc *keptConn) counts() (sockCounts, error) {
	if kc.sockstat == nil {
		return sockCounts{}, errNoCounts
	}
	var buf [512]byte
	c, err := preadCounts(kc.sockstat, buf[:], "TCP", "UDP")
	if err != nil || kc.sockstat6 == nil {
		return c, err
	}
	c6, err := preadCounts(kc.sockstat6, buf[:], "TCP6", "UDP6")
	return c.add(c6), err
}

func preadCounts(f *os.File, buf []byte, tcp, udp string) (sockCounts, error) {
	n, err := unix.Pread(int(f.Fd()), buf, 0)
	if err != nil {
		return sockCounts{}, fmt.Errorf("reading %s: %w", f.Name(), err)
	}
	c, err := parseSockstat(buf[:n], tcp, udp)
	if err != nil {
		return sockCounts{}, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return c, nil
}

// endScrape closes the connections to namespaces the scrape did not read, except those kept
// (namespaces still in use whose last reading is kept until their next refresh).
func (d *diagDumper) endScrape(kept func(ns uint64) bool) {
	for ns, kc := range d.conns {
		if !kc.used && !kept(ns) {
			kc.close()
			delete(d.conns, ns)
		}
		kc.used = false
	}
}

// dumpTCP dumps TCP of both families in one walk with the legacy TCPDIAG_GETSOCK request,
// or, once a kernel has refused it, with one SOCK_DIAG_BY_FAMILY dump per family.
func (d *diagDumper) dumpTCP(conn *netlink.Conn, keep func(inode, cgroupID uint64) bool, out map[uint64]sockQueue, seen *dumpSeen) error {
	if !d.noLegacyTCP {
		err := dumpFamily(conn, tcpBothFamilies, keep, out, seen)
		if !refused(err) {
			return err
		}
		d.noLegacyTCP = true
	}
	for _, q := range tcpByFamily {
		if err := dumpFamily(conn, q, keep, out, seen); err != nil {
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

// setDeadline applies the context's deadline, and clears one a previous scrape left.
func (kc *keptConn) setDeadline(ctx context.Context) error {
	deadline, ok := ctx.Deadline()
	if !ok && !kc.deadline {
		return nil
	}
	kc.deadline = ok
	return kc.c.SetDeadline(deadline)
}

// conn returns the kept connection to namespace ns, or dials one: in the collector's own
// namespace when own, else into nsPath after checking that it is namespace ns.
func (d *diagDumper) conn(nsPath string, ns uint64, own bool) (*keptConn, error) {
	if kc := d.conns[ns]; kc != nil {
		return kc, nil
	}
	var c *netlink.Conn
	if own {
		var err error
		if c, err = netlink.Dial(unix.NETLINK_SOCK_DIAG, nil); err != nil {
			return nil, fmt.Errorf("sock_diag: dial: %w", err)
		}
	} else {
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
		if c, err = netlink.Dial(unix.NETLINK_SOCK_DIAG, &netlink.Config{NetNS: int(f.Fd())}); err != nil {
			return nil, fmt.Errorf("sock_diag: dial in %s: %w", nsPath, err)
		}
	}
	kc := &keptConn{c: c}
	if own {
		kc.openCounts("/proc/self/net", "", ns)
	} else {
		kc.openCounts(filepath.Join(filepath.Dir(filepath.Dir(nsPath)), "net"), nsPath, ns)
	}
	d.conns[ns] = kc
	return kc, nil
}

// drop closes and forgets a connection that failed, so that the next read dials again.
func (d *diagDumper) drop(ns uint64, err error) error {
	if kc := d.conns[ns]; kc != nil {
		kc.close()
		delete(d.conns, ns)
	}
	return err
}

// dumpSeen is what a dump saw besides the sockets it kept.
type dumpSeen struct {
	unaccepted int // TCP connections not accepted yet: no inode, not kept (see dump)
}

// dumpFamily sends one dump request and decodes the replies for want; seen, when not nil,
// counts the connections not accepted yet.
func dumpFamily(conn *netlink.Conn, q diagQuery, keep func(inode, cgroupID uint64) bool, out map[uint64]sockQueue, seen *dumpSeen) error {
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
		if ok && ino == 0 && seen != nil && q.protocol == ipprotoTCP && unacceptedState(m.Data[1]) {
			seen.unaccepted++
		}
		if !ok || ino == 0 || !keep(ino, inetDiagMsgCgroupID(m.Data)) {
			continue
		}
		msg, err := decodeInetDiagMsg(m.Data)
		if err != nil {
			return fmt.Errorf("sock_diag: %s: %w", q, err)
		}
		sq := diagQueue(msg, q.protocol)
		sq.diag, _ = inetDiagMsgSockID(m.Data, q.protocol)
		out[ino] = sq
	}
	return nil
}

// lookupBatch is how many exact requests go in one sendmsg: their replies (a few hundred
// bytes each) must fit the socket's receive buffer, or the kernel drops them.
const lookupBatch = 64

// errNoConn says that no connection to a namespace is kept: a lookup needs one.
var errNoConn = errors.New("sock_diag: no connection kept to the namespace")

// lookup asks the kernel for each of socks (by its identity, last read with its inode) with exact
// SOCK_DIAG_BY_FAMILY requests on the connection kept to namespace ns, lookupBatch requests
// per sendmsg: a hash lookup per socket instead of a walk of the namespace's tables. The
// replies are read from the connection's descriptor directly, since the netlink package stops
// at the first error reply of a batch. A failure drops the connection (replies may be left
// unread on it). The slices returned are valid until the next call.
func (d *diagDumper) lookup(ctx context.Context, ns uint64, socks []trackedSock) ([]sockQueue, []lookupResult, error) {
	kc := d.conns[ns]
	if kc == nil {
		return nil, nil, errNoConn
	}
	kc.used = true
	if err := kc.setDeadline(ctx); err != nil {
		return nil, nil, d.drop(ns, fmt.Errorf("sock_diag: set deadline: %w", err))
	}
	if kc.rc == nil {
		rc, err := kc.c.SyscallConn()
		if err != nil {
			return nil, nil, d.drop(ns, fmt.Errorf("sock_diag: %w", err))
		}
		kc.rc = rc
	}
	rc := kc.rc
	if d.buf == nil {
		d.buf = make([]byte, 1<<16)
	}
	d.qs = append(d.qs[:0], make([]sockQueue, len(socks))...)
	d.res = append(d.res[:0], make([]lookupResult, len(socks))...)
	qs, res := d.qs, d.res
	rw := d.rawRW()
	req := d.req[:0]
	for start := 0; start < len(socks); start += lookupBatch {
		end := min(start+lookupBatch, len(socks))
		d.seq += lookupBatch
		base := d.seq
		req = req[:0]
		for i := start; i < end; i++ {
			req = binary.NativeEndian.AppendUint32(req, uint32(unix.NLMSG_HDRLEN+inetDiagReqV2Len))
			req = binary.NativeEndian.AppendUint16(req, sockDiagByFamily)
			req = binary.NativeEndian.AppendUint16(req, unix.NLM_F_REQUEST)
			req = binary.NativeEndian.AppendUint32(req, base+uint32(i-start))
			req = binary.NativeEndian.AppendUint32(req, 0)
			req = socks[i].id.appendExactRequest(req)
		}
		d.req = req
		rw.p = req
		if err := rc.Write(rw.writeFn); err != nil || rw.err != nil {
			return nil, nil, d.drop(ns, fmt.Errorf("sock_diag: exact requests: send: %w", errors.Join(err, rw.err)))
		}
		var answered [lookupBatch]bool
		for pending := end - start; pending > 0; {
			rw.p = d.buf
			if err := rc.Read(rw.readFn); err != nil || rw.err != nil {
				return nil, nil, d.drop(ns, fmt.Errorf("sock_diag: exact requests: receive: %w", errors.Join(err, rw.err)))
			}
			msgs, err := syscall.ParseNetlinkMessage(d.buf[:rw.n])
			if err != nil {
				return nil, nil, d.drop(ns, fmt.Errorf("%w: sock_diag: exact reply: %w", ErrMalformed, err))
			}
			for _, m := range msgs {
				k := int(m.Header.Seq - base)
				if m.Header.Seq < base || k >= end-start {
					continue // not of this batch
				}
				i := start + k
				if answered[k] {
					continue
				}
				answered[k], pending = true, pending-1
				switch m.Header.Type {
				case unix.NLMSG_ERROR:
					if len(m.Data) >= 4 && -int32(binary.NativeEndian.Uint32(m.Data[:4])) == int32(unix.ENOENT) {
						res[i] = lookupGone
					} // else ESTALE and others: not conclusive, lookupUnknown
				case sockDiagByFamily:
					ino, ok := inetDiagMsgInode(m.Data)
					if !ok || ino != socks[i].inode {
						res[i] = lookupGone // another socket now (or TIME_WAIT, inode 0)
						continue
					}
					msg, err := decodeInetDiagMsg(m.Data)
					if err != nil {
						return nil, nil, d.drop(ns, fmt.Errorf("sock_diag: exact reply: %w", err))
					}
					qs[i] = diagQueue(msg, socks[i].id.protocol)
					qs[i].diag = socks[i].id
					res[i] = lookupFound
				}
			}
		}
	}
	return qs, res, nil
}

// rawIO is a raw read or write of lookup on a connection's descriptor, made through
// functions bound once (rawRW) instead of a closure and its captured results per call.
type rawIO struct {
	p       []byte
	n       int
	err     error
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
}

// read and write make one non-blocking read or write of p (mdlayher/socket's descriptors
// are non-blocking; read(2) leaves no sender's address to allocate); EAGAIN hands the wait
// to the runtime's poller.
func (rw *rawIO) read(fd uintptr) bool {
	rw.n, rw.err = unix.Read(int(fd), rw.p)
	return rw.err != unix.EAGAIN
}

func (rw *rawIO) write(fd uintptr) bool {
	rw.n, rw.err = unix.Write(int(fd), rw.p)
	return rw.err != unix.EAGAIN
}

// rawRW is the dumper's rawIO, made on first use.
func (d *diagDumper) rawRW() *rawIO {
	if d.rw == nil {
		d.rw = &rawIO{}
		d.rw.readFn, d.rw.writeFn = d.rw.read, d.rw.write
	}
	d.rw.n, d.rw.err = 0, nil
	return d.rw
}

// close closes every kept connection; it is safe to call twice.
func (d *diagDumper) close() error {
	var errs []error
	for ns, kc := range d.conns {
		errs = append(errs, kc.c.Close())
		delete(d.conns, ns)
	}
	return errors.Join(errs...)
}
