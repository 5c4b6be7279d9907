package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metadata"
)

// levelKind says which resources a level analyses and which metric names it emits.
type levelKind uint8

const (
	levelContainer levelKind = iota
	levelPod
)

// recorder records one level's results into the metrics builder: container resources get
// container.memory.*, pod resources k8s.pod.memory.*, matching the names they came with.
type recorder struct {
	divergence func(*metadata.MetricsBuilder, pcommon.Timestamp, int64, metadata.AttributeCause)
	flagged    func(*metadata.MetricsBuilder, pcommon.Timestamp, int64, metadata.AttributeDominantCause)
	growth     func(*metadata.MetricsBuilder, pcommon.Timestamp, float64, metadata.AttributeCause)
	wsGrowth   func(*metadata.MetricsBuilder, pcommon.Timestamp, float64)
	eta        func(*metadata.MetricsBuilder, pcommon.Timestamp, float64)
}

var recorders = [...]recorder{
	levelContainer: {
		divergence: (*metadata.MetricsBuilder).RecordContainerMemoryDivergenceUsageDataPoint,
		flagged:    (*metadata.MetricsBuilder).RecordContainerMemoryDivergenceFlaggedDataPoint,
		growth:     (*metadata.MetricsBuilder).RecordContainerMemoryDivergenceGrowthDataPoint,
		wsGrowth:   (*metadata.MetricsBuilder).RecordContainerMemoryWorkingSetGrowthDataPoint,
		eta:        (*metadata.MetricsBuilder).RecordContainerMemoryLimitEtaDataPoint,
	},
	levelPod: {
		divergence: (*metadata.MetricsBuilder).RecordK8sPodMemoryDivergenceUsageDataPoint,
		flagged:    (*metadata.MetricsBuilder).RecordK8sPodMemoryDivergenceFlaggedDataPoint,
		growth:     (*metadata.MetricsBuilder).RecordK8sPodMemoryDivergenceGrowthDataPoint,
		wsGrowth:   (*metadata.MetricsBuilder).RecordK8sPodMemoryWorkingSetGrowthDataPoint,
		eta:        (*metadata.MetricsBuilder).RecordK8sPodMemoryLimitEtaDataPoint,
	},
}

// analysis is everything the processor concluded about one resource at one level.
type analysis struct {
	parts    breakdown
	verdict  verdict
	growth   growth
	growthOK bool
}

// record writes an analysis as data points, all at the working set's timestamp.
func (r recorder) record(mb *metadata.MetricsBuilder, ts pcommon.Timestamp, a *analysis) {
	for c := range numCauses {
		r.divergence(mb, ts, a.parts[c], causeAttributes[c])
	}
	r.flagged(mb, ts, a.verdict.value(), a.verdict.dominant)
	if !a.growthOK {
		return
	}
	r.wsGrowth(mb, ts, a.growth.workingSet)
	for c := range numCauses {
		r.growth(mb, ts, a.growth.causes[c], causeAttributes[c])
	}
	if a.growth.etaOK {
		r.eta(mb, ts, a.growth.eta)
	}
}
