// Package psi parses the kernel's pressure stall information (PSI) files: a cgroup's
// memory.pressure (cgroup2, also under the unified mount of a v1 hybrid host) and the node's
// /proc/pressure/memory. Both print the same two lines (Documentation/accounting/psi.rst):
//
//	some avg10=0.00 avg60=0.00 avg300=0.00 total=0
//	full avg10=0.00 avg60=0.00 avg300=0.00 total=0
//
// avgN is the share of wall time, in percent with two decimals, that some (or all) of the
// group's non-idle tasks were stalled on memory over the last N seconds; total is the
// cumulative stall time in microseconds.
package psi // import "github.com/cgroupmem/cgroupmem/internal/psi"

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/cgroupmem/cgroupmem/internal/lines"
)

// ErrMalformed marks PSI text that does not have the kernel's format.
var ErrMalformed = errors.New("psi: malformed pressure file")

// Line is one line of a pressure file. OK is false when the file has no such line: a zero
// Line is absent, not a group that never stalled.
type Line struct {
	Avg10, Avg60, Avg300 float64 // percent of wall time, 0..100
	Total                uint64  // cumulative stall time, µs
	OK                   bool
}

// Pressure is a parsed pressure file.
type Pressure struct {
	Some, Full Line
}

// Parse parses a pressure file. Lines other than "some" and "full" are skipped (a later
// kernel may add kinds); a "some" or "full" line must carry avg10, avg60, avg300 and total
// once each, in any order, each a number of the kernel's form; an avg must be 0..100; the
// same kind twice is an error. Errors quote the token at fault. An empty file is no error and
// has no lines.
func Parse(b []byte) (Pressure, error) {
	var p Pressure
	for len(b) > 0 {
		var line []byte
		line, b = lines.Next(b)
		if len(line) == 0 {
			continue
		}
		kind, rest, _ := bytes.Cut(line, []byte(" "))
		var dst *Line
		switch string(kind) {
		case "some":
			dst = &p.Some
		case "full":
			dst = &p.Full
		default:
			continue
		}
		if dst.OK {
			return Pressure{}, fmt.Errorf("%w: a second %q line %q", ErrMalformed, kind, line)
		}
		l, err := parseLine(rest)
		if err != nil {
			return Pressure{}, fmt.Errorf("%s line %q: %w", kind, line, err)
		}
		*dst = l
	}
	return p, nil
}

// parseLine parses "avg10=0.00 avg60=0.00 avg300=0.00 total=0".
func parseLine(b []byte) (Line, error) {
	var l Line
	var seen uint8
	// The tokens of bytes.Split(b, " "), empty ones included, without its slice: this runs
	// twice per cgroup and scrape.
	for more := true; more; {
		var tok []byte
		tok, b, more = bytes.Cut(b, []byte(" "))
		key, val, ok := bytes.Cut(tok, []byte("="))
		if !ok {
			return Line{}, fmt.Errorf("%w: token %q: want key=value", ErrMalformed, tok)
		}
		var bit uint8
		var err error
		switch string(key) {
		case "avg10":
			bit = 1
			l.Avg10, err = parseAvg(val)
		case "avg60":
			bit = 2
			l.Avg60, err = parseAvg(val)
		case "avg300":
			bit = 4
			l.Avg300, err = parseAvg(val)
		case "total":
			bit = 8
			l.Total, err = parseTotal(val)
		default:
			continue // a field a later kernel may add
		}
		if err != nil {
			return Line{}, fmt.Errorf("token %q: %w", tok, err)
		}
		if seen&bit != 0 {
			return Line{}, fmt.Errorf("%w: token %q: %s given twice", ErrMalformed, tok, key)
		}
		seen |= bit
	}
	if seen != 15 {
		return Line{}, fmt.Errorf("%w: want avg10, avg60, avg300 and total", ErrMalformed)
	}
	l.OK = true
	return l, nil
}

// parseAvg parses the kernel's "%lu.%02lu" percent.
func parseAvg(b []byte) (float64, error) {
	whole, frac, ok := bytes.Cut(b, []byte("."))
	if !ok || !digits(whole) || len(frac) != 2 || !digits(frac) || len(whole) > 3 {
		return 0, fmt.Errorf("%w: average %q: want a percent with two decimals", ErrMalformed, b)
	}
	w, _ := strconv.ParseUint(string(whole), 10, 64)
	f, _ := strconv.ParseUint(string(frac), 10, 64)
	v := float64(w*100+f) / 100
	if v > 100 {
		return 0, fmt.Errorf("%w: average %q over 100 %%", ErrMalformed, b)
	}
	return v, nil
}

func parseTotal(b []byte) (uint64, error) {
	if !digits(b) {
		return 0, fmt.Errorf("%w: total %q: want an unsigned integer", ErrMalformed, b)
	}
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: total %q: %w", ErrMalformed, b, err)
	}
	return v, nil
}

func digits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Format prints p as the kernel does, "some" before "full", absent lines left out. Avgs are
// printed with two decimals, rounded to the nearest hundredth.
func Format(p Pressure) []byte {
	var out []byte
	for _, k := range []struct {
		name string
		l    Line
	}{{"some", p.Some}, {"full", p.Full}} {
		if !k.l.OK {
			continue
		}
		out = fmt.Appendf(out, "%s avg10=%s avg60=%s avg300=%s total=%d\n", k.name,
			formatAvg(k.l.Avg10), formatAvg(k.l.Avg60), formatAvg(k.l.Avg300), k.l.Total)
	}
	return out
}

func formatAvg(v float64) string {
	h := uint64(v*100 + 0.5)
	return fmt.Sprintf("%d.%02d", h/100, h%100)
}
