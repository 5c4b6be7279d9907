package cgroupmemreceiver // import "github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/cgroupmem/cgroupmem/internal/k8smeta"
	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver/internal/metadata"
)

const (
	defaultCollectionInterval = 10 * time.Second
	defaultDiscoveryInterval  = 5 * time.Minute
	// defaultScrapeTimeout bounds a scrape unless timeout is set: scrapes run one at a time,
	// so one that a container makes slow (thousands of sockets or fds) would otherwise delay
	// every metric of the node. The bound is never longer than collection_interval.
	defaultScrapeTimeout = 5 * time.Second
)

// NewFactory returns the factory of the cgroupmem receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithMetrics(createMetricsReceiver, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	cc := scraperhelper.NewDefaultControllerConfig()
	cc.CollectionInterval = defaultCollectionInterval
	cc.Timeout = defaultScrapeTimeout
	return &Config{
		ControllerConfig:     cc,
		MetricsBuilderConfig: metadata.NewDefaultMetricsBuilderConfig(),
		RootPath:             "/",
		DiscoveryInterval:    defaultDiscoveryInterval,
		K8sMetadata:          k8smeta.NewDefaultConfig(),
		DentryAccounting:     DentryAccountingConfig{Mode: dentryAccountingOff},
		Sockets:              defaultSocketsConfig(),
		KmsgOOMWatcher:       KmsgOOMWatcherConfig{Path: defaultKmsgPath},
	}
}

func createMetricsReceiver(
	_ context.Context,
	set receiver.Settings,
	baseCfg component.Config,
	next consumer.Metrics,
) (receiver.Metrics, error) {
	return newMetricsReceiver(baseCfg.(*Config), set, next)
}
