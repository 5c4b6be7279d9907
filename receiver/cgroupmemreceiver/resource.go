package cgroupmemreceiver // import "github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/cgroupmem/cgroupmem/internal/cgroupfs"
)

// containerResource describes a container from what its cgroup path tells.
func (s *cgroupScraper) containerResource(c cgroupfs.Container) pcommon.Resource {
	rb := s.mb.NewResourceBuilder()
	rb.SetContainerID(c.ID)
	if c.Runtime != "" {
		rb.SetContainerRuntimeName(c.Runtime)
	}
	if c.PodUID != "" {
		rb.SetK8sPodUID(c.PodUID)
		rb.SetK8sPodQosClass(c.QoS)
	}
	rb.SetCgroupPath(c.Path)
	return rb.Emit()
}

// podResource describes a pod from what its cgroup path tells.
func (s *cgroupScraper) podResource(p *cgroupfs.Pod) pcommon.Resource {
	rb := s.mb.NewResourceBuilder()
	rb.SetK8sPodUID(p.UID)
	rb.SetK8sPodQosClass(p.QoS)
	rb.SetCgroupPath(p.Path)
	return rb.Emit()
}

// nodeResource describes the node for the node-wide metrics.
func (s *cgroupScraper) nodeResource() pcommon.Resource {
	return s.mb.NewResourceBuilder().Emit()
}
