//go:build unix

package cgroupfs

import "syscall"

// dirLinks is the link count of directory dir, 0 when unknown.
func dirLinks(dir string) uint64 {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return 0
	}
	return uint64(st.Nlink)
}
