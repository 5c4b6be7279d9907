package k8smeta

import "time"

// Pod returns the pod with that UID (dashed, or with the systemd driver's underscores). An
// unknown UID asks for a refresh and misses; a UID still unknown after a refresh requested
// since it was first looked up is a pod that is gone, and asks no more.
func (p *Provider) Pod(uid string) (PodInfo, bool) {
	if !p.enabled {
		return PodInfo{}, false
	}
	uid = normalizePodUID(uid)
	snap := p.snap.Load()
	if e, ok := snap.pod(uid); ok {
		return e.info, true
	}
	if !p.seen.miss(sightingKey{podUID: uid}, snap.time(), time.Now(), 0) {
		p.requestRefresh()
	}
	return PodInfo{}, false
}

// Container returns the container of a pod with that ID (bare, as in cgroup paths, or with its
// runtime scheme). See the package documentation for how the sandbox container is recognised:
// at most one ID per pod is its sandbox; another ID the pod's statuses lack stays unnamed and
// keeps asking for refreshes, less and less often, until the kubelet lists it.
func (p *Provider) Container(podUID, containerID string) (ContainerInfo, bool) {
	if !p.enabled {
		return ContainerInfo{}, false
	}
	podUID = normalizePodUID(podUID)
	snap := p.snap.Load()
	pod, ok := snap.pod(podUID)
	if !ok {
		p.Pod(podUID)
		return ContainerInfo{}, false
	}
	containerID = normalizeContainerID(containerID)
	if name, ok := pod.containers[containerID]; ok {
		return ContainerInfo{Name: name}, true
	}
	key := sightingKey{podUID: podUID, containerID: containerID}
	sandbox, ask := p.seen.containerMiss(key, snap.time(), time.Now(), p.containerSettle, p.sched.interval, p.sched.maxBackoff)
	if ask {
		p.requestRefresh()
	}
	if sandbox {
		return ContainerInfo{Name: SandboxContainerName, Sandbox: true}, true
	}
	return ContainerInfo{}, false
}

// Include reports whether metrics of that container should be emitted, by the filter and, with
// sandbox_containers skip, rejecting SandboxContainerName. Empty (unknown) names pass.
func (p *Provider) Include(namespace, pod, container string) bool {
	if p.skipSandbox && container == SandboxContainerName {
		return false
	}
	return p.filter.allows(namespace, pod, container)
}

// NodeName is node_name, else $K8S_NODE_NAME, else the node of the pods the kubelet listed;
// empty when none is known yet.
func (p *Provider) NodeName() string {
	if p.nodeName != "" {
		return p.nodeName
	}
	if snap := p.snap.Load(); snap != nil {
		return snap.nodeName
	}
	return ""
}

// requestRefresh asks the loop for a fetch without waiting; a pending request absorbs it.
func (p *Provider) requestRefresh() {
	p.requested.Store(int64(time.Since(p.epoch)))
	select {
	case p.trigger <- struct{}{}:
	default:
	}
}
