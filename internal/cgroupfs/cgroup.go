package cgroupfs

import (
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"
)

// slotState is what a Cgroup knows of one of its files.
type slotState uint8

const (
	slotUnknown   slotState = iota // not tried yet
	slotOpen                       // fd is open and re-read with pread at offset 0
	slotAbsent                     // the file does not exist for this cgroup: the kernel lacks it
	slotTransient                  // no descriptor to spare: opened, read and closed each time
)

type slot struct {
	fd    int
	state slotState
}

// Cgroup is a handle on one cgroup directory that keeps its memory files open between reads.
// cgroupfs regenerates a file's content on every read at offset 0, so a kept-open file gives
// fresh numbers without the cost of open and close. Close releases the descriptors; a handle
// whose cgroup vanished closes itself.
type Cgroup struct {
	Dir string
	// Unified is the same cgroup's directory in the unified (cgroup2) mount of a v1 hybrid
	// host, where its memory.pressure is; "" when there is none.
	Unified string
	slots   [numFiles]slot
	files   *Files
	// tcp is what the v1 reader knows of this cgroup's tcp accounting (memory.kmem.tcp.*).
	tcp tcpAccounting
	// oom is the cgroup's OOM kill count as last read (oomkills.go).
	oom oomReading
	// failcnt is a v1 cgroup's memory.failcnt as last read (failcntUnchanged).
	failcnt Value
	// psi is the cgroup's memory.pressure as last read behind a pressure gate (psigate.go).
	psi pressureReading
}

// tcpAccounting is whether a v1 cgroup's tcp counters run. They start only once someone
// writes memory.kmem.tcp.limit_in_bytes, and never stop after that.
type tcpAccounting uint8

const (
	tcpUnknown tcpAccounting = iota // to be checked: memory.kmem.tcp.max_usage_in_bytes
	tcpIdle                         // never counted anything, as of the last check
	tcpActive                       // has counted: memory.kmem.tcp.usage_in_bytes is read
)

// rediscovered tells the handle that discovery walked the tree again: what it concluded
// cannot change without a write to the cgroup (tcp accounting that was idle) is checked again
// on the next read.
func (cg *Cgroup) rediscovered() {
	if cg.tcp == tcpIdle {
		cg.tcp = tcpUnknown
	}
}

// Close closes the cgroup's open files. It is idempotent.
func (cg *Cgroup) Close() {
	for i := range cg.slots {
		s := &cg.slots[i]
		if s.state == slotOpen {
			cg.files.release(s.fd)
		}
		*s = slot{}
	}
}

// read returns the content of one file into buf. A file this cgroup lacks gives (nil, nil) and
// is remembered as absent. A file without a kept descriptor is opened on each read, and kept
// as soon as the budget has room. Errors are *fs.PathError naming the file.
func (cg *Cgroup) read(id fileID, buf []byte) ([]byte, error) {
	s := &cg.slots[id]
	switch s.state {
	case slotAbsent:
		return nil, nil
	case slotOpen:
		return cg.pread(id, s.fd, buf)
	}
	if id == v1Pressure && cg.Unified == "" {
		s.state = slotAbsent
		return nil, nil
	}
	fd, kept, err := cg.files.open(cg.path(id))
	if err != nil {
		// On a first open, ENOENT means this kernel lacks the file, unless the cgroup itself
		// went away in the middle of the read: then it is a vanished cgroup, not an absent file.
		if s.state == slotUnknown && errors.Is(err, syscall.ENOENT) && cg.dirExists() {
			s.state = slotAbsent
			return nil, nil
		}
		return nil, cg.pathError(id, "open", err)
	}
	if !kept {
		defer cg.files.ops.close(fd)
		s.state = slotTransient
		return cg.pread(id, fd, buf)
	}
	*s = slot{fd: fd, state: slotOpen}
	return cg.pread(id, fd, buf)
}

// pread reads the whole file from offset 0, growing buf until one read fits.
func (cg *Cgroup) pread(id fileID, fd int, buf []byte) ([]byte, error) {
	if cap(buf) < 512 {
		buf = make([]byte, 0, 4096)
	}
	for {
		n, err := cg.files.ops.pread(fd, buf[:cap(buf)], 0)
		if err != nil {
			return buf[:0], cg.pathError(id, "read", err)
		}
		if n < cap(buf) {
			return buf[:n], nil
		}
		buf = make([]byte, 0, 2*cap(buf))
	}
}

func (cg *Cgroup) pathError(id fileID, op string, err error) error {
	return &fs.PathError{Op: op, Path: cg.path(id), Err: err}
}

// path is where the file id of this cgroup is: in its directory, or for v1Pressure in its
// unified directory.
func (cg *Cgroup) path(id fileID) string {
	if id == v1Pressure {
		return filepath.Join(cg.Unified, fileNames[id])
	}
	return filepath.Join(cg.Dir, fileNames[id])
}

// dirExists tells a file this kernel lacks (its directory is there) from a cgroup removed
// mid-read. It runs only the first time a file turns out to be missing on a handle.
func (cg *Cgroup) dirExists() bool {
	var st syscall.Stat_t
	return syscall.Stat(cg.Dir, &st) == nil
}
