package cgroupmemreceiver // import "github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"

import (
	"path/filepath"

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

// resourceKey is everything a pod's or container's resource attributes are built from. A pod
// is keyed by its cgroup's path, UID and QoS in c, and its names in n.pod.
type resourceKey struct {
	c    cgroupfs.Container
	n    containerNames
	node string
}

// cachedResource is a resource built once and copied into every scrape's metrics while its
// key holds.
type cachedResource struct {
	key  resourceKey
	res  pcommon.Resource
	seen uint64 // the scrape that last used it
}

// resourceCache keeps the resource of every pod and container between scrapes, by cgroup
// path: its attributes change only when the kubelet's names for it do, and building one
// costs a dozen allocations more than copying it. Entries not used by a scrape are dropped
// after it.
type resourceCache struct {
	byPath map[string]*cachedResource
	scrape uint64
	used   int
	// shims is what RuntimeFromShim said of the containers whose cgroup name does not tell
	// their runtime, by cgroup path; dropped with the resource.
	shims map[string]*shimLookup
}

// shimLookup is a container's runtime as its shim tells, asked at most shimTries times.
type shimLookup struct {
	runtime string
	tries   uint8
	done    bool
}

// shimTries bounds how many scrapes ask a container's shim when the answer is not final (no
// process in the cgroup yet, /proc unreadable).
const shimTries = 3

// runtimeOf fills in the runtime of a kubelet pod's container whose cgroup is a bare id (the
// cgroupfs driver: containerd or Docker) from its processes' shim, once per container.
func (s *cgroupScraper) runtimeOf(c cgroupfs.Container) string {
	if c.Runtime != "" || c.PodUID == "" {
		return c.Runtime
	}
	rc := &s.resources
	if rc.shims == nil {
		rc.shims = make(map[string]*shimLookup)
	}
	l, ok := rc.shims[c.Path]
	if !ok {
		l = &shimLookup{}
		rc.shims[c.Path] = l
	}
	if !l.done && l.tries < shimTries {
		l.tries++
		l.runtime, l.done = cgroupfs.RuntimeFromShim(filepath.Join(s.hier.Dir, c.Path), s.procRoot)
	}
	return l.runtime
}

// get returns the cached resource of path when it was built from key, or builds it.
func (rc *resourceCache) get(path string, key resourceKey, build func() pcommon.Resource) pcommon.Resource {
	if rc.byPath == nil {
		rc.byPath = make(map[string]*cachedResource)
	}
	e, ok := rc.byPath[path]
	switch {
	case !ok:
		e = &cachedResource{key: key, res: build(), seen: rc.scrape - 1}
		rc.byPath[path] = e
	case e.key != key:
		e.key, e.res = key, build()
	}
	if e.seen != rc.scrape {
		e.seen = rc.scrape
		rc.used++
	}
	return e.res
}

// endScrape drops the entries the scrape did not use: cgroups that are gone or filtered out.
func (rc *resourceCache) endScrape() {
	if len(rc.byPath) > rc.used {
		for path, e := range rc.byPath {
			if e.seen != rc.scrape {
				delete(rc.byPath, path)
			}
		}
	}
	for path := range rc.shims {
		if e, ok := rc.byPath[path]; !ok || e.seen != rc.scrape {
			delete(rc.shims, path)
		}
	}
	rc.scrape++
	rc.used = 0
}

// containerResource describes a container from its cgroup path and, when known, its names.
func (s *cgroupScraper) containerResource(c cgroupfs.Container, n containerNames) pcommon.Resource {
	c.Runtime = s.runtimeOf(c)
	node := s.k8s.NodeName()
	return s.resources.get(c.Path, resourceKey{c: c, n: n, node: node}, func() pcommon.Resource {
		return s.buildContainerResource(c, n, node)
	})
}

func (s *cgroupScraper) buildContainerResource(c cgroupfs.Container, n containerNames, node string) pcommon.Resource {
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
	setIfKnown(rb.SetK8sNodeName, node)
	rb.SetCgroupPath(c.Path)
	return rb.Emit()
}

// podResource describes a pod from its cgroup path and, when known, its names in info.
func (s *cgroupScraper) podResource(p *cgroupfs.Pod, info k8smeta.PodInfo) pcommon.Resource {
	node := s.k8s.NodeName()
	key := resourceKey{c: cgroupfs.Container{Path: p.Path, PodUID: p.UID, QoS: p.QoS}, n: containerNames{pod: info}, node: node}
	return s.resources.get(p.Path, key, func() pcommon.Resource {
		rb := s.mb.NewResourceBuilder()
		rb.SetK8sPodUID(p.UID)
		rb.SetK8sPodQosClass(p.QoS)
		setIfKnown(rb.SetK8sPodName, info.Name)
		setIfKnown(rb.SetK8sNamespaceName, info.Namespace)
		setIfKnown(rb.SetK8sNodeName, node)
		rb.SetCgroupPath(p.Path)
		return rb.Emit()
	})
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
