package cgroupfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
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
	var t Tree
	var errs []error
	walkDir(h.Dir, "/", 0, &t, &errs)
	return t, errors.Join(errs...)
}

func walkDir(dir, rel string, depth int, t *Tree, errs *[]error) {
	if depth > maxDepth {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			*errs = append(*errs, fmt.Errorf("listing cgroup %q: %w", dir, err))
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
			t.Pods = append(t.Pods, readPodDir(childDir, childRel, uid, qos, errs))
			continue
		}
		if id, runtime, ok := parseContainerDir(name, parent); ok {
			t.Standalone = append(t.Standalone, Container{ID: id, Runtime: runtime, Path: childRel})
			continue
		}
		walkDir(childDir, childRel, depth+1, t, errs)
	}
}

// readPodDir lists the container cgroups directly under a pod cgroup. Container cgroups are
// not descended into: their files already count their children (crun's "container" child).
func readPodDir(dir, rel, uid, qos string, errs *[]error) Pod {
	pod := Pod{UID: uid, QoS: qos, Path: rel}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			*errs = append(*errs, fmt.Errorf("listing pod cgroup %q: %w", dir, err))
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
