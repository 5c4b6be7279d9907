package k8smeta

import (
	"strings"
	"time"
)

// PodInfo names a pod.
type PodInfo struct {
	Name      string
	Namespace string
	UID       string
}

// ContainerInfo names a container of a pod. Sandbox is true for the pod's sandbox (pause)
// container, whose Name is then SandboxContainerName.
type ContainerInfo struct {
	Name    string
	Sandbox bool
}

type podEntry struct {
	info PodInfo
	// containers maps bare container IDs to container names.
	containers map[string]string
}

// snapshot is an immutable index of one pod list.
type snapshot struct {
	// fetchedAt is when the request for the list was sent: anything seen in a cgroup before
	// then existed when the kubelet answered.
	fetchedAt time.Time
	// nodeName is the spec.nodeName of the listed pods.
	nodeName string
	pods     map[string]podEntry
}

func newSnapshot(list []kubeletPod, fetchedAt time.Time) *snapshot {
	s := &snapshot{fetchedAt: fetchedAt, pods: make(map[string]podEntry, len(list))}
	for i := range list {
		pod := &list[i]
		if s.nodeName == "" {
			s.nodeName = pod.Spec.NodeName
		}
		uid := normalizePodUID(pod.Metadata.UID)
		s.pods[uid] = podEntry{
			info:       PodInfo{Name: pod.Metadata.Name, Namespace: pod.Metadata.Namespace, UID: uid},
			containers: podContainers(pod),
		}
	}
	return s
}

// maxIndexedContainers bounds the container IDs indexed per pod: a pod's spec is the tenant's,
// and only its size (at most 1.5 MiB in the API server) bounds its containers. Real pods have
// a few; IDs past the bound stay unnamed.
const maxIndexedContainers = 1024

// podContainers indexes init, regular and ephemeral container statuses by container ID, with
// the ID of the previous instance of a restarted container, whose cgroup may outlive it
// briefly; at most maxIndexedContainers IDs.
func podContainers(pod *kubeletPod) map[string]string {
	out := make(map[string]string)
	status := &pod.Status
	for _, statuses := range [][]containerStatus{
		status.InitContainerStatuses, status.ContainerStatuses, status.EphemeralContainerStatuses,
	} {
		for _, cs := range statuses {
			if len(out) >= maxIndexedContainers {
				return out
			}
			if id := normalizeContainerID(cs.ContainerID); id != "" {
				out[id] = cs.Name
			}
			if t := cs.LastState.Terminated; t != nil {
				if id := normalizeContainerID(t.ContainerID); id != "" {
					if _, current := out[id]; !current {
						out[id] = cs.Name
					}
				}
			}
		}
	}
	return out
}

// pod looks a UID up; a nil snapshot (nothing fetched yet) knows no pod.
func (s *snapshot) pod(uid string) (podEntry, bool) {
	if s == nil {
		return podEntry{}, false
	}
	e, ok := s.pods[uid]
	return e, ok
}

// time is when the snapshot was fetched; zero for nil.
func (s *snapshot) time() time.Time {
	if s == nil {
		return time.Time{}
	}
	return s.fetchedAt
}

// normalizeContainerID strips the runtime scheme of a status's containerID
// ("containerd://<64 hex>", "cri-o://<id>", "docker://<id>") to the bare ID that cgroup paths carry.
func normalizeContainerID(id string) string {
	if _, bare, ok := strings.Cut(id, "://"); ok {
		id = bare
	}
	return strings.ToLower(id)
}

// normalizePodUID turns the systemd driver's escaped UID (dashes as underscores, as in
// kubepods-burstable-pod<uid>.slice) back into the API's form.
func normalizePodUID(uid string) string {
	return strings.ToLower(strings.ReplaceAll(uid, "_", "-"))
}
