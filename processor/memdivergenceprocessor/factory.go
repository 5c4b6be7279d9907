package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metadata"
)

// NewFactory returns the factory of the memdivergence processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

// createDefaultConfig reads the names of the cgroupmem receiver, which are also those of the
// kubeletstats receiver for working set, RSS and usage.
func createDefaultConfig() component.Config {
	return &Config{
		MetricsBuilderConfig: metadata.NewDefaultMetricsBuilderConfig(),
		Container: InputNames{
			WorkingSet:   "container.memory.working_set",
			RSS:          "container.memory.rss",
			Usage:        "container.memory.usage",
			Limit:        "container.memory.limit",
			Cache:        "container.memory.cache",
			ActiveFile:   "container.memory.active_file",
			InactiveFile: "container.memory.inactive_file",
			Kmem:         "container.memory.kmem",
			Slab:         "container.memory.slab.usage",
			DentrySlab:   "container.memory.slab.dentry",
			Sock:         "container.memory.sock",
			SockRcvq:     "container.memory.sock_rcvq",

			SockRcvqPayload:   "container.memory.sock_rcvq_payload",
			PressureStallTime: "container.memory.pressure.stall_time",
			Refaults:          "container.memory.refaults",
			Events:            "container.memory.events",
			OOMKills:          "container.memory.oom_kills",
		},
		Pod: InputNames{
			WorkingSet: "k8s.pod.memory.working_set",
			RSS:        "k8s.pod.memory.rss",
			Usage:      "k8s.pod.memory.usage",
			Limit:      "k8s.pod.memory.limit",
			Cache:      "k8s.pod.memory.cache",
			Kmem:       "k8s.pod.memory.kmem",

			PressureStallTime: "k8s.pod.memory.pressure.stall_time",
			Refaults:          "k8s.pod.memory.refaults",
			Events:            "k8s.pod.memory.events",
			OOMKills:          "k8s.pod.memory.oom_kills",
		},
		CgroupVersion: cgroupVersionAuto,
		Thresholds: Thresholds{
			MinBytes:   100 << 20,
			RSSRatio:   0.5,
			LimitShare: 0.2,
			// The README justifies these from the kernel's documentation.
			StallShare:           0.01,
			RefaultRate:          256,
			LimitEvents:          1,
			SockRcvqBytes:        16 << 20,
			SockRcvqPayloadRatio: 4,
		},
		Trend: TrendConfig{
			Window:         60,
			SampleInterval: time.Minute,
			MinSamples:     10,
			MinSlopeSigmas: 3,
			ETAHorizon:     30 * 24 * time.Hour,
		},
		State: StateConfig{
			TTL:          10 * time.Minute,
			MaxResources: 20000,
		},
		Series: SeriesConfig{
			Detail:        detailCompact,
			MinCauseBytes: 1 << 20,
			Hold:          10 * time.Minute,
		},
		VerdictLog: LogConfig{Enabled: true, PerMinute: 10},
	}
}

func createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	p := newDivergenceProcessor(cfg.(*Config), set)
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.processMetrics,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}),
		processorhelper.WithShutdown(p.shutdown),
	)
}
