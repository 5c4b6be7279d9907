package sockets

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

var (
	// ErrMalformed marks kernel text or a netlink message that does not have the documented
	// format.
	ErrMalformed = errors.New("sockets: malformed kernel data")
	// ErrUnsupported means netlink sock_diag is not available on this platform.
	ErrUnsupported = errors.New("sockets: sock_diag is not supported on this platform")
)

// errNoCounts says that a namespace's socket counts are unknown: its sockstat files could not
// be opened.
var errNoCounts = errors.New("sockets: the namespace's sockstat files are not open")

// errVanished wraps the error of a reader whose process exited (or whose namespace went
// away) while it was being read; the collector skips such pids quietly.
var errVanished = errors.New("sockets: process vanished")

// vanished wraps err with errVanished when it says the process is gone.
func vanished(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%w: %w", errVanished, err)
	}
	return err
}
