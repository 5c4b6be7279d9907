package cgroupmemreceiver // import "github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"

import (
	"context"
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
// keyed by the container's cgroup path.
func (s *cgroupScraper) collectSockets(ctx context.Context, tree cgroupfs.Tree, errs *scrapererror.ScrapeErrors) map[string]sockets.Usage {
	if s.sockets == nil {
		return nil
	}
	groups := s.socketGroups(tree, errs)
	usage, err := s.sockets.Collect(ctx, groups)
	if err != nil {
		errs.AddPartial(socketMetricsLen*len(groups), err)
	}
	return usage
}

// socketGroups lists the processes of every container the k8s_metadata filters keep, by
// cgroup path: a container that will not be reported costs no cgroup.procs read and no walk
// of its processes' descriptors.
func (s *cgroupScraper) socketGroups(tree cgroupfs.Tree, errs *scrapererror.ScrapeErrors) map[string][]int {
	groups := make(map[string][]int, s.lastSocketGroups)
	add := func(c cgroupfs.Container) {
		if !s.containerNames(c).included {
			return
		}
		pids, err := cgroupfs.Procs(filepath.Join(s.hier.Dir, c.Path))
		if err != nil {
			errs.AddPartial(socketMetricsLen, err)
		}
		groups[c.Path] = pids
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

var socketSources = map[sockets.Source]metadata.AttributeSocketSource{
	sockets.SourceSockDiag: metadata.AttributeSocketSourceSockDiag,
	sockets.SourceProcNet:  metadata.AttributeSocketSourceProcNet,
}

// recordSockets records a container's socket receive-queue metrics, if they were read.
func (s *cgroupScraper) recordSockets(now pcommon.Timestamp, u sockets.Usage, ok bool) {
	src, known := socketSources[u.Source]
	if !ok || !known {
		return
	}
	s.mb.RecordContainerMemorySockRcvqDataPoint(now, int64(u.RcvqBytes), src)
	s.mb.RecordContainerMemorySockRcvqPayloadDataPoint(now, int64(u.PayloadBytes), src)
	s.mb.RecordContainerMemorySockRcvqSocketsDataPoint(now, int64(u.NonEmpty), src)
}
