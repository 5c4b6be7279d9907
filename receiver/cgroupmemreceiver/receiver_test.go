package cgroupmemreceiver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver/internal/metadata"
	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver/internal/metadatatest"
)

// TestScrapeInBatches checks that the batches of one scrape, put together, are the scrape
// itself, that a batch closes once it holds the bound (a pod's containers and the pod stay
// together), and that the node's resource comes last.
func TestScrapeInBatches(t *testing.T) {
	for _, fixture := range []string{"v1-hybrid-kernel-6.18", "v2-kernel-6.18"} {
		t.Run(fixture, func(t *testing.T) {
			cfg := fixtureConfig(fixtureRoot(fixture))
			whole, err := scrapeOnce(t, cfg)
			require.NoError(t, err)
			require.Greater(t, whole.ResourceMetrics().Len(), 3, "the fixture has several pods and containers")

			var batches []pmetric.Metrics
			require.NoError(t, startScraper(t, cfg).scrapeInBatches(context.Background(), 2, func(md pmetric.Metrics) {
				batches = append(batches, md)
			}))
			require.Greater(t, len(batches), 1, "a bound of 2 resources splits the scrape")
			joined := pmetric.NewMetrics()
			for i, md := range batches {
				n := md.ResourceMetrics().Len()
				require.Positive(t, n, "batch %d is empty", i)
				if i < len(batches)-1 {
					require.GreaterOrEqual(t, n, 2, "batch %d closed before the bound", i)
				}
				md.ResourceMetrics().MoveAndAppendTo(joined.ResourceMetrics())
			}
			last := joined.ResourceMetrics().At(joined.ResourceMetrics().Len() - 1)
			_, hasContainer := last.Resource().Attributes().Get("container.id")
			_, hasPod := last.Resource().Attributes().Get("k8s.pod.uid")
			require.False(t, hasContainer || hasPod, "the node's resource comes last")
			require.NoError(t, pmetrictest.CompareMetrics(whole, joined,
				pmetrictest.IgnoreTimestamp(), pmetrictest.IgnoreStartTimestamp()))
		})
	}
}

// TestReceiverSendsBatches runs the receiver as the collector does: the first scrape
// happens at start, and reaches the next consumer in batches that together hold every
// resource of a scrape.
func TestReceiverSendsBatches(t *testing.T) {
	cfg := fixtureConfig(fixtureRoot("v1-hybrid-kernel-6.18"))
	cfg.CollectionInterval = time.Hour // only the scrape at start
	cfg.InitialDelay = 0
	whole, err := scrapeOnce(t, cfg)
	require.NoError(t, err)
	want := whole.ResourceMetrics().Len()

	sink := new(consumertest.MetricsSink)
	r, err := newMetricsReceiver(cfg, receivertest.NewNopSettings(metadata.Type), sink)
	require.NoError(t, err)
	r.batch = 2
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	require.Eventually(t, func() bool { return resourceCount(sink.AllMetrics()) >= want }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, r.Shutdown(context.Background()))
	require.Equal(t, want, resourceCount(sink.AllMetrics()), "one scrape, every resource once")
	require.Greater(t, len(sink.AllMetrics()), 1, "in batches")
	require.NoError(t, r.Shutdown(context.Background()), "a second Shutdown is harmless")
}

// TestReceiverLogsScrapeAndConsumerErrors checks that a scrape's partial error is logged
// with the file it names, and that a consumer refusing a batch does not stop the others.
func TestReceiverLogsScrapeAndConsumerErrors(t *testing.T) {
	root := copyTree(t, fixtureRoot("v2-kernel-6.18"))
	bad := filepath.Join(root, "sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f0a9d1e_7c55_4b8e_9a31_2d4be2f1c0aa.slice",
		"cri-containerd-aaaaaaaa11111111111111111111111111111111111111111111111111111111.scope", "memory.stat")
	require.NoError(t, os.WriteFile(bad, []byte("anon 77873152\nfile twelve\n"), 0o644))
	cfg := fixtureConfig(root)
	cfg.CollectionInterval = time.Hour
	core, logs := observer.New(zap.DebugLevel)
	set := receivertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	var offered, resources int
	refuseFirst, err := consumer.NewMetrics(func(_ context.Context, md pmetric.Metrics) error {
		offered++
		if offered == 1 {
			return errors.New("pipeline full")
		}
		resources += md.ResourceMetrics().Len()
		return nil
	})
	require.NoError(t, err)
	r, err := newMetricsReceiver(cfg, set, refuseFirst)
	require.NoError(t, err)
	r.batch = 2
	require.NoError(t, r.scraper.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })

	r.scrapeOnce()
	require.Greater(t, offered, 2, "every batch is offered after one is refused")
	require.Positive(t, resources)
	refused := logs.FilterMessage("The next consumer refused metrics").All()
	require.Len(t, refused, 1)
	require.Contains(t, refused[0].ContextMap()["error"], "pipeline full")
	scrapeErrs := logs.FilterMessage("Error scraping metrics").All()
	require.Len(t, scrapeErrs, 1)
	require.Contains(t, scrapeErrs[0].ContextMap()["error"], bad)
}

