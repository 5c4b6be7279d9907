package nodemem

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/cgroupmem/cgroupmem/internal/lines"
)

// ReadOOMKills reads the node's count of OOM kills, oom_kill in <procRoot>/vmstat (kernel
// 4.13+); found is false on kernels without it. The kernel counts it where it counts the
// victim's memory cgroup's oom_kill, for cgroup and node-wide OOM kills alike, so while it
// stays the same no cgroup's count has changed.
func ReadOOMKills(procRoot string) (kills uint64, found bool, err error) {
	p := filepath.Join(procRoot, "vmstat")
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, false, fmt.Errorf("reading %s: %w", p, err)
	}
	kills, found, err = parseVMStatOOMKills(b)
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", p, err)
	}
	return kills, found, nil
}

// parseVMStatOOMKills finds the oom_kill line of /proc/vmstat:
//
//	pgmajfault 2045
//	oom_kill 3
func parseVMStatOOMKills(b []byte) (uint64, bool, error) {
	for len(b) > 0 {
		var line []byte
		line, b = lines.Next(b)
		rest, ok := bytes.CutPrefix(line, []byte("oom_kill "))
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(string(bytes.TrimSpace(rest)), 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("%w: vmstat line %q: %w", ErrMalformed, line, err)
		}
		return v, true, nil
	}
	return 0, false, nil
}
