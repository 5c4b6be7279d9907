package cgroupfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/cgroupmem/cgroupmem/internal/lines"
)

// The OOM-kill cache, all of it. The kernel counts every OOM kill in the node's oom_kill of
// /proc/vmstat and in the victim's memory cgroup (oom_kill of v1 memory.oom_control, v2
// memory.events) at once. So while the node's count stays the same no cgroup's count has
// changed, and a cgroup whose count was read since is not read again: one file less per
// container and scrape. TrackNodeOOMKills reads the node's count before a scrape; each count
// change starts an epoch; a cgroup's handle keeps the count it read and its epoch; the
// sources that read oom_kill alone (memory_v1.go, memory_v2.go) skip the file while the
// handle's reading is of the current epoch. A reader never told the node's count, or told it
// is unknown, reads every cgroup's count every time.

// oomCache is the reader's side: the node's count and its epoch.
type oomCache struct {
	epoch   uint64 // counts changes of the node's OOM kill count
	count   uint64
	tracked bool // the node's count is known
}

// oomReading is a cgroup's oom_kill, read in the reader's epoch epoch; read is false until a
// read without error.
type oomReading struct {
	kills Value
	epoch uint64
	read  bool
}

// TrackNodeOOMKills reads the node's OOM kill count, oom_kill of <procRoot>/vmstat, and tells
// the reader (NodeOOMKills). known is false when the kernel has no such counter (before 4.13)
// or the file cannot be read (err says why): every cgroup's count is then read every time.
func (r *MemoryReader) TrackNodeOOMKills(procRoot string) (known bool, err error) {
	kills, found, err := readNodeOOMKills(procRoot)
	r.NodeOOMKills(kills, err == nil && found)
	return err == nil && found, err
}

// NodeOOMKills tells the reader the node's OOM kill count before a scrape, known false when
// it could not be read.
func (r *MemoryReader) NodeOOMKills(count uint64, known bool) {
	c := &r.oom
	if !known || !c.tracked || count != c.count {
		c.epoch++
	}
	c.count, c.tracked = count, known
}

// oomKillsKnown skips reading the OOM kill count alone (from v1 memory.oom_control, v2
// memory.events) when another source read that file already (withFile: OptUnderOOM on v1,
// OptEvents on v2), or when the handle read it in the current epoch: then it fills OOMKills
// from the handle.
func oomKillsKnown(withFile Optional) func(*MemoryReader, *Cgroup, *Memory, Optional) bool {
	return func(r *MemoryReader, cg *Cgroup, m *Memory, opt Optional) bool {
		if opt&withFile != 0 {
			return true
		}
		if !r.oom.tracked || !cg.oom.read || cg.oom.epoch != r.oom.epoch {
			return false
		}
		m.OOMKills = cg.oom.kills
		return true
	}
}

// keepOOMKills keeps a cgroup's OOM kill count, read without error in the current epoch.
func (r *MemoryReader) keepOOMKills(cg *Cgroup, kills Value) {
	cg.oom = oomReading{kills: kills, epoch: r.oom.epoch, read: true}
}

// readNodeOOMKills reads oom_kill of <procRoot>/vmstat (kernel 4.13+); found is false on
// kernels without it.
func readNodeOOMKills(procRoot string) (kills uint64, found bool, err error) {
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
