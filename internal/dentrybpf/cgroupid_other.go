//go:build !linux

package dentrybpf

import "fmt"

// CgroupID returns the inode number of a cgroup directory; Linux only.
func CgroupID(dir string) (uint64, error) {
	return 0, fmt.Errorf("cgroup id of %s: %w", dir, ErrNotSupported)
}
