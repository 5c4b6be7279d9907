package oomwatch

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
)

// MaxPending bounds the kills a Watcher keeps between two Drains; past it the oldest are
// dropped and counted. An OOM storm is rate-limited by the kernel's own report limit (the
// report is printed at most 10 times in 5 s per ratelimit state), so this is rarely reached.
const MaxPending = 4096

// recordBufSize fits any /dev/kmsg record: the kernel's messages are at most 2 KiB before
// escaping, and a read with a smaller buffer fails with EINVAL.
const recordBufSize = 16 << 10

// Watcher reads OOM kill reports from /dev/kmsg in a goroutine of its own until Close, and
// keeps the kills until Drain. It starts at the end of the kernel's log: kills reported before
// it opened are not seen.
type Watcher struct {
	f *os.File

	mu      sync.Mutex
	pending []Kill
	records uint64 // records read
	dropped uint64 // kills dropped past MaxPending
	lost    uint64 // times the kernel overwrote records before they were read (EPIPE)
	bad     error  // the first malformed report
	err     error  // why reading stopped, other than Close

	done chan struct{}
}

// Open opens path (normally /dev/kmsg; reading it needs root or CAP_SYSLOG where
// kernel.dmesg_restrict is 1) and starts reading. Any readable stream of records with one
// per line is accepted, which is how tests feed it.
func Open(path string) (*Watcher, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	// /dev/kmsg: from the end of the log. A pipe or FIFO cannot seek, and needs none.
	if _, err := syscall.Seek(fd, 0, io.SeekEnd); err != nil && !errors.Is(err, syscall.ESPIPE) {
		_ = syscall.Close(fd)
		return nil, &os.PathError{Op: "seek", Path: path, Err: err}
	}
	w := &Watcher{f: os.NewFile(uintptr(fd), path), done: make(chan struct{})}
	go w.run()
	return w, nil
}

func (w *Watcher) run() {
	defer close(w.done)
	buf := make([]byte, recordBufSize)
	var partial []byte // a line split across reads (pipes, not /dev/kmsg)
	for {
		n, err := w.f.Read(buf)
		if n > 0 {
			partial = w.lines(append(partial, buf[:n]...))
			if len(partial) > recordBufSize {
				partial = partial[:0] // no record is that long: not a record stream
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, syscall.EPIPE):
			w.mu.Lock()
			w.lost++
			w.mu.Unlock()
		case errors.Is(err, os.ErrClosed):
			return
		case errors.Is(err, io.EOF):
			if len(partial) > 0 {
				w.lines(append(partial, '\n'))
			}
			return
		default:
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
	}
}

// lines handles every complete line of b and returns what is left of it.
func (w *Watcher) lines(b []byte) []byte {
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return b
		}
		w.record(b[:i])
		b = b[i+1:]
	}
}

func (w *Watcher) record(line []byte) {
	if len(line) > 0 && line[0] == ' ' {
		return // a dictionary line of the record before
	}
	k, ok, err := ParseRecord(line)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.records++
	if !ok {
		return
	}
	if err != nil {
		if w.bad == nil {
			w.bad = err
		}
		return
	}
	if len(w.pending) >= MaxPending {
		copy(w.pending, w.pending[1:])
		w.pending = w.pending[:len(w.pending)-1]
		w.dropped++
	}
	w.pending = append(w.pending, k)
}

// Stats is what went wrong since the watcher opened.
type Stats struct {
	Records   uint64 // records read, OOM reports or not
	Dropped   uint64 // kills dropped because MaxPending were waiting
	Lost      uint64 // times the kernel overwrote unread records (kills among them are lost)
	Malformed error  // the first OOM report that could not be parsed
	Err       error  // why reading stopped, if it did
}

// Drain appends the kills reported since the last Drain to dst, oldest first.
func (w *Watcher) Drain(dst []Kill) ([]Kill, Stats) {
	w.mu.Lock()
	defer w.mu.Unlock()
	dst = append(dst, w.pending...)
	clear(w.pending)
	w.pending = w.pending[:0]
	return dst, Stats{Records: w.records, Dropped: w.dropped, Lost: w.lost, Malformed: w.bad, Err: w.err}
}

// Close stops reading and waits for the goroutine to end.
func (w *Watcher) Close() error {
	err := w.f.Close()
	<-w.done
	return err
}
