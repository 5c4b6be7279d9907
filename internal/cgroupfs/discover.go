package cgroupfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxDepth bounds the walk: the deepest known layout (kind's kubelet.slice/kubelet-kubepods.slice/
// kubelet-kubepods-burstable.slice/<pod>.slice/<container>.scope) is five levels down.
const maxDepth = 8

// Pod is a Kubernetes pod cgroup and the container cgroups under it.
type Pod struct {
	UID        string
	QoS        string
	Path       string // relative to the hierarchy, with a leading "/"
	Containers []Container
}

// Container is a container cgroup.
type Container struct {
	ID      string
	Runtime string // "" when the path does not tell (cgroupfs driver with a bare id)
	Path    string // relative to the hierarchy, with a leading "/"
	PodUID  string // "" for a container outside Kubernetes (plain Docker or Podman)
	QoS     string
}

// Tree is what discovery found: pods with their containers, and containers outside any pod.
type Tree struct {
	Pods       []Pod
	Standalone []Container
}

// Discover walks the memory hierarchy and returns every pod and container cgroup in it.
// Directories that vanish during the walk are skipped; a directory that cannot be read is an
// error naming it, and the walk goes on with the rest.
func Discover(h Hierarchy) (Tree, error) {
	w := walker{}
	w.walk(h.Dir, "/", 0)
	return w.tree, errors.Join(w.errs...)
}

// walker gathers the tree and the errors. With a watch, it watches every directory it lists
// (all but container cgroups, whose children discovery ignores) before listing it, so an
// entry created during the walk is either listed or raises an event.
type walker struct {
	tree     Tree
	errs     []error
	watch    *dirWatch
	watchErr error
}

func (w *walker) watchDir(dir string) {
	if w.watch == nil || w.watchErr != nil {
		return
	}
	w.watchErr = w.watch.add(dir)
}

func (w *walker) walk(dir, rel string, depth int) {
	if depth > maxDepth {
		return
	}
	w.watchDir(dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			w.errs = append(w.errs, fmt.Errorf("listing cgroup %q: %w", dir, err))
		}
		return
	}
	parent := path.Base(rel)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		childRel := path.Join(rel, name)
		childDir := filepath.Join(dir, name)
		if uid, qos, ok := parsePodDir(name, parent); ok {
			w.tree.Pods = append(w.tree.Pods, w.readPodDir(childDir, childRel, uid, qos))
			continue
		}
		if id, runtime, ok := parseContainerDir(name, parent); ok {
			if runtime == "" && w.isPodmanPod(childDir) {
				w.walk(childDir, childRel, depth+1) // its libpod-<id> children are the containers
				continue
			}
			w.tree.Standalone = append(w.tree.Standalone, Container{ID: id, Runtime: runtime, Path: childRel})
			continue
		}
		if name == podmanConmon {
			continue // Podman's monitor, beside a container: no workload, no containers under it
		}
		w.walk(childDir, childRel, depth+1)
	}
}

// readPodDir lists the container cgroups directly under a pod cgroup. Container cgroups are
// not descended into: their files already count their children (crun's "container" child).
func (w *walker) readPodDir(dir, rel, uid, qos string) Pod {
	pod := Pod{UID: uid, QoS: qos, Path: rel}
	w.watchDir(dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			w.errs = append(w.errs, fmt.Errorf("listing pod cgroup %q: %w", dir, err))
		}
		return pod
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if id, runtime, ok := parseContainerDir(e.Name(), ""); ok {
			pod.Containers = append(pod.Containers, Container{
				ID: id, Runtime: runtime, Path: path.Join(rel, e.Name()), PodUID: uid, QoS: qos,
			})
		}
	}
	return pod
}

// podmanConmon is the cgroup Podman's cgroupfs manager puts conmon in, beside the container's
// libpod-<id> (or inside a pod's directory).
const podmanConmon = "conmon"

// isPodmanPod tells a Podman pod's directory from a container's: both are a bare 64-hex name
// under the cgroupfs manager, but a pod's holds its containers' libpod-<id> directories and
// conmon. The directory is watched, so that a pod created empty is walked again once Podman
// starts its containers in it.
func (w *walker) isPodmanPod(dir string) bool {
	w.watchDir(dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.IsDir() && (e.Name() == podmanConmon || strings.HasPrefix(e.Name(), "libpod-")) {
			return true
		}
	}
	return false
}
