//go:build !linux

package sockets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// fdWalker walks <procRoot>/<pid>/fd with the os package (procfs exists only on Linux; this
// serves tests of a fake tree).
type fdWalker struct{ procRoot string }

func newFDWalker(procRoot string) *fdWalker { return &fdWalker{procRoot: procRoot} }

func (w *fdWalker) walk(ctx context.Context, pid, budget int, visit fdVisitor) (int, bool, error) {
	dir := filepath.Join(w.procRoot, strconv.Itoa(pid), "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, false, vanished(err)
	}
	examined := 0
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			return examined, false, fmt.Errorf("%w: fd name %q in %s", ErrMalformed, e.Name(), dir)
		}
		if examined == budget {
			return examined, false, nil
		}
		examined++
		if err := ctx.Err(); err != nil {
			return examined, false, err
		}
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return examined, false, err
		}
		if inode, ok := parseSocketLink(target); ok {
			visit(fd, inode)
		}
	}
	return examined, true, nil
}

func kcmpFiles(int, int) (int, error) { return 0, errors.ErrUnsupported }
