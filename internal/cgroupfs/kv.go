package cgroupfs

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/cgroupmem/cgroupmem/internal/lines"
)

// parseKV parses the "key value" lines of memory.stat, memory.events and memory.oom_control,
// calling fn for each. Keys are matched by name, never by position: kernels add fields in the
// middle. A value that is not an unsigned integer is an error quoting the line; an empty file
// is no error.
//
//	cache 102137856
//	rss 76804096
//
// fn must not keep key: it aliases b.
func parseKV(b []byte, fn func(key []byte, val uint64)) error {
	for len(b) > 0 {
		var line []byte
		line, b = lines.Next(b)
		if len(line) == 0 {
			continue
		}
		sp := bytes.IndexByte(line, ' ')
		if sp <= 0 {
			return fmt.Errorf("%w: line %q: want \"key value\"", ErrMalformed, line)
		}
		v, err := parseUint(line[sp+1:])
		if err != nil {
			return fmt.Errorf("line %q: %w", line, err)
		}
		fn(line[:sp], v)
	}
	return nil
}

// parseUint parses a decimal unsigned integer, ignoring surrounding blanks and a trailing
// newline, without allocating.
func parseUint(b []byte) (uint64, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0, fmt.Errorf("%w: empty value", ErrMalformed)
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: value %q is not an unsigned integer", ErrMalformed, b)
		}
		d := uint64(c - '0')
		if v > (^uint64(0)-d)/10 {
			return 0, fmt.Errorf("%w: value %q overflows: %w", ErrMalformed, b, strconv.ErrRange)
		}
		v = v*10 + d
	}
	return v, nil
}

// unlimitedV1 is the smallest value treated as "no limit" in v1 files: the kernel prints
// PAGE_COUNTER_MAX pages (9223372036854771712 with 4 KiB pages) when nothing was set.
const unlimitedV1 = 1 << 62

// parseLimit parses a limit file: v2 "max" or a v1 near-2^63 value mean no limit (ok=false).
func parseLimit(b []byte) (limit uint64, ok bool, err error) {
	t := bytes.TrimSpace(b)
	if string(t) == "max" {
		return 0, false, nil
	}
	v, err := parseUint(t)
	if err != nil {
		return 0, false, err
	}
	if v >= unlimitedV1 {
		return 0, false, nil
	}
	return v, true, nil
}
