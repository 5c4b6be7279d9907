// Package nodemem reads node-wide dentry facts from a host's procfs, mounted under any root:
// /proc/sys/fs/dentry-state and the dentry row of /proc/slabinfo.
package nodemem // import "github.com/cgroupmem/cgroupmem/internal/nodemem"
