package main

import (
	"fmt"
	"strings"
)

// The markers around the generated section of README.md.
const (
	beginMarker = "<!-- perf:begin -->"
	endMarker   = "<!-- perf:end -->"
)

// splice puts section between the markers of readme, replacing what was there, or appends
// the markers and the section at the end when readme has neither marker.
func splice(readme, section string) (string, error) {
	section = strings.TrimRight(section, "\n") + "\n"
	begin, end := strings.Index(readme, beginMarker), strings.Index(readme, endMarker)
	switch {
	case begin < 0 && end < 0:
		return strings.TrimRight(readme, "\n") + "\n\n" + beginMarker + "\n" + section + endMarker + "\n", nil
	case begin < 0 || end < 0 || end < begin:
		return "", fmt.Errorf("README: want %s before %s, or neither", beginMarker, endMarker)
	case strings.Count(readme, beginMarker) > 1 || strings.Count(readme, endMarker) > 1:
		return "", fmt.Errorf("README: %s or %s appears more than once", beginMarker, endMarker)
	}
	return readme[:begin+len(beginMarker)] + "\n" + section + readme[end:], nil
}
