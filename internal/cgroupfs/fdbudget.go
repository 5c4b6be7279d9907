package cgroupfs

import (
	"sync"

	"golang.org/x/sys/unix"
)

// fileOps are the system calls the kept-open reader makes; tests replace them.
type fileOps interface {
	open(path string) (int, error)
	pread(fd int, buf []byte, off int64) (int, error)
	close(fd int) error
}

type unixOps struct{}

func (unixOps) open(path string) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func (unixOps) pread(fd int, buf []byte, off int64) (int, error) {
	for {
		n, err := unix.Pread(fd, buf, off)
		if err != unix.EINTR {
			return n, err
		}
	}
}

func (unixOps) close(fd int) error { return unix.Close(fd) }

// Files hands out kept-open descriptors within a budget. When the budget is spent, further
// files are opened, read and closed on each read instead, and Exhausted reports it.
type Files struct {
	ops fileOps

	mu        sync.Mutex
	nOpen     int
	limit     int
	exhausted bool
}

// reservedFDs are left to the rest of the collector (exporters, sockets, the socket collector).
const reservedFDs = 1024

// NewFiles returns a descriptor budget of limit kept-open files; limit ≤ 0 means the process's
// open-file limit less a reserve for the rest of the collector. Go raises the soft limit to the
// hard limit at start on Linux, so that is the number used.
func NewFiles(limit int) *Files {
	if limit <= 0 {
		limit = defaultFileBudget()
	}
	return &Files{ops: unixOps{}, limit: limit}
}

func defaultFileBudget() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur <= 2*reservedFDs {
		return 0
	}
	if rl.Cur > 1<<20 {
		return 1<<20 - reservedFDs
	}
	return int(rl.Cur) - reservedFDs
}

// Limit is the number of files that may be kept open.
func (f *Files) Limit() int { return f.limit }

// Open is the number of files kept open now.
func (f *Files) Open() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nOpen
}

// Exhausted reports whether a file had to be read without keeping it open since the last call,
// and resets the flag.
func (f *Files) Exhausted() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.exhausted
	f.exhausted = false
	return e
}

// open opens path; kept says whether it counts against the budget and stays open.
func (f *Files) open(path string) (fd int, kept bool, err error) {
	fd, err = f.ops.open(path)
	if err != nil {
		return -1, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nOpen >= f.limit {
		f.exhausted = true
		return fd, false, nil
	}
	f.nOpen++
	return fd, true, nil
}

func (f *Files) release(fd int) {
	_ = f.ops.close(fd)
	f.mu.Lock()
	f.nOpen--
	f.mu.Unlock()
}

// Cgroup returns a handle on the cgroup directory dir whose files count against this budget.
func (f *Files) Cgroup(dir string) *Cgroup {
	return &Cgroup{Dir: dir, files: f}
}
