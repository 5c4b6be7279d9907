package cgroupfs

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/cgroupmem/cgroupmem/internal/lines"
)

// parseKV parses the "key value" lines of memory.stat, memory.events and memory.oom_control,
// calling fn for each. Keys are matched by name, never by position: kernels add fields in the
// middle. A line that is not a key and an unsigned integer is skipped and makes the error,
// which quotes the first such line and counts the others: the other lines of the file are
// still passed to fn, so a bad line costs only its own key. A file without any line (empty,
// or blank lines only) is an error too: the kernel never writes one.
//
//	cache 102137856
//	rss 76804096
//
// fn must not keep key: it aliases b.
func parseKV(b []byte, fn func(key []byte, val uint64)) error {
	var first error
	bad, good := 0, 0
	for len(b) > 0 {
		var line []byte
		line, b = lines.Next(b)
		if len(line) == 0 {
			continue
		}
		var err error
		sp := bytes.IndexByte(line, ' ')
		if sp <= 0 {
			err = fmt.Errorf("%w: line %s: want \"key value\"", ErrMalformed, quoteToken(line))
		} else if v, perr := parseUint(line[sp+1:]); perr != nil {
			err = fmt.Errorf("line %s: %w", quoteToken(line), perr)
		} else {
			fn(line[:sp], v)
			good++
			continue
		}
		if bad == 0 {
			first = err
		}
		bad++
	}
	switch {
	case bad > 1:
		return fmt.Errorf("%w (and %d more bad lines)", first, bad-1)
	case bad == 1:
		return first
	case good == 0:
		return fmt.Errorf("%w: no \"key value\" line", ErrMalformed)
	}
	return nil
}

// maxQuoted is the most bytes of a bad token an error quotes: a corrupted file can hold
// kilobytes of binary on one line.
const maxQuoted = 64

// quoteToken quotes b for an error message, cut to maxQuoted bytes.
func quoteToken(b []byte) string {
	if len(b) <= maxQuoted {
		return strconv.Quote(string(b))
	}
	return strconv.Quote(string(b[:maxQuoted])) + fmt.Sprintf("... (%d bytes)", len(b))
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
			return 0, fmt.Errorf("%w: value %s is not an unsigned integer", ErrMalformed, quoteToken(b))
		}
		d := uint64(c - '0')
		if v > (^uint64(0)-d)/10 {
			return 0, fmt.Errorf("%w: value %s overflows: %w", ErrMalformed, quoteToken(b), strconv.ErrRange)
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
