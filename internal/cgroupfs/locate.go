package cgroupfs

import (
	"path"
	"strings"
)

// maxLocateDepth bounds the components ContainerAt looks at: a path named by the kernel's OOM
// report (from a cgroup a container may have made under its own) can be deep.
const maxLocateDepth = 32

// ContainerAt finds the container cgroup that the cgroup at rel (relative to the hierarchy,
// with a leading "/", as the kernel's OOM report names it) is, or is inside: crun puts a
// container's processes in a "container" child of its cgroup, and a container may make
// cgroups of its own. It names the container as discovery would, with podPath the pod's
// cgroup ("" outside Kubernetes). ok is false when no component is a container's.
func ContainerAt(rel string) (c Container, podPath string, ok bool) {
	if !strings.HasPrefix(rel, "/") {
		return Container{}, "", false
	}
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	if len(parts) > maxLocateDepth {
		parts = parts[:maxLocateDepth]
	}
	parent, cur := "", "/"
	var pod *Pod
	for _, name := range parts {
		if name == "" {
			return Container{}, "", false
		}
		next := path.Join(cur, name)
		if pod == nil {
			if uid, qos, isPod := parsePodDir(name, cur); isPod {
				pod = &Pod{UID: uid, QoS: qos, Path: next}
				parent, cur = name, next
				continue
			}
		}
		p := parent
		if pod != nil {
			p = ""
		}
		// Outside pods, as in discovery, only Docker's and Podman's names are containers: a
		// bare 64-hex name elsewhere (a Podman pod's directory) is walked into.
		if id, runtime, isC := parseContainerDir(name, p); isC && (pod != nil || runtime == RuntimeDocker || runtime == RuntimePodman) {
			c := Container{ID: id, Runtime: runtime, Path: next}
			if pod != nil {
				c.PodUID, c.QoS = pod.UID, pod.QoS
				return c, pod.Path, true
			}
			return c, "", true
		}
		if pod != nil {
			return Container{}, "", false // a pod's child that is not a container
		}
		parent, cur = name, next
	}
	return Container{}, "", false
}
