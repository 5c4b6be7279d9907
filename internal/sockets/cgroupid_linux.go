//go:build linux

package sockets

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// CgroupID returns the cgroup2 id of the cgroup at dir, a directory of a cgroup2 mount: its
// inode number, which is what the kernel reports as a socket's INET_DIAG_CGROUP_ID (and
// what name_to_handle_at gives `ss --cgroup`) on 64-bit hosts.
func CgroupID(dir string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return 0, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return 0, fmt.Errorf("%s: not a directory", dir)
	}
	return st.Ino, nil
}
