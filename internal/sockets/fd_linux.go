//go:build linux

package sockets

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fdWalker walks /proc/<pid>/fd with buffers kept between walks: examining an fd allocates
// nothing (getdents64 into one buffer, readlinkat of the entry's name where getdents left it,
// into another), so the cost of a process's fds is CPU bounded by the fd budget and no memory.
type fdWalker struct {
	procRoot string
	dirents  []byte
	link     []byte
}

func newFDWalker(procRoot string) *fdWalker {
	return &fdWalker{procRoot: procRoot, dirents: make([]byte, 16<<10), link: make([]byte, 64)}
}

// ctxCheckEvery is how many fds are examined between two looks at the context.
const ctxCheckEvery = 256

// walk calls visit for each socket fd of pid, examining at most budget fds. It returns the fds
// examined and whether the directory was read to its end (false when the budget ran out).
func (w *fdWalker) walk(ctx context.Context, pid, budget int, visit fdVisitor) (int, bool, error) {
	dir := w.procRoot + "/" + strconv.Itoa(pid) + "/fd"
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, false, vanished(&fs.PathError{Op: "open", Path: dir, Err: err})
	}
	defer unix.Close(dfd)
	return w.walkDir(ctx, dfd, dir, budget, visit)
}

// walkDir is walk on the fd directory dir, open as dfd.
func (w *fdWalker) walkDir(ctx context.Context, dfd int, dir string, budget int, visit fdVisitor) (int, bool, error) {
	examined := 0
	for {
		n, err := unix.Getdents(dfd, w.dirents)
		if err != nil {
			return examined, false, vanished(&fs.PathError{Op: "readdirent", Path: dir, Err: err})
		}
		if n == 0 {
			return examined, true, nil
		}
		// struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, char name[] (NUL-terminated).
		for off := 0; off+19 < n; {
			reclen := int(binary.NativeEndian.Uint16(w.dirents[off+16:]))
			if reclen < 20 || off+reclen > n {
				return examined, false, fmt.Errorf("%w: dirent of %d bytes in %s", ErrMalformed, reclen, dir)
			}
			name := w.dirents[off+19 : off+reclen]
			off += reclen
			fd, dot, err := parseFDName(name)
			if dot {
				continue
			}
			if err != nil {
				return examined, false, fmt.Errorf("%s: %w", dir, err)
			}
			if examined == budget {
				return examined, false, nil
			}
			examined++
			if examined%ctxCheckEvery == 0 {
				if err := ctx.Err(); err != nil {
					return examined, false, err
				}
			}
			l, err := readlinkat(dfd, name, w.link)
			if errors.Is(err, unix.ENOENT) {
				continue // closed meanwhile, or the process exited: the next getdents tells
			}
			if err != nil {
				return examined, false, vanished(&fs.PathError{Op: "readlink", Path: dir + "/" + strconv.Itoa(fd), Err: err})
			}
			if inode, ok := parseSocketLinkBytes(w.link[:l]); ok {
				visit(fd, inode)
			}
		}
	}
}

// readlinkat reads the link name (NUL-terminated, as getdents leaves it) in dirfd into buf.
// A target as long as buf is cut short; no socket target is that long.
func readlinkat(dirfd int, name, buf []byte) (int, error) {
	r, _, e := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(&name[0])),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// kcmpFiles is kcmp(2) KCMP_FILES: 0 when pids a and b share one fd table, else 1 or 2 as a's
// table orders before or after b's (a total order of the kernel's obfuscated pointers).
func kcmpFiles(a, b int) (int, error) {
	const kcmpFiles = 2 // KCMP_FILES
	r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(a), uintptr(b), kcmpFiles, 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
