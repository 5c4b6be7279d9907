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
// known pod's cgroup that is still missing from that pod's statuses in a pod list requested at
// least 5 s after the ID was first seen is therefore taken to be the sandbox; it is named "POD",
// as cAdvisor names it. At most one ID per pod is: the first to settle. Any other unlisted ID
// of the pod (a container the kubelet is slow to list, such as one in a long postStart hook)
// stays unnamed, is not dropped by sandbox_containers: skip, and keeps asking for refreshes at
// gaps that double with its age (refresh_interval up to max_backoff) until the kubelet lists
// it. If the kubelet names the sandbox's ID after all, the pod's next unlisted ID takes its
// place. Missed lookups are forgotten 15 minutes after their last miss whether or not a pod
// list arrives, and at most 65,536 are remembered.
//
// Use, in the receiver: NewProvider(cfg.K8sMetadata, logger) when the receiver is built, Start
// and Shutdown with the scraper, and per container of a scrape:
//
//	pod, _ := p.Pod(podUID) // names, when the kubelet listed the pod
//	c, _ := p.Container(podUID, containerID)
//	if !p.Include(pod.Namespace, pod.Name, c.Name) { /* filtered out, or a skipped sandbox */ }
//	// k8s.node.name: p.NodeName(), empty when unknown
//
// Zero values of the names mean unknown: emit only the attributes the cgroup path gave.
package k8smeta // import "github.com/cgroupmem/cgroupmem/internal/k8smeta"
