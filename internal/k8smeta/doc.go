// Package k8smeta gives the cgroupmem receiver the Kubernetes names of the pods and containers
// it finds in cgroup paths: k8s.pod.name, k8s.namespace.name, k8s.container.name and
// k8s.node.name, joined on the pod UID and container ID that the cgroup path carries.
//
// The source is the node's own kubelet (GET /pods, a v1.PodList), as the contrib kubeletstats
// receiver uses it: the kubelet knows exactly the pods whose cgroups exist on the node, under
// the UIDs the cgroups carry (static pods included, whose API-server mirror has another UID).
//
// A Provider keeps an immutable index of the last pod list. Lookups never block and never do
// I/O: a lookup that meets an unknown pod UID or container ID only asks the background loop for
// a refresh, which runs at most once per refresh_interval. A failed refresh keeps the previous
// index, is logged once per change of state and retried with exponential backoff, so metrics
// keep flowing with the attributes the cgroup path gave.
//
// Sandbox rule: the kubelet reports every container of a pod in its container statuses except
// the pod sandbox (the "pause" container), whose ID it never exposes. A container ID seen in a
// known pod's cgroup that is still missing from that pod's statuses in a pod list fetched after
// the ID was first seen is therefore taken to be the sandbox; it is named "POD", as cAdvisor
// names it. A container that started moments before the fetch, before the kubelet updated the
// pod's status, can be taken for the sandbox until the next refresh names it.
package k8smeta // import "github.com/cgroupmem/cgroupmem/internal/k8smeta"
