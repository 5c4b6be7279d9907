package cgroupmemreceiver // import "github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"

import (
	"context"
	"errors"
	"path/filepath"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/scraper/scrapererror"

	"github.com/cgroupmem/cgroupmem/internal/cgroupfs"
	"github.com/cgroupmem/cgroupmem/internal/sockets"
	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver/internal/metadata"
)

// socketMetricsLen is how many socket metrics a container yields.
const socketMetricsLen = 3

// socketsEnabled reports whether any socket receive-queue metric is on: reading the queues
// costs far more than the cgroup files (see internal/sockets), so it is skipped otherwise.
func (s *cgroupScraper) socketsEnabled() bool {
	m := s.cfg.Metrics
	return m.ContainerMemorySockRcvq.Enabled || m.ContainerMemorySockRcvqPayload.Enabled ||
		m.ContainerMemorySockRcvqSockets.Enabled
}

// collectSockets attributes socket receive queues to every container the filters keep,
// keyed by the container's cgroup path. A failure is charged to the containers it cost.
func (s *cgroupScraper) collectSockets(ctx context.Context, tree cgroupfs.Tree, errs *scrapererror.ScrapeErrors) map[string]sockets.Usage {
	if s.sockets == nil {
		return nil
	}
	groups := s.socketGroups(tree, errs)
	usage, err := s.sockets.Collect(ctx, groups)
	if err != nil {
		failed := len(groups)
		if pe := (*sockets.PartialError)(nil); errors.As(err, &pe) {
			failed = pe.Failed
		}
		errs.AddPartial(socketMetricsLen*failed, err)
	}
	return usage
}

// socketGroups are the containers the k8s_metadata filters keep, by cgroup path, with the
// cgroup2 id of the container where the attribution uses it and the read of its processes
// (cgroup.procs), which the collector makes only when it needs them: a container that will
// not be reported costs no cgroup.procs read and no walk of its processes' descriptors, and
// one whose sockets are known by cgroup id from readings of its namespaces that are still
// current (sockets.refresh_interval) costs neither.
func (s *cgroupScraper) socketGroups(tree cgroupfs.Tree, errs *scrapererror.ScrapeErrors) map[string]sockets.Group {
	groups := make(map[string]sockets.Group, s.lastSocketGroups)
	add := func(c cgroupfs.Container) {
		if !s.containerNames(c).included {
			return
		}
		groups[c.Path] = sockets.Group{Cgroup: c.Path, CgroupID: s.cgroup2ID(c.Path), LoadPIDs: func() []int {
			pids, err := cgroupfs.Procs(filepath.Join(s.hier.Dir, c.Path))
			if err != nil {
				errs.AddPartial(socketMetricsLen, err)
			}
			return pids
		}}
	}
	for _, p := range tree.Pods {
		for _, c := range p.Containers {
			add(c)
		}
	}
	for _, c := range tree.Standalone {
		add(c)
	}
	s.lastSocketGroups = len(groups)
	return groups
}

// cgroup2Dir is the cgroup2 hierarchy in which a container's cgroup id is looked up: the
// memory hierarchy itself on v2; on a v1 hybrid host the unified mount, where runc mirrors
// each container's path; none on pure v1, or with attribution fd_walk.
func (s *cgroupScraper) cgroup2Dir() string {
	if s.cfg.Sockets.Attribution != socketAttributionCgroupID {
		return ""
	}
	switch s.hier.Mode {
	case cgroupfs.ModeV2:
		return s.hier.Dir
	case cgroupfs.ModeHybrid:
		return filepath.Join(s.cfg.RootPath, "sys", "fs", "cgroup", "unified")
	default:
		return ""
	}
}

// cgroup2ID is the cgroup2 id of the container at path (the inode number of its cgroup2
// directory, which the kernel reports as the INET_DIAG_CGROUP_ID of the sockets created in
// it), or 0 when it has none: its sockets are then found by walking its fds.
//
// The ids are kept until discovery walks the tree again (a container's directory is created
// once, with its ID in its name, and a walk follows any directory created or removed): a stat
// per container and scrape cost 14 µs per container at 1,000 containers on the development
// VM, about as much as all the lookups of its sockets. An id that could not be read is tried
// again at the next scrape.
func (s *cgroupScraper) cgroup2ID(path string) uint64 {
	dir := s.cgroup2Dir()
	if dir == "" {
		return 0
	}
	if walks := s.catalog.Walks(); walks != s.cgroup2IDsWalk || s.cgroup2IDs == nil {
		s.cgroup2IDs, s.cgroup2IDsWalk = make(map[string]uint64, len(s.cgroup2IDs)), walks
	}
	if id, ok := s.cgroup2IDs[path]; ok {
		return id
	}
	id, err := sockets.CgroupID(filepath.Join(dir, path))
	if err != nil {
		return 0
	}
	s.cgroup2IDs[path] = id
	return id
}

var socketSources = map[sockets.Source]metadata.AttributeSocketSource{
	sockets.SourceSockDiag: metadata.AttributeSocketSourceSockDiag,
	sockets.SourceProcNet:  metadata.AttributeSocketSourceProcNet,
	sockets.SourceSockopt:  metadata.AttributeSocketSourceSockopt,
}

// recordSockets records a container's socket receive-queue metrics, if they were read in
// full: a container some of whose sockets could not be read (a limit, a failed read) has
// none this scrape rather than a low number.
func (s *cgroupScraper) recordSockets(now pcommon.Timestamp, u sockets.Usage, ok bool) {
	src, known := socketSources[u.Source]
	if !ok || !known || u.Incomplete {
		return
	}
	s.mb.RecordContainerMemorySockRcvqDataPoint(now, int64(u.RcvqBytes), src)
	s.mb.RecordContainerMemorySockRcvqPayloadDataPoint(now, int64(u.PayloadBytes), src)
	s.mb.RecordContainerMemorySockRcvqSocketsDataPoint(now, int64(u.NonEmpty), src)
}
