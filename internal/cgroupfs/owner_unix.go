//go:build unix

package cgroupfs

import (
	"io/fs"
	"syscall"
)

// fileOwner is the uid owning a file, from its stat.
func fileOwner(fi fs.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}
