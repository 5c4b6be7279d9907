package dentrybpf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cgroupmem/cgroupmem/internal/slabinfo"
)

var (
	errMalformed = errors.New("dentrybpf: malformed slab file")
	errNoCache   = errors.New("dentrybpf: cache not found")
)

// objectSize is the dentry cache's per-object footprint and where it came from.
type objectSize struct {
	bytes  uint64
	source string
}

// readObjectSize returns the dentry cache's per-object footprint in bytes
// (s->size: the object plus any slab metadata): from
// <sysRoot>/kernel/slab/dentry/slab_size (SLUB, world-readable), else the
// objsize column of <procRoot>/slabinfo (root only), else DefaultObjectSize.
func readObjectSize(sysRoot, procRoot string) (objectSize, error) {
	var errs []error
	path := filepath.Join(sysRoot, "kernel/slab/dentry/slab_size")
	if b, err := os.ReadFile(path); err == nil {
		n, err := parseSlabSize(bytes.NewReader(b))
		if err == nil {
			return objectSize{n, path}, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", path, err))
	} else {
		errs = append(errs, err)
	}

	path = filepath.Join(procRoot, "slabinfo")
	if b, err := os.ReadFile(path); err == nil {
		n, err := parseSlabinfoObjSize(b, "dentry")
		if err == nil {
			return objectSize{n, path}, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", path, err))
	} else {
		errs = append(errs, err)
	}
	return objectSize{DefaultObjectSize, "default"}, errors.Join(errs...)
}

// parseSlabSize parses a SLUB sysfs attribute holding one decimal number,
// e.g. /sys/kernel/slab/dentry/slab_size: "192\n".
func parseSlabSize(r io.Reader) (uint64, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%w: size %q", errMalformed, s)
	}
	return n, nil
}

// parseSlabinfoObjSize returns the objsize column of cache's row in /proc/slabinfo, as
// internal/slabinfo parses the table.
func parseSlabinfoObjSize(b []byte, cache string) (uint64, error) {
	c, _, found, err := slabinfo.Find(b, cache)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%w: %w", errMalformed, err)
	case !found:
		return 0, fmt.Errorf("%w: %q", errNoCache, cache)
	case c.ObjectSize == 0:
		return 0, fmt.Errorf("%w: %s objsize 0", errMalformed, cache)
	}
	return c.ObjectSize, nil
}
