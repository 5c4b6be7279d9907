package metadata // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metadata"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
)

// NewMetricsBuilder returns a MetricsBuilder for the metrics in metadata.yaml.
//
// mdatagen writes this constructor only for receivers, scrapers and connectors; a processor
// supplies its own, in the same package, because the builder's fields are unexported. Every
// metric of metadata.yaml needs its line here: the generated TestMetricsBuilder records every
// metric and fails (nil data) on a metric that was left out.
func NewMetricsBuilder(mbc MetricsBuilderConfig, settings processor.Settings, options ...MetricBuilderOption) *MetricsBuilder {
	m := mbc.Metrics
	mb := &MetricsBuilder{
		config:                                  mbc,
		startTime:                               pcommon.NewTimestampFromTime(time.Now()),
		metricsBuffer:                           pmetric.NewMetrics(),
		buildInfo:                               settings.BuildInfo,
		metricContainerMemoryDivergenceUsage:    newMetricContainerMemoryDivergenceUsage(m.ContainerMemoryDivergenceUsage),
		metricContainerMemoryDivergenceFlagged:  newMetricContainerMemoryDivergenceFlagged(m.ContainerMemoryDivergenceFlagged),
		metricContainerMemoryDivergenceGrowth:   newMetricContainerMemoryDivergenceGrowth(m.ContainerMemoryDivergenceGrowth),
		metricContainerMemoryDivergenceOomKills: newMetricContainerMemoryDivergenceOomKills(m.ContainerMemoryDivergenceOomKills),
		metricContainerMemoryLimitEta:           newMetricContainerMemoryLimitEta(m.ContainerMemoryLimitEta),
		metricContainerMemoryWorkingSetGrowth:   newMetricContainerMemoryWorkingSetGrowth(m.ContainerMemoryWorkingSetGrowth),
		metricK8sPodMemoryDivergenceUsage:       newMetricK8sPodMemoryDivergenceUsage(m.K8sPodMemoryDivergenceUsage),
		metricK8sPodMemoryDivergenceFlagged:     newMetricK8sPodMemoryDivergenceFlagged(m.K8sPodMemoryDivergenceFlagged),
		metricK8sPodMemoryDivergenceGrowth:      newMetricK8sPodMemoryDivergenceGrowth(m.K8sPodMemoryDivergenceGrowth),
		metricK8sPodMemoryDivergenceOomKills:    newMetricK8sPodMemoryDivergenceOomKills(m.K8sPodMemoryDivergenceOomKills),
		metricK8sPodMemoryLimitEta:              newMetricK8sPodMemoryLimitEta(m.K8sPodMemoryLimitEta),
		metricK8sPodMemoryWorkingSetGrowth:      newMetricK8sPodMemoryWorkingSetGrowth(m.K8sPodMemoryWorkingSetGrowth),
	}
	for _, op := range options {
		op.apply(mb)
	}
	return mb
}
