package testruntime

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const mib = 1 << 20

// Workload is what a container's shell does before it sleeps for good: a file in /tmp read
// back twice (its page cache turns active), a file in /dev/shm (shmem), and a shell variable
// of anonymous memory. PID 1 is that shell: it ignores SIGTERM, so the helpers stop
// containers with SIGKILL.
type Workload struct {
	FileMiB, ShmMiB, AnonMiB int
}

// Command is the container's command line: sh -c <script>.
func (w Workload) Command() []string {
	var b strings.Builder
	if w.FileMiB > 0 {
		fmt.Fprintf(&b, "head -c %d /dev/urandom > /tmp/file; cat /tmp/file > /dev/null; cat /tmp/file > /dev/null; ", w.FileMiB*mib)
	}
	if w.ShmMiB > 0 {
		fmt.Fprintf(&b, "dd if=/dev/zero of=/dev/shm/shm bs=1048576 count=%d 2>/dev/null; ", w.ShmMiB)
	}
	if w.AnonMiB > 0 {
		fmt.Fprintf(&b, "anon=$(head -c %d /dev/zero | tr '\\0' a); ", w.AnonMiB*mib)
	}
	b.WriteString("while true; do sleep 3600; done")
	return []string{"sh", "-c", b.String()}
}

// WaitReady waits until the container's v1 memory cgroup in dir holds what the workload
// makes: total_shmem of at least ShmMiB and total_rss of at least AnonMiB, the last step.
// (The file's cache is not waited for: a few of its pages may be charged elsewhere.)
func (w Workload) WaitReady(tb testing.TB, dir string) {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var stat map[string]uint64
	var err error
	for time.Now().Before(deadline) {
		stat, err = readStat(filepath.Join(dir, "memory.stat"))
		if err == nil && stat["total_rss"] >= uint64(w.AnonMiB)*mib && stat["total_shmem"] >= uint64(w.ShmMiB)*mib {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("testruntime: workload %+v in %s not done after 60 s: memory.stat %v (%v)", w, dir, stat, err)
}

func readStat(path string) (map[string]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", path, sc.Text(), err)
		}
		out[k] = n
	}
	return out, sc.Err()
}
