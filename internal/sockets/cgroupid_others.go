//go:build !linux

package sockets

// CgroupID is unsupported: cgroups exist only on Linux.
func CgroupID(string) (uint64, error) { return 0, ErrUnsupported }
