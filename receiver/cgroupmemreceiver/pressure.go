package cgroupmemreceiver // import "github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/scraper/scrapererror"

	"github.com/cgroupmem/cgroupmem/internal/cgroupfs"
	"github.com/cgroupmem/cgroupmem/internal/nodemem"
	"github.com/cgroupmem/cgroupmem/internal/psi"
	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver/internal/metadata"
)

// pressureRecorders are the MetricsBuilder's record functions of the pressure metrics of one
// kind of resource: a container's (container.memory.*) or a pod's (k8s.pod.memory.*), which
// have the same names after the prefix and the same shapes.
type pressureRecorders struct {
	stallTime   func(pcommon.Timestamp, float64, metadata.AttributePressureType)
	stallShare  func(pcommon.Timestamp, float64, metadata.AttributePressureType)
	events      func(pcommon.Timestamp, int64, metadata.AttributeMemoryEventType)
	underOOM    func(pcommon.Timestamp, int64)
	refaults    func(pcommon.Timestamp, int64, metadata.AttributeLruType)
	activations func(pcommon.Timestamp, int64, metadata.AttributeLruType)
	scanned     func(pcommon.Timestamp, int64)
	reclaimed   func(pcommon.Timestamp, int64)
	peak        func(pcommon.Timestamp, int64)
	available   func(pcommon.Timestamp, int64)
}

func containerPressureRecorders(mb *metadata.MetricsBuilder) pressureRecorders {
	return pressureRecorders{
		stallTime:   mb.RecordContainerMemoryPressureStallTimeDataPoint,
		stallShare:  mb.RecordContainerMemoryPressureStallShareDataPoint,
		events:      mb.RecordContainerMemoryEventsDataPoint,
		underOOM:    mb.RecordContainerMemoryUnderOomDataPoint,
		refaults:    mb.RecordContainerMemoryRefaultsDataPoint,
		activations: mb.RecordContainerMemoryRefaultActivationsDataPoint,
		scanned:     mb.RecordContainerMemoryReclaimScannedDataPoint,
		reclaimed:   mb.RecordContainerMemoryReclaimReclaimedDataPoint,
		peak:        mb.RecordContainerMemoryPeakDataPoint,
		available:   mb.RecordContainerMemoryAvailableDataPoint,
	}
}

func podPressureRecorders(mb *metadata.MetricsBuilder) pressureRecorders {
	return pressureRecorders{
		stallTime:   mb.RecordK8sPodMemoryPressureStallTimeDataPoint,
		stallShare:  mb.RecordK8sPodMemoryPressureStallShareDataPoint,
		events:      mb.RecordK8sPodMemoryEventsDataPoint,
		underOOM:    mb.RecordK8sPodMemoryUnderOomDataPoint,
		refaults:    mb.RecordK8sPodMemoryRefaultsDataPoint,
		activations: mb.RecordK8sPodMemoryRefaultActivationsDataPoint,
		scanned:     mb.RecordK8sPodMemoryReclaimScannedDataPoint,
		reclaimed:   mb.RecordK8sPodMemoryReclaimReclaimedDataPoint,
		peak:        mb.RecordK8sPodMemoryPeakDataPoint,
		available:   mb.RecordK8sPodMemoryAvailableDataPoint,
	}
}

// record records the pressure signals of one cgroup reading; each absent reading is left out.
// A disabled metric's record function does nothing.
func (pr *pressureRecorders) record(now pcommon.Timestamp, m *cgroupfs.Memory) {
	recordPSI(now, m.Pressure, pr.stallTime, pr.stallShare)
	for _, e := range [...]struct {
		v cgroupfs.Value
		t metadata.AttributeMemoryEventType
	}{
		{m.Events.Low, metadata.AttributeMemoryEventTypeLow},
		{m.Events.High, metadata.AttributeMemoryEventTypeHigh},
		{m.Events.Max, metadata.AttributeMemoryEventTypeMax},
		{m.Events.OOM, metadata.AttributeMemoryEventTypeOom},
		{m.Events.OOMKill, metadata.AttributeMemoryEventTypeOomKill},
		{m.Events.OOMGroupKill, metadata.AttributeMemoryEventTypeOomGroupKill},
	} {
		if e.v.OK {
			pr.events(now, int64(e.v.V), e.t)
		}
	}
	record(now, m.UnderOOM, pr.underOOM)
	recordLRU(now, m.RefaultFile, m.RefaultAnon, pr.refaults)
	recordLRU(now, m.ActivateFile, m.ActivateAnon, pr.activations)
	record(now, m.PgScan, pr.scanned)
	record(now, m.PgSteal, pr.reclaimed)
	record(now, m.Peak, pr.peak)
	record(now, available(m), pr.available)
}

