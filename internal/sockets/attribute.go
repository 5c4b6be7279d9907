package sockets

// add counts one socket in u; pid and fd name the holder (0 when attributed by cgroup id).
// The caller counts each socket once per group.
func (u *Usage) add(q sockQueue, pid, fd int) {
	u.Sockets++
	u.RcvqBytes += q.rcvq
	u.PayloadBytes += q.payload
	if q.rcvq == 0 && q.payload == 0 {
		return
	}
	u.NonEmpty++
	if worse(q, u.Worst) {
		u.Worst = SocketQueue{
			Proto: q.proto, Local: q.local, Inode: q.inode, PID: pid, FD: fd,
			RcvqBytes: q.rcvq, PayloadBytes: q.payload,
		}
	}
}

// worse orders sockets by receive-queue memory, then payload, then the lower inode, so that
// the worst socket does not depend on the order fds were listed in.
func worse(q sockQueue, cur SocketQueue) bool {
	switch {
	case cur.Inode == 0:
		return true
	case q.rcvq != cur.RcvqBytes:
		return q.rcvq > cur.RcvqBytes
	case q.payload != cur.PayloadBytes:
		return q.payload > cur.PayloadBytes
	default:
		return q.inode < cur.Inode
	}
}
