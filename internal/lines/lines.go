// Package lines splits the text of kernel files (memory.stat, memory.events, vmstat,
// slabinfo, pressure files) into lines, without allocating.
package lines // import "github.com/cgroupmem/cgroupmem/internal/lines"

import "bytes"

// Next returns the first line of b, without its newline, and what follows that newline. The
// last line need not end in a newline. The idiom is
//
//	for len(b) > 0 {
//		var line []byte
//		line, b = lines.Next(b)
//		...
//	}
func Next(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}
