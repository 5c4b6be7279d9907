package cgroupmemreceiver // import "github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/cgroupmem/cgroupmem/internal/cgroupfs"
	"github.com/cgroupmem/cgroupmem/internal/k8smeta"
)

// containerNames is what the kubelet says of a container; zero values mean unknown.
type containerNames struct {
	pod       k8smeta.PodInfo
	container k8smeta.ContainerInfo
	known     bool // the kubelet listed the container
	included  bool // the filters keep it
}

// containerNames looks a container up in the metadata cache; the lookup never blocks.
func (s *cgroupScraper) containerNames(c cgroupfs.Container) containerNames {
	var n containerNames
	if c.PodUID != "" {
		n.pod, _ = s.k8s.Pod(c.PodUID)
		n.container, n.known = s.k8s.Container(c.PodUID, c.ID)
	}
	n.included = s.k8s.Include(n.pod.Namespace, n.pod.Name, n.container.Name)
	return n
}

// containerResource describes a container from its cgroup path and, when known, its names.
func (s *cgroupScraper) containerResource(c cgroupfs.Container, n containerNames) pcommon.Resource {
	rb := s.mb.NewResourceBuilder()
	rb.SetContainerID(c.ID)
	if c.Runtime != "" {
		rb.SetContainerRuntimeName(c.Runtime)
	}
	if c.PodUID != "" {
		rb.SetK8sPodUID(c.PodUID)
		rb.SetK8sPodQosClass(c.QoS)
	}
	setIfKnown(rb.SetK8sPodName, n.pod.Name)
	setIfKnown(rb.SetK8sNamespaceName, n.pod.Namespace)
	setIfKnown(rb.SetK8sContainerName, n.container.Name)
	if n.known {
		rb.SetK8sContainerSandbox(n.container.Sandbox)
	}
	setIfKnown(rb.SetK8sNodeName, s.k8s.NodeName())
	rb.SetCgroupPath(c.Path)
	return rb.Emit()
}

// podResource describes a pod from its cgroup path and, when known, its names.
func (s *cgroupScraper) podResource(p *cgroupfs.Pod) pcommon.Resource {
	rb := s.mb.NewResourceBuilder()
	rb.SetK8sPodUID(p.UID)
	rb.SetK8sPodQosClass(p.QoS)
	if info, ok := s.k8s.Pod(p.UID); ok {
		setIfKnown(rb.SetK8sPodName, info.Name)
		setIfKnown(rb.SetK8sNamespaceName, info.Namespace)
	}
	setIfKnown(rb.SetK8sNodeName, s.k8s.NodeName())
	rb.SetCgroupPath(p.Path)
	return rb.Emit()
}

// nodeResource describes the node for the node-wide metrics.
func (s *cgroupScraper) nodeResource() pcommon.Resource {
	rb := s.mb.NewResourceBuilder()
	setIfKnown(rb.SetK8sNodeName, s.k8s.NodeName())
	return rb.Emit()
}

func setIfKnown(set func(string), v string) {
	if v != "" {
		set(v)
	}
}
