//go:build linux

package cgroupfs

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// dirWatch is an inotify instance watching the non-container directories of the hierarchy.
// mkdir and rmdir on cgroupfs go through the VFS, which raises IN_CREATE and IN_DELETE on the
// parent like on any filesystem: a new pod or container shows up as an event on the directory
// that holds it, and discovery re-walks only then.
type dirWatch struct {
	fd  int
	buf []byte
}

const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_DELETE_SELF | unix.IN_ONLYDIR

func newDirWatch() (*dirWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1: %w", err)
	}
	return &dirWatch{fd: fd, buf: make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))}, nil
}

// add watches dir for entries created or removed in it.
func (w *dirWatch) add(dir string) error {
	if _, err := unix.InotifyAddWatch(w.fd, dir, watchMask); err != nil {
		return fmt.Errorf("inotify_add_watch %s: %w", dir, err)
	}
	return nil
}

// changed drains pending events and reports whether there were any (an overflow counts).
func (w *dirWatch) changed() (bool, error) {
	any := false
	for {
		n, err := unix.Read(w.fd, w.buf)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return any, nil
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return true, fmt.Errorf("reading inotify events: %w", err)
		case n <= 0:
			return any, nil
		}
		any = true
	}
}

func (w *dirWatch) close() error {
	if w == nil || w.fd < 0 {
		return nil
	}
	err := unix.Close(w.fd)
	w.fd = -1
	return err
}