func resourceCount(mds []pmetric.Metrics) int {
	n := 0
	for _, md := range mds {
		n += md.ResourceMetrics().Len()
	}
	return n
}

// TestReceiverReportsScraperTelemetry reads the receiver's own counters from a test telemetry
// provider: otelcol_scraper_scraped_metric_points holds the data points the next consumer was
// given over two scrapes, and otelcol_scraper_errored_metric_points the one failed file of the
// first (a corrupted memory.usage_in_bytes), with scraperhelper's receiver and scraper
// attributes.
func TestReceiverReportsScraperTelemetry(t *testing.T) {
	root := copyTree(t, fixtureRoot("v1-hybrid-kernel-6.18"))
	bad := filepath.Join(root, "sys/fs/cgroup/memory/kubepods/burstable/pod3f0a9d1e-7c55-4b8e-9a31-2d4be2f1c0aa",
		"aaaaaaaa11111111111111111111111111111111111111111111111111111111", "memory.usage_in_bytes")
	good, err := os.ReadFile(bad)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bad, []byte("lots\n"), 0o644))
	cfg := fixtureConfig(root)
	cfg.CollectionInterval = time.Hour

	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.MetricsSink)
	r, err := newMetricsReceiver(cfg, metadatatest.NewSettings(tel), sink)
	require.NoError(t, err)
	r.batch = 2
	require.NoError(t, r.scraper.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })

	r.scrapeOnce()
	require.NoError(t, os.WriteFile(bad, good, 0o644))
	r.scrapeOnce()
	points := 0
	for _, md := range sink.AllMetrics() {
		points += md.DataPointCount()
	}
	require.Greater(t, points, 100)

	attrs := attribute.NewSet(attribute.String("receiver", metadata.Type.String()), attribute.String("scraper", metadata.Type.String()))
	metadatatest.AssertEqualScraperScrapedMetricPoints(t, tel,
		[]metricdata.DataPoint[int64]{{Attributes: attrs, Value: int64(points)}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualScraperErroredMetricPoints(t, tel,
		[]metricdata.DataPoint[int64]{{Attributes: attrs, Value: 1}}, metricdatatest.IgnoreTimestamp())
}

// TestReceiverLogsAPersistentErrorOnce: a scrape error that stays the same is logged once,
// at error level, and again once it changes or after a scrape without error.
func TestReceiverLogsAPersistentErrorOnce(t *testing.T) {
	root := copyTree(t, fixtureRoot("v1-hybrid-kernel-6.18"))
	dir := filepath.Join(root, "sys/fs/cgroup/memory/kubepods/burstable/pod3f0a9d1e-7c55-4b8e-9a31-2d4be2f1c0aa", fixtureWorkload)
	usage := filepath.Join(dir, "memory.usage_in_bytes")
	good, err := os.ReadFile(usage)
	require.NoError(t, err)
	cfg := fixtureConfig(root)
	cfg.CollectionInterval = time.Hour
	core, logs := observer.New(zap.InfoLevel)
	set := receivertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	r, err := newMetricsReceiver(cfg, set, new(consumertest.MetricsSink))
	require.NoError(t, err)
	require.NoError(t, r.scraper.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	logged := func() int { return logs.FilterMessage("Error scraping metrics").Len() }

	require.NoError(t, os.WriteFile(usage, []byte("lots\n"), 0o644))
	for range 3 {
		r.scrapeOnce()
	}
	require.Equal(t, 1, logged(), "the same error three times: said once")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "memory.kmem.usage_in_bytes"), []byte("-1\n"), 0o644))
	r.scrapeOnce()
	require.Equal(t, 2, logged(), "a changed error is said")
	require.NoError(t, os.WriteFile(usage, good, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "memory.kmem.usage_in_bytes"), []byte("23040000\n"), 0o644))
	r.scrapeOnce()
	require.NoError(t, os.WriteFile(usage, []byte("lots\n"), 0o644))
	r.scrapeOnce()
	require.Equal(t, 3, logged(), "after a clean scrape the error is said again")
}
