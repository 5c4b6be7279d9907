package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// hierarchy is where the host mounts the cgroup v1 memory controller, and unifiedHierarchy
// where a v1 hybrid host mounts cgroup2 (no controller in it).
const (
	hierarchy        = "/sys/fs/cgroup/memory"
	unifiedHierarchy = "/sys/fs/cgroup/unified"
)

// tree is a Kubernetes-shaped cgroup tree in the host's v1 memory hierarchy,
// <hierarchy>/cgroupmem-bench-<random>/kubepods/burstable/pod<uid>/<id>, with a sleeping
// process in each container, and a host root for the receiver's root_path whose
// sys/fs/cgroup/memory is that tree and whose proc is /proc. With unified, every cgroup is
// mirrored at the same path under the cgroup2 mount of a hybrid host and each process joins
// both, as runc does there; the host root's sys/fs/cgroup/unified is then the mirror.
type tree struct {
	dir   string // the tree's root cgroup
	udir  string // its mirror in the unified hierarchy, or ""
	root  string // the host root handed to the collector
	made  []string
	procs []*exec.Cmd
}

// newTree creates containers/2 burstable pods of two containers each (an odd count leaves the
// last pod with one). On error, what was made is removed.
func newTree(containers int, unified bool) (t *tree, err error) {
	root, err := os.MkdirTemp("", "cgroupmem-bench-root-")
	if err != nil {
		return nil, err
	}
	name := "cgroupmem-bench-" + randomHex(6)
	t = &tree{root: root, dir: filepath.Join(hierarchy, name)}
	if unified {
		t.udir = filepath.Join(unifiedHierarchy, name)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.remove())
		}
	}()
	if err := t.mkdir(t.dir); err != nil {
		return t, err
	}
	cg := filepath.Join(root, "sys", "fs", "cgroup")
	if err := os.MkdirAll(cg, 0o755); err != nil {
		return t, err
	}
	if err := os.Symlink(t.dir, filepath.Join(cg, "memory")); err != nil {
		return t, err
	}
	if t.udir != "" {
		if err := t.mkdir(t.udir); err != nil {
			return t, err
		}
		if err := os.Symlink(t.udir, filepath.Join(cg, "unified")); err != nil {
			return t, err
		}
	}
	if err := os.Symlink("/proc", filepath.Join(root, "proc")); err != nil {
		return t, err
	}
	var pod string
	for i := range containers {
		if i%2 == 0 {
			pod = filepath.Join(t.dir, "kubepods", "burstable", "pod"+podUID())
			for _, d := range []string{filepath.Dir(filepath.Dir(pod)), filepath.Dir(pod), pod} {
				if err := t.mkdir(d); err != nil {
					return t, err
				}
			}
		}
		dir := filepath.Join(pod, randomHex(32))
		if err := t.mkdir(dir); err != nil {
			return t, err
		}
		if err := t.startSleeper(dir); err != nil {
			return t, err
		}
	}
	return t, t.waitJoined()
}

// mkdir creates a cgroup directory and its unified mirror, unless they exist, and remembers
// them for removal.
func (t *tree) mkdir(dir string) error {
	if err := t.mkdirOne(dir); err != nil {
		return err
	}
	if t.udir == "" || !strings.HasPrefix(dir, t.dir+"/") {
		return nil
	}
	return t.mkdirOne(filepath.Join(t.udir, strings.TrimPrefix(dir, t.dir+"/")))
}

func (t *tree) mkdirOne(dir string) error {
	err := os.Mkdir(dir, 0o755)
	switch {
	case err == nil:
		t.made = append(t.made, dir)
		return nil
	case errors.Is(err, fs.ErrExist):
		return nil
	}
	return fmt.Errorf("creating cgroup: %w", err)
}

// startSleeper starts a shell that joins the cgroup and execs sleep: the sleeping process's
// memory is charged to the container from its exec on.
func (t *tree) startSleeper(dir string) error {
	procs := []string{filepath.Join(dir, "cgroup.procs")}
	if t.udir != "" {
		procs = append(procs, filepath.Join(t.udir, strings.TrimPrefix(dir, t.dir+"/"), "cgroup.procs"))
	} else {
		procs = append(procs, "/dev/null")
	}
	cmd := exec.Command("sh", "-c", `echo $$ > "$1" && echo $$ > "$2" && exec sleep infinity`, "sh", procs[0], procs[1])
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting a sleeper in %s: %w", dir, err)
	}
	t.procs = append(t.procs, cmd)
	return nil
}

// waitJoined waits until every sleeper is in its cgroup.
func (t *tree) waitJoined() error {
	deadline := time.Now().Add(30 * time.Second)
	for _, cmd := range t.procs {
		want := "/" + filepath.Base(t.dir) + "/"
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", cmd.Process.Pid))
			if err == nil && strings.Contains(string(b), ":memory:"+want) &&
				(t.udir == "" || strings.Contains(string(b), "\n0::"+want) || strings.HasPrefix(string(b), "0::"+want)) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("sleeper %d did not join its cgroup: %v", cmd.Process.Pid, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

// remove kills the sleepers and removes every cgroup made, deepest first, then the root.
func (t *tree) remove() error {
	for _, cmd := range t.procs {
		_ = cmd.Process.Kill()
	}
	for _, cmd := range t.procs {
		_ = cmd.Wait()
	}
	t.procs = nil
	var errs []error
	for i := len(t.made) - 1; i >= 0; i-- {
		if err := removeCgroup(t.made[i]); err != nil {
			errs = append(errs, err)
		}
	}
	t.made = nil
	if t.root != "" {
		errs = append(errs, os.RemoveAll(t.root))
	}
	return errors.Join(errs...)
}

// removeCgroup moves any process left in a cgroup to its parent after killing it, and
// removes the directory, retrying on EBUSY while a killed task finishes exiting.
func removeCgroup(dir string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs")); err == nil {
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
				_ = os.WriteFile(filepath.Join(filepath.Dir(dir), "cgroup.procs"), []byte(f), 0)
			}
		}
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("removing cgroup %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// podUID returns a random RFC 4122-shaped pod UID.
func podUID() string {
	h := randomHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}
