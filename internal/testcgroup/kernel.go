package testcgroup

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// unlimited is the smallest memory.limit_in_bytes that means no limit: the kernel prints
// PAGE_COUNTER_MAX pages, 9223372036854771712 bytes with 4 KiB pages.
const unlimited = 1 << 62

// Kernel is what a memory cgroup's files say, read and parsed here with no code shared with
// the receiver, so that tests can hold the receiver's numbers against it. On v2 the fields
// come from the files that mean the same: memory.current, memory.max ("max": unlimited),
// kernel and sock of memory.stat, oom_kill of memory.events.
type Kernel struct {
	Usage    uint64            // memory.usage_in_bytes
	Limit    uint64            // memory.limit_in_bytes
	Kmem     uint64            // memory.kmem.usage_in_bytes
	TCPKmem  uint64            // memory.kmem.tcp.usage_in_bytes
	OOMKills uint64            // oom_kill in memory.oom_control
	Stat     map[string]uint64 // memory.stat
}

// Limited reports whether memory.limit_in_bytes holds a limit.
func (k Kernel) Limited() bool { return k.Limit < unlimited }

// ReadKernel reads the memory files of the v1 or v2 cgroup in dir. It fails the test with
// Fatalf, so it must run on the test's goroutine: inside a require.Eventually condition,
// use ReadKernelErr.
func ReadKernel(tb testing.TB, dir string) Kernel {
	tb.Helper()
	k, err := readKernel(dir)
	if err != nil {
		tb.Fatalf("testcgroup: %v", err)
	}
	return k
}

// ReadKernelErr is ReadKernel returning its error, for code off the test's goroutine.
func ReadKernelErr(dir string) (Kernel, error) {
	k, err := readKernel(dir)
	if err != nil {
		return k, fmt.Errorf("testcgroup: %w", err)
	}
	return k, nil
}

func readKernel(dir string) (Kernel, error) {
	if _, err := os.Stat(filepath.Join(dir, "memory.current")); err == nil {
		return readKernelV2(dir)
	}
	var k Kernel
	var err error
	for _, f := range []struct {
		name string
		v    *uint64
	}{
		{"memory.usage_in_bytes", &k.Usage},
		{"memory.limit_in_bytes", &k.Limit},
		{"memory.kmem.usage_in_bytes", &k.Kmem},
		{"memory.kmem.tcp.usage_in_bytes", &k.TCPKmem},
	} {
		if *f.v, err = readNumber(filepath.Join(dir, f.name)); err != nil {
			return k, err
		}
	}
	if k.Stat, err = readPairs(filepath.Join(dir, "memory.stat")); err != nil {
		return k, err
	}
	oom, err := readPairs(filepath.Join(dir, "memory.oom_control"))
	k.OOMKills = oom["oom_kill"]
	return k, err
}

func readKernelV2(dir string) (Kernel, error) {
	var k Kernel
	var err error
	if k.Usage, err = readNumber(filepath.Join(dir, "memory.current")); err != nil {
		return k, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "memory.max"))
	if err != nil {
		return k, err
	}
	if s := strings.TrimSpace(string(b)); s == "max" {
		k.Limit = 1<<63 - 1
	} else if k.Limit, err = strconv.ParseUint(s, 10, 64); err != nil {
		return k, fmt.Errorf("%s/memory.max: %w", dir, err)
	}
	if k.Stat, err = readPairs(filepath.Join(dir, "memory.stat")); err != nil {
		return k, err
	}
	k.Kmem, k.TCPKmem = k.Stat["kernel"], k.Stat["sock"]
	events, err := readPairs(filepath.Join(dir, "memory.events"))
	k.OOMKills = events["oom_kill"]
	return k, err
}

// readNumber reads a file holding one decimal number.
func readNumber(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// readPairs reads a file of "key value" lines.
func readPairs(path string) (map[string]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parsePairs(path, bufio.NewScanner(f))
}

func parsePairs(name string, sc *bufio.Scanner) (map[string]uint64, error) {
	out := map[string]uint64{}
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s: line %q: want \"key value\"", name, sc.Text())
		}
		v, err := strconv.ParseUint(fields[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: line %q: %w", name, sc.Text(), err)
		}
		out[fields[0]] = v
	}
	return out, sc.Err()
}
