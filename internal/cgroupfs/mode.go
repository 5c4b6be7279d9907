package cgroupfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// Mode is how the host mounts its cgroup memory controller.
type Mode int

const (
	// ModeV1 is a cgroup v1 memory hierarchy at sys/fs/cgroup/memory.
	ModeV1 Mode = iota + 1
	// ModeHybrid is a v1 memory hierarchy beside a cgroup2 mount at sys/fs/cgroup/unified.
	ModeHybrid
	// ModeV2 is the unified hierarchy at sys/fs/cgroup with the memory controller enabled.
	ModeV2
)

func (m Mode) String() string {
	switch m {
	case ModeV1:
		return "v1"
	case ModeHybrid:
		return "hybrid"
	case ModeV2:
		return "v2"
	}
	return "unknown"
}

// V2 reports whether memory files follow the cgroup v2 format.
func (m Mode) V2() bool { return m == ModeV2 }

// Hierarchy is the host's memory cgroup hierarchy as seen under a root path.
type Hierarchy struct {
	Mode Mode
	// Dir is the directory of the root memory cgroup, e.g. <root>/sys/fs/cgroup/memory.
	Dir string
	// Unified is the root of the cgroup2 mount beside a hybrid host's v1 hierarchy,
	// <root>/sys/fs/cgroup/unified, where runc and crun place each container's processes at
	// the same relative path as in the memory hierarchy, and the kernel accounts their memory
	// pressure (memory.pressure). "" unless the mode is ModeHybrid.
	Unified string
}

// DetectHierarchy finds the memory controller under root from the files themselves (not from
// the caller's own mount namespace, which in a DaemonSet is the container's):
// <root>/sys/fs/cgroup/cgroup.controllers listing "memory" means v2;
// <root>/sys/fs/cgroup/memory/memory.stat means v1, hybrid when sys/fs/cgroup/unified exists.
func DetectHierarchy(root string) (Hierarchy, error) {
	base := filepath.Join(root, "sys", "fs", "cgroup")
	if b, err := os.ReadFile(filepath.Join(base, "cgroup.controllers")); err == nil && hasWord(b, "memory") {
		return Hierarchy{Mode: ModeV2, Dir: base}, nil
	}
	v1 := filepath.Join(base, "memory")
	if _, err := os.Stat(filepath.Join(v1, "memory.stat")); err == nil {
		h := Hierarchy{Mode: ModeV1, Dir: v1}
		if fi, err := os.Stat(filepath.Join(base, "unified")); err == nil && fi.IsDir() {
			h.Mode, h.Unified = ModeHybrid, filepath.Join(base, "unified")
		}
		return h, nil
	}
	return Hierarchy{}, fmt.Errorf("%w under %q: neither %s listing memory nor %s exists",
		ErrNoMemoryController, root, filepath.Join(base, "cgroup.controllers"), filepath.Join(v1, "memory.stat"))
}

func hasWord(b []byte, word string) bool {
	for _, f := range bytes.Fields(b) {
		if string(f) == word {
			return true
		}
	}
	return false
}
