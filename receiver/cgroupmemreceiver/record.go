package cgroupmemreceiver // import "github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/cgroupmem/cgroupmem/internal/cgroupfs"
	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver/internal/metadata"
)

// record calls fn with the value when it is present: an absent reading is not emitted.
func record(now pcommon.Timestamp, v cgroupfs.Value, fn func(pcommon.Timestamp, int64)) {
	if v.OK {
		fn(now, int64(v.V))
	}
}

// recordContainer records the container.memory.* data points of one container cgroup.
func (s *cgroupScraper) recordContainer(now pcommon.Timestamp, m cgroupfs.Memory) {
	mb := s.mb
	record(now, m.Usage, mb.RecordContainerMemoryUsageDataPoint)
	record(now, m.WorkingSet(), mb.RecordContainerMemoryWorkingSetDataPoint)
	record(now, m.Limit, mb.RecordContainerMemoryLimitDataPoint)
	record(now, m.RSS, mb.RecordContainerMemoryRssDataPoint)
	record(now, m.Cache, mb.RecordContainerMemoryCacheDataPoint)
	record(now, m.ActiveFile, mb.RecordContainerMemoryActiveFileDataPoint)
	record(now, m.InactiveFile, mb.RecordContainerMemoryInactiveFileDataPoint)
	record(now, m.Kmem, mb.RecordContainerMemoryKmemDataPoint)
	record(now, m.Sock, mb.RecordContainerMemorySockDataPoint)
	record(now, m.Swap, mb.RecordContainerMemorySwapDataPoint)
	record(now, m.OOMKills, mb.RecordContainerMemoryOomKillsDataPoint)
	record(now, m.RSSHuge, mb.RecordContainerMemoryRssHugeDataPoint)
	record(now, m.MappedFile, mb.RecordContainerMemoryMappedFileDataPoint)
	record(now, m.Shmem, mb.RecordContainerMemoryShmemDataPoint)
	if m.SlabReclaimable.OK {
		mb.RecordContainerMemorySlabUsageDataPoint(now, int64(m.SlabReclaimable.V), metadata.AttributeSlabStateReclaimable)
	}
	if m.SlabUnreclaimable.OK {
		mb.RecordContainerMemorySlabUsageDataPoint(now, int64(m.SlabUnreclaimable.V), metadata.AttributeSlabStateUnreclaimable)
	}
	if m.SlabDentry.OK {
		mb.RecordContainerMemorySlabDentryDataPoint(now, int64(m.SlabDentry.V),
			metadata.AttributeDentrySourceMemoryKmemSlabinfo, metadata.AttributeCoverageFull)
	}
	if m.PageFaults.OK && m.MajorPageFaults.OK && m.PageFaults.V >= m.MajorPageFaults.V {
		mb.RecordContainerPagingFaultsDataPoint(now, int64(m.MajorPageFaults.V), metadata.AttributeFaultTypeMajor)
		mb.RecordContainerPagingFaultsDataPoint(now, int64(m.PageFaults.V-m.MajorPageFaults.V), metadata.AttributeFaultTypeMinor)
	}
	s.containerPressure.record(now, &m)
}

// recordPod records the k8s.pod.memory.* data points of one pod cgroup.
func (s *cgroupScraper) recordPod(now pcommon.Timestamp, m cgroupfs.Memory) {
	mb := s.mb
	record(now, m.Usage, mb.RecordK8sPodMemoryUsageDataPoint)
	record(now, m.WorkingSet(), mb.RecordK8sPodMemoryWorkingSetDataPoint)
	record(now, m.RSS, mb.RecordK8sPodMemoryRssDataPoint)
	record(now, m.Cache, mb.RecordK8sPodMemoryCacheDataPoint)
	record(now, m.Kmem, mb.RecordK8sPodMemoryKmemDataPoint)
	record(now, m.Limit, mb.RecordK8sPodMemoryLimitDataPoint)
	record(now, m.OOMKills, mb.RecordK8sPodMemoryOomKillsDataPoint)
	s.podPressure.record(now, &m)
}
