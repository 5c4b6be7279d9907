// Package sockets measures the memory held by unread socket receive queues, per container.
//
// A container's sockets are the TCP and UDP (IPv4 and IPv6) sockets that an fd of one of its
// processes points at (/proc/<pid>/fd/N -> socket:[inode]). Queues are read once per network
// namespace per scrape, from netlink sock_diag (INET_DIAG_SKMEMINFO, the truesize that
// `ss -m` prints as skmem:(r...)) or, where entering the namespace is not permitted, from
// /proc/<pid>/net/{tcp,tcp6,udp,udp6}. Sockets are attributed to containers by inode, never by
// namespace, so containers of one pod that share a namespace never count a socket twice.
//
// README.md says which capability each source needs and what each reports.
package sockets // import "github.com/cgroupmem/cgroupmem/internal/sockets"
