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
	flagged    func(*metadata.MetricsBuilder, pcommon.Timestamp, int64, metadata.AttributeDominantCause, metadata.AttributeClassification)
	kills      func(*metadata.MetricsBuilder, pcommon.Timestamp, int64, metadata.AttributeKillCause)
	growth     func(*metadata.MetricsBuilder, pcommon.Timestamp, float64, metadata.AttributeCause)
	wsGrowth   func(*metadata.MetricsBuilder, pcommon.Timestamp, float64)
	eta        func(*metadata.MetricsBuilder, pcommon.Timestamp, float64)
}

var recorders = [...]recorder{
	levelContainer: {
		divergence: (*metadata.MetricsBuilder).RecordContainerMemoryDivergenceUsageDataPoint,
		flagged:    (*metadata.MetricsBuilder).RecordContainerMemoryDivergenceFlaggedDataPoint,
		kills:      (*metadata.MetricsBuilder).RecordContainerMemoryDivergenceOomKillsDataPoint,
		growth:     (*metadata.MetricsBuilder).RecordContainerMemoryDivergenceGrowthDataPoint,
		wsGrowth:   (*metadata.MetricsBuilder).RecordContainerMemoryWorkingSetGrowthDataPoint,
		eta:        (*metadata.MetricsBuilder).RecordContainerMemoryLimitEtaDataPoint,
	},
	levelPod: {
		divergence: (*metadata.MetricsBuilder).RecordK8sPodMemoryDivergenceUsageDataPoint,
		flagged:    (*metadata.MetricsBuilder).RecordK8sPodMemoryDivergenceFlaggedDataPoint,
		kills:      (*metadata.MetricsBuilder).RecordK8sPodMemoryDivergenceOomKillsDataPoint,
		growth:     (*metadata.MetricsBuilder).RecordK8sPodMemoryDivergenceGrowthDataPoint,
		wsGrowth:   (*metadata.MetricsBuilder).RecordK8sPodMemoryWorkingSetGrowthDataPoint,
		eta:        (*metadata.MetricsBuilder).RecordK8sPodMemoryLimitEtaDataPoint,
	},
}

// analysis is everything the processor concluded about one resource at one level.
type analysis struct {
	parts      breakdown
	judgement  judgement
	rates      pressureRates
	growth     growth
	growthOK   bool
	minSigmas  float64 // trend.min_slope_sigmas, for the ETA's hysteresis
	etaHorizon float64 // trend.eta_horizon in seconds; 0: none
	emit       emission
}

// record writes an analysis as data points, all at the working set's timestamp: the flag,
// the causes, growth rates and ETA that selectSeries chose, and the OOM kills by cause.
func (r recorder) record(mb *metadata.MetricsBuilder, ts pcommon.Timestamp, a *analysis, oom *oomState) {
	for c := range numCauses {
		if a.emit.causes&(1<<c) != 0 {
			r.divergence(mb, ts, a.parts[c], causeAttributes[c])
		}
	}
	j := &a.judgement
	r.flagged(mb, ts, flagValue(j.flagged), dominantAttributes[j.cause], classAttributes[j.class])
	if a.emit.growth {
		r.wsGrowth(mb, ts, a.growth.workingSet)
		for c := range numCauses {
			r.growth(mb, ts, a.growth.causes[c], causeAttributes[c])
		}
	}
	if a.emit.eta {
		r.eta(mb, ts, a.growth.eta)
	}
	r.recordKills(mb, ts, oom)
}

// recordKills writes the OOM kills by cause that are not zero.
func (r recorder) recordKills(mb *metadata.MetricsBuilder, ts pcommon.Timestamp, oom *oomState) {
	for c, k := range oom.kills {
		if k > 0 {
			r.kills(mb, ts, int64(k), killAttributes[c])
		}
	}
}

func flagValue(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
