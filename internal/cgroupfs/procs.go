package cgroupfs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
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
// A cgroup's directory is listed only when it has child cgroups: its link count, 2 plus its
// subdirectories on cgroupfs (kernfs) as on most filesystems, says so without a read of its
// several dozen control files.
func Procs(dir string) ([]int, error) {
	var pids []int
	var errs []error
	procsBelow(dir, &pids, &errs)
	return pids, errors.Join(errs...)
}

// procsGone reports whether an error reading a cgroup's processes says the cgroup was removed:
// ENOENT, or ENODEV from a cgroupfs file opened just before its cgroup was removed (seen under
// churn in make soak-short: "read .../cgroup.procs: no such device").
func procsGone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENODEV)
}

func procsBelow(dir string, pids *[]int, errs *[]error) {
	file := filepath.Join(dir, "cgroup.procs")
	b, err := os.ReadFile(file)
	switch {
	case procsGone(err):
		return
	case err != nil:
		*errs = append(*errs, err)
	default:
		if *pids, err = parseProcs(b, *pids); err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %w", file, err))
		}
	}
	if dirLinks(dir) == 2 {
		return // no child cgroup
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !procsGone(err) {
			*errs = append(*errs, err)
		}
		return
	}
	for _, e := range entries {
		if e.IsDir() {
			procsBelow(filepath.Join(dir, e.Name()), pids, errs)
		}
	}
}
