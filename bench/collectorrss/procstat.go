package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat: USER_HZ, 100 on Linux.
const clockTick = 10 * time.Millisecond

// processCPU is the user and system time a process has used, all its threads together.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime, fields 14 and 15 of /proc/<pid>/stat:
//
//	1234 (otelcol-cgroupm) S 1 1234 1234 0 -1 4194560 5123 0 0 0 312 87 0 0 20 0 12 ...
//
// The command name may hold spaces and parentheses, so fields are counted from its last ")".
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/<pid>/stat: no \")\" in %q", b)
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/<pid>/stat: %d fields after the command, want 13 or more", len(f))
	}
	var ticks uint64
	for _, s := range f[11:13] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/<pid>/stat: utime or stime %q: %w", s, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * clockTick, nil
}

// status is what /proc/<pid>/status says of a process's memory.
type status struct {
	rss, hwm uint64 // VmRSS and VmHWM, bytes
}

func readStatus(pid int) (status, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return status{}, err
	}
	return parseStatus(b)
}

// parseStatus reads the VmRSS and VmHWM lines of /proc/<pid>/status:
//
//	VmHWM:	   48212 kB
//	VmRSS:	   46100 kB
func parseStatus(b []byte) (status, error) {
	var st status
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		var dst *uint64
		switch {
		case !ok:
			continue
		case key == "VmRSS":
			dst = &st.rss
		case key == "VmHWM":
			dst = &st.hwm
		default:
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return st, fmt.Errorf("/proc/<pid>/status: line %q: want \"%s: <n> kB\"", sc.Text(), key)
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return st, fmt.Errorf("/proc/<pid>/status: line %q: %w", sc.Text(), err)
		}
		*dst = v * 1024
		found++
	}
	if err := sc.Err(); err != nil {
		return st, err
	}
	if found != 2 {
		return st, fmt.Errorf("/proc/<pid>/status: no VmRSS or VmHWM line")
	}
	return st, nil
}
