package nodemem

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// ErrMalformed marks a procfs file that does not have the documented format.
var ErrMalformed = errors.New("nodemem: malformed file")

// DentryState is /proc/sys/fs/dentry-state.
type DentryState struct {
	Total    uint64 // nr_dentry
	Unused   uint64 // nr_unused
	Negative uint64 // nr_negative (unused negative dentries)
	// HasNegative is false on kernels before 5.0, where the field was a dummy.
	HasNegative bool
}

// parseDentryState parses the six numbers of dentry-state:
//
//	nr_dentry nr_unused age_limit want_pages nr_negative dummy
//	235124	233655	45	0	111385	0
//
// Kernels before 5.0 print a dummy 0 where nr_negative is; the caller says which it is.
func parseDentryState(b []byte, hasNegative bool) (DentryState, error) {
	fields := bytes.Fields(b)
	if len(fields) < 6 {
		return DentryState{}, fmt.Errorf("%w: dentry-state %q: %d fields, want 6", ErrMalformed, b, len(fields))
	}
	var nums [6]uint64
	for i := range nums {
		v, err := strconv.ParseUint(string(fields[i]), 10, 64)
		if err != nil {
			return DentryState{}, fmt.Errorf("%w: dentry-state field %d %q: %w", ErrMalformed, i, fields[i], err)
		}
		nums[i] = v
	}
	return DentryState{Total: nums[0], Unused: nums[1], Negative: nums[4], HasNegative: hasNegative}, nil
}

// ReadDentryState reads <procRoot>/sys/fs/dentry-state. nr_negative is known from kernel 5.0,
// which <procRoot>/sys/kernel/osrelease tells; when that file is missing it is assumed.
func ReadDentryState(procRoot string) (DentryState, error) {
	p := filepath.Join(procRoot, "sys", "fs", "dentry-state")
	b, err := os.ReadFile(p)
	if err != nil {
		return DentryState{}, fmt.Errorf("reading %s: %w", p, err)
	}
	st, err := parseDentryState(b, kernelAtLeast(procRoot, 5, 0))
	if err != nil {
		return DentryState{}, fmt.Errorf("%s: %w", p, err)
	}
	return st, nil
}

// kernelAtLeast compares <procRoot>/sys/kernel/osrelease with major.minor; true when unknown.
func kernelAtLeast(procRoot string, major, minor int) bool {
	b, err := os.ReadFile(filepath.Join(procRoot, "sys", "kernel", "osrelease"))
	if err != nil {
		return true
	}
	var maj, min int
	if _, err := fmt.Sscanf(string(b), "%d.%d", &maj, &min); err != nil {
		return true
	}
	return maj > major || (maj == major && min >= minor)
}
