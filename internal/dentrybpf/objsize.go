package dentrybpf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	if f, err := os.Open(path); err == nil {
		n, err := parseSlabinfoObjSize(f, "dentry")
		f.Close()
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

// parseSlabinfoObjSize returns the objsize column of cache's row in
// /proc/slabinfo (version 2.x). Row format:
//
//	# name <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables ...
//	dentry  41559  41559  192  21  1 : tunables 0 0 0 : slabdata 1979 1979 0
func parseSlabinfoObjSize(r io.Reader, cache string) (uint64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != cache {
			continue
		}
		if len(fields) < 4 {
			return 0, fmt.Errorf("%w: short %s row: %q", errMalformed, cache, sc.Text())
		}
		n, err := strconv.ParseUint(fields[3], 10, 64)
		if err != nil || n == 0 {
			return 0, fmt.Errorf("%w: %s objsize %q", errMalformed, cache, fields[3])
		}
		return n, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%w: %q", errNoCache, cache)
}
