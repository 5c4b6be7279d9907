package sockets

// summarize adds up the queues of the sockets a group holds. Each inode counts once however
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
		u.Sockets++
		u.RcvqBytes += q.rcvq
		u.PayloadBytes += q.payload
		if q.rcvq == 0 && q.payload == 0 {
			continue
		}
		u.NonEmpty++
		if worse(q, u.Worst) {
			u.Worst = SocketQueue{
				Proto: q.proto, Local: q.local, Inode: q.inode, PID: h.PID, FD: h.FD,
				RcvqBytes: q.rcvq, PayloadBytes: q.payload,
			}
		}
	}
	return u
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
