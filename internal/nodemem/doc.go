// Package nodemem reads node-wide dentry facts from a host's procfs, mounted under any root:
// /proc/sys/fs/dentry-state and the dentry row of /proc/slabinfo; and the node's OOM kill count
// from /proc/vmstat.
package nodemem // import "github.com/cgroupmem/cgroupmem/internal/nodemem"