// available is limit minus working set, floored at 0; absent without a limit.
func available(m *cgroupfs.Memory) cgroupfs.Value {
	ws := m.WorkingSet()
	if !m.Limit.OK || !ws.OK {
		return cgroupfs.Value{}
	}
	if ws.V >= m.Limit.V {
		return cgroupfs.Value{OK: true}
	}
	return cgroupfs.Value{V: m.Limit.V - ws.V, OK: true}
}

func recordLRU(now pcommon.Timestamp, file, anon cgroupfs.Value, fn func(pcommon.Timestamp, int64, metadata.AttributeLruType)) {
	if file.OK {
		fn(now, int64(file.V), metadata.AttributeLruTypeFile)
	}
	if anon.OK {
		fn(now, int64(anon.V), metadata.AttributeLruTypeAnon)
	}
}

// recordPSI records the stall time (total, µs in the file, as seconds) and, when given, the
// avg10 share (percent in the file, as a 0..1 share) of the lines present.
func recordPSI(now pcommon.Timestamp, p psi.Pressure, stallTime, stallShare func(pcommon.Timestamp, float64, metadata.AttributePressureType)) {
	for _, l := range [...]struct {
		line psi.Line
		t    metadata.AttributePressureType
	}{{p.Some, metadata.AttributePressureTypeSome}, {p.Full, metadata.AttributePressureTypeFull}} {
		if !l.line.OK {
			continue
		}
		stallTime(now, float64(l.line.Total)/1e6, l.t)
		if stallShare != nil {
			stallShare(now, l.line.Avg10/100, l.t)
		}
	}
}

// pressureReadings are the optional cgroup readings the enabled pressure metrics of a kind
// of resource need.
func pressureReadings(psiOn, eventsOn, underOOMOn, peakOn bool) cgroupfs.Optional {
	var opt cgroupfs.Optional
	if psiOn {
		opt |= cgroupfs.OptPressure
	}
	if eventsOn {
		opt |= cgroupfs.OptEvents
	}
	if underOOMOn {
		opt |= cgroupfs.OptUnderOOM
	}
	if peakOn {
		opt |= cgroupfs.OptPeak
	}
	return opt
}

// podReadings are the optional readings whose pod metric is enabled.
func podReadings(m metadata.MetricsConfig) cgroupfs.Optional {
	opt := pressureReadings(m.K8sPodMemoryPressureStallTime.Enabled || m.K8sPodMemoryPressureStallShare.Enabled,
		m.K8sPodMemoryEvents.Enabled, m.K8sPodMemoryUnderOom.Enabled,
		m.K8sPodMemoryPeak.Enabled)
	if m.K8sPodMemoryOomKills.Enabled {
		opt |= cgroupfs.OptOOMKills
	}
	return opt
}

// scrapeNodePressure records the node's memory PSI, when the kernel has it.
func (s *cgroupScraper) scrapeNodePressure(now pcommon.Timestamp, errs *scrapererror.ScrapeErrors) {
	if !s.cfg.Metrics.SystemMemoryPressureStallTime.Enabled {
		return
	}
	p, found, err := nodemem.ReadMemoryPressure(s.procRoot)
	switch {
	case err != nil:
		errs.AddPartial(1, err)
	case found:
		recordPSI(now, p, s.mb.RecordSystemMemoryPressureStallTimeDataPoint, nil)
	}
}
