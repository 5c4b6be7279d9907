// Package slabinfo parses the "slabinfo - version: 2.1" table that /proc/slabinfo and a cgroup
// v1 memory.kmem.slabinfo (kernels 4.2–5.8; empty since 5.9) print.
package slabinfo // import "github.com/cgroupmem/cgroupmem/internal/slabinfo"

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/cgroupmem/cgroupmem/internal/lines"
)

// ErrMalformed marks a slabinfo table that does not have the 2.1 format.
var ErrMalformed = errors.New("slabinfo: malformed table")

// Cache is one row of the table.
type Cache struct {
	ActiveObjects uint64
	Objects       uint64
	ObjectSize    uint64
}

// ActiveBytes is the memory of the cache's active objects.
func (c Cache) ActiveBytes() uint64 { return c.ActiveObjects * c.ObjectSize }

// Table says what a slabinfo file held.
type Table int

const (
	// Empty is a file with no content: memory.kmem.slabinfo since kernel 5.9.
	Empty Table = iota
	// Filled is a table with a header, whether or not the cache has a row.
	Filled
)

// Find looks up one cache by name. It returns Empty for an empty file; for a filled table
// without a row for the cache it returns Filled and found=false (the cgroup allocated none).
//
//	slabinfo - version: 2.1
//	# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables ...
//	dentry            235158 235158    192   21    1 : tunables    0    0    0 : slabdata  11198  11198      0
func Find(b []byte, name string) (c Cache, t Table, found bool, err error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return Cache{}, Empty, false, nil
	}
	header := false
	for len(b) > 0 {
		var line []byte
		line, b = lines.Next(b)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if bytes.HasPrefix(line, []byte("slabinfo - version:")) {
			if v := bytes.TrimSpace(line[len("slabinfo - version:"):]); !bytes.HasPrefix(v, []byte("2.")) {
				return Cache{}, Filled, false, fmt.Errorf("%w: unsupported version %q", ErrMalformed, v)
			}
			header = true
			continue
		}
		if !header {
			return Cache{}, Filled, false, fmt.Errorf("%w: row %q before the version header", ErrMalformed, line)
		}
		fields := bytes.Fields(line)
		if len(fields) < 4 {
			return Cache{}, Filled, false, fmt.Errorf("%w: row %q has %d fields, want at least 4", ErrMalformed, line, len(fields))
		}
		if string(fields[0]) != name {
			continue
		}
		var nums [3]uint64
		for i := range nums {
			v, err := strconv.ParseUint(string(fields[i+1]), 10, 64)
			if err != nil {
				return Cache{}, Filled, false, fmt.Errorf("%w: row %q: field %d %q: %w", ErrMalformed, line, i+1, fields[i+1], err)
			}
			nums[i] = v
		}
		return Cache{ActiveObjects: nums[0], Objects: nums[1], ObjectSize: nums[2]}, Filled, true, nil
	}
	if !header {
		return Cache{}, Filled, false, fmt.Errorf("%w: no version header", ErrMalformed)
	}
	return Cache{}, Filled, false, nil
}
