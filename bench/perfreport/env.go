package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/cgroupmem/cgroupmem/internal/cgroupfs"
)

// machine describes where the numbers were taken.
type machine struct {
	kernel, cgroupMode, cpu, goVersion, commit string
	cores                                      int
}

// thisMachine reads the kernel release, the cgroup mode as the receiver detects it under /,
// the CPU model and the git commit of the working tree.
func thisMachine(cpuFromBench string) machine {
	m := machine{cpu: cpuFromBench, cores: runtime.NumCPU(), goVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	if h, err := cgroupfs.DetectHierarchy("/"); err == nil {
		m.cgroupMode = modeNames[h.Mode] + ", memory controller at " + h.Dir
	} else {
		m.cgroupMode = "unknown (" + err.Error() + ")"
	}
	if m.cpu == "" {
		m.cpu = cpuModel()
	}
	m.commit = gitCommit()
	return m
}

var modeNames = map[cgroupfs.Mode]string{
	cgroupfs.ModeV1:     "cgroup v1 (no cgroup2 mount)",
	cgroupfs.ModeHybrid: "cgroup v1 hybrid (cgroup2 at /sys/fs/cgroup/unified)",
	cgroupfs.ModeV2:     "cgroup v2",
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// gitCommit is HEAD's short hash, marked when the working tree has uncommitted changes.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		c += " with uncommitted changes"
	}
	return c
}
