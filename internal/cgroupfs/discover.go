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

// ownerUnknown is the owner of a walk whose root could not be stat'ed: every directory is
// taken (the walk then fails on listing the root anyway).
const ownerUnknown = -1

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
//
// Only directories owned by the owner of the hierarchy's root (root, on a host) are taken or
// descended into: a subtree delegated to a user (systemd's user@<uid>.service, a rootless
// runtime's) is that user's, who could otherwise name directories after another tenant's pod
// UID and container ID and have their usage reported under the victim's names. Rootless
// containers are therefore not reported.
func Discover(h Hierarchy) (Tree, error) {
	w := newWalker(h.Dir)
	w.walk(h.Dir, "/", 0)
	return w.tree, errors.Join(w.errs...)
}

// walker gathers the tree and the errors. With a watch, it watches every directory it lists
// (all but container cgroups, whose children discovery ignores) before listing it, so an
// entry created during the walk is either listed or raises an event.
type walker struct {
	tree Tree
	errs []error
	// unlisted are the directories (relative to the hierarchy) that could not be listed,
	// though they exist: what was under them is unknown, not gone.
	unlisted []string
	watch    *dirWatch
	watchErr error
	// owner is the uid that owns the hierarchy's root; directories of other owners are
	// skipped. ownerUnknown takes every directory.
	owner int64
	// skipped counts the directories skipped for their owner.
	skipped int
}

// newWalker returns a walker of the hierarchy rooted at dir, trusting dir's owner.
func newWalker(dir string) walker {
	w := walker{owner: ownerUnknown}
	if fi, err := os.Stat(dir); err == nil {
		if uid, ok := fileOwner(fi); ok {
			w.owner = int64(uid)
		}
	}
	return w
}

// trusted reports whether a directory entry is owned by the hierarchy's owner. An entry that
// vanished is not (the next walk will not see it either).
func (w *walker) trusted(e fs.DirEntry) bool {
	if w.owner == ownerUnknown {
		return true
	}
	fi, err := e.Info()
	if err != nil {
		return false
	}
	uid, ok := fileOwner(fi)
	if !ok || int64(uid) != w.owner {
		w.skipped++
		return false
	}
	return true
}

// watchDir adds dir to the walk's watch. A directory removed since its parent was listed is
// no watch failure: its parent, watched before it was listed, has the removal's event, so the
// next Refresh walks again. (Under churn, with pods created and removed at 50 a second, it
// happened every few minutes and turned the watch off for that walk, with an error.)
func (w *walker) watchDir(dir string) {
	if w.watch == nil || w.watchErr != nil {
		return
	}
	if err := w.watch.add(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		w.watchErr = err
	}
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
			w.unlisted = append(w.unlisted, rel)
		}
		return
	}
	parent := path.Base(rel)
	for _, e := range entries {
		if !e.IsDir() || !w.trusted(e) {
			continue
		}
		name := e.Name()
		childRel := path.Join(rel, name)
		childDir := filepath.Join(dir, name)
		if uid, qos, ok := parsePodDir(name, rel); ok {
			w.tree.Pods = append(w.tree.Pods, w.readPodDir(childDir, childRel, uid, qos))
			continue
		}
		// Outside pods, only the runtimes that run containers of their own have them: Docker
		// (docker-<id>.scope, or a bare ID in its own /docker) and Podman (libpod-<id>). A
		// CRI runtime's container (cri-containerd-, crio-) or a bare 64-hex name anywhere
		// else is walked into, not taken: it is no layout's, and could carry another
		// container's ID. Podman's pod directories are so named: walking into them finds
		// their containers' libpod-<id> (and watches them, so that a pod created empty is
		// walked again once Podman starts its containers).
		if id, runtime, ok := parseContainerDir(name, parent); ok && (runtime == RuntimeDocker || runtime == RuntimePodman) {
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
			w.unlisted = append(w.unlisted, rel)
		}
		return pod
	}
	for _, e := range entries {
		if !e.IsDir() || !w.trusted(e) {
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
