package cgroupfs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// parseProcs parses cgroup.procs: one pid per line.
//
//	359
//	360
func parseProcs(b []byte, pids []int) ([]int, error) {
	for _, f := range bytes.Fields(b) {
		pid, err := strconv.Atoi(string(f))
		if err != nil || pid <= 0 {
			return pids, fmt.Errorf("%w: pid %q", ErrMalformed, f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// Procs returns the pids of the processes in the cgroup at dir and in every cgroup below it
// (cgroup.procs lists only a cgroup's own processes; crun puts a container's workload in a
// "container" child). A cgroup removed meanwhile is skipped; other errors name the file.
func Procs(dir string) ([]int, error) {
	var pids []int
	var errs []error
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		file := filepath.Join(p, "cgroup.procs")
		b, err := os.ReadFile(file)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil
		case err != nil:
			errs = append(errs, err)
			return nil
		}
		if pids, err = parseProcs(b, pids); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", file, err))
		}
		return nil
	})
	return pids, errors.Join(append(errs, err)...)
}
