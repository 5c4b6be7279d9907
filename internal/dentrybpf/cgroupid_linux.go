//go:build linux

package dentrybpf

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// CgroupID returns the id of the cgroup at dir: the inode number of the
// cgroup directory, which is the kernfs node id the kernel uses as the cgroup
// id (cgroup v1 and v2 alike, 64-bit hosts). The accountant's counters are
// keyed by it.
func CgroupID(dir string) (uint64, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, fmt.Errorf("cgroup id: %w", err)
	}
	return inode(fi)
}

func inode(fi fs.FileInfo) (uint64, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("cgroup id: %s: no inode number", fi.Name())
	}
	return st.Ino, nil
}

// defaultCgroupRoot is the mount of the memory controller: the cgroup v1
// memory hierarchy when there is one, else the cgroup v2 root.
func defaultCgroupRoot() string {
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.stat"); err == nil {
		return "/sys/fs/cgroup/memory"
	}
	return "/sys/fs/cgroup"
}

// maxCgroupID returns the highest cgroup id under root. Kernfs allocates node
// ids cyclically upward within a hierarchy and never reuses a 64-bit id, so a
// cgroup whose id is above this watermark was created after the walk.
func maxCgroupID(root string) (uint64, error) {
	var high uint64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != root && os.IsNotExist(err) {
				return nil // removed during the walk
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if os.IsNotExist(err) {
				return fs.SkipDir
			}
			return err
		}
		id, err := inode(fi)
		if err != nil {
			return err
		}
		high = max(high, id)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("walking cgroups under %s: %w", root, err)
	}
	return high, nil
}
