package cgroupfs

import "errors"

var (
	// ErrMalformed marks kernel text that does not have the documented format.
	ErrMalformed = errors.New("cgroupfs: malformed file")
	// ErrNoMemoryController means no cgroup memory controller was found under the root path.
	ErrNoMemoryController = errors.New("cgroupfs: no cgroup memory controller found")
	// ErrVanished means the cgroup was removed while it was being read.
	ErrVanished = errors.New("cgroupfs: cgroup vanished")
)
