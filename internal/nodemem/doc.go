// Package nodemem reads node-wide memory facts from a host's procfs, mounted under any root:
// /proc/sys/fs/dentry-state, the dentry row of /proc/slabinfo and /proc/pressure/memory. The
// node's OOM kill count (/proc/vmstat) is read by internal/cgroupfs, whose OOM-kill cache it
// drives.
package nodemem // import "github.com/cgroupmem/cgroupmem/internal/nodemem"
