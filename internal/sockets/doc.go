// Package sockets measures the memory held by unread socket receive queues, per container.
//
// A container's sockets are the TCP and UDP (IPv4 and IPv6) sockets created in its cgroup
// (the INET_DIAG_CGROUP_ID of sock_diag, where the container's cgroup2 id is known) or, where
// it is not, those an fd of one of its processes points at (/proc/<pid>/fd/N ->
// socket:[inode]). Queues are read once per network namespace per scrape, from netlink
// sock_diag (INET_DIAG_SKMEMINFO, the truesize that `ss -m` prints as skmem:(r...)) or, where
// entering the namespace is not permitted, from /proc/<pid>/net/{tcp,tcp6,udp,udp6}. Sockets
// are attributed to containers by cgroup id or inode, never by namespace, so containers of one
// pod that share a namespace never count a socket twice. What one container can make a scrape
// examine is bounded (Limits).
//
// README.md says which capability each source needs and what each reports.
package sockets // import "github.com/cgroupmem/cgroupmem/internal/sockets"
