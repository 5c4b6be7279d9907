package cgroupmemreceiver // import "github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/collector/scraper/scrapererror"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver/internal/metadata"
)

// metricsReceiver runs the scraper on the schedule of scraperhelper's controller
// (initial_delay, then a scrape at once and every collection_interval, each bounded by
// timeout, 5 s by default and at most collection_interval), but hands each scrape on in
// batches of batchResources resources instead of whole: the pipeline then holds one batch of
// pdata at a time, not the node's (the package doc says why, with the measurement). Each
// batch is reported like any receiver's data (otelcol_receiver_accepted_metric_points and
// refused_metric_points), and each scrape as scraperhelper's controller reports a scraper's:
// otelcol_scraper_scraped_metric_points (the data points of all its batches) and
// otelcol_scraper_errored_metric_points (the metrics its partial errors count), with the
// receiver and scraper attributes; its errors are logged as scraperhelper logs them.
type metricsReceiver struct {
	cfg     *Config
	scraper *cgroupScraper
	next    consumer.Metrics
	obs     *receiverhelper.ObsReport
	tel     *metadata.TelemetryBuilder
	telAttr metric.MeasurementOption // receiver and scraper, as scraperhelper sets them
	logger  *zap.Logger

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	// batch is how many resources go down the pipeline at once; tests lower it.
	batch int
	// lastErr is the previous scrape's error message ("" for none): see logScrapeError.
	lastErr string
}

func newMetricsReceiver(cfg *Config, set receiver.Settings, next consumer.Metrics) (*metricsReceiver, error) {
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &metricsReceiver{
		cfg:     cfg,
		scraper: newCgroupScraper(cfg, set),
		next:    next,
		obs:     obs,
		tel:     tel,
		telAttr: metric.WithAttributeSet(attribute.NewSet(
			attribute.String("receiver", set.ID.String()),
			attribute.String("scraper", metadata.Type.String()),
		)),
		logger: set.Logger,
		stop:   make(chan struct{}),
		batch:  batchResources,
	}, nil
}

// Start starts the scraper, then scrapes in the background until Shutdown.
func (r *metricsReceiver) Start(ctx context.Context, host component.Host) error {
	if err := r.scraper.start(ctx, host); err != nil {
		return err
	}
	r.wg.Go(r.run)
	return nil
}

func (r *metricsReceiver) run() {
	if d := r.cfg.InitialDelay; d > 0 {
		select {
		case <-time.After(d):
		case <-r.stop:
			return
		}
	}
	ticker := time.NewTicker(r.cfg.CollectionInterval)
	defer ticker.Stop()
	for {
		r.scrapeOnce()
		select {
		case <-ticker.C:
		case <-r.stop:
			return
		}
	}
}

// scrapeOnce scrapes the node and sends the batches on.
func (r *metricsReceiver) scrapeOnce() {
	ctx, cancel := r.scrapeContext()
	defer cancel()
	var consumeErrs []error
	scraped := 0
	err := r.scraper.scrapeInBatches(ctx, r.batch, func(md pmetric.Metrics) {
		points := md.DataPointCount()
		scraped += points
		opCtx := r.obs.StartMetricsOp(ctx)
		err := r.next.ConsumeMetrics(opCtx, md)
		r.obs.EndMetricsOp(opCtx, "", points, err)
		if err != nil {
			consumeErrs = append(consumeErrs, err)
		}
	})
	errored := 0
	if err != nil {
		if pe := (scrapererror.PartialScrapeError{}); errors.As(err, &pe) {
			errored = pe.Failed
		}
	}
	r.logScrapeError(err)
	r.tel.ScraperScrapedMetricPoints.Add(context.Background(), int64(scraped), r.telAttr)
	r.tel.ScraperErroredMetricPoints.Add(context.Background(), int64(errored), r.telAttr)
	if err := errors.Join(consumeErrs...); err != nil {
		r.logger.Debug("The next consumer refused metrics", zap.Error(err))
	}
}

// logScrapeError logs a scrape's error as scraperhelper does, but once while it lasts: a
// scrape that fails exactly as the one before (a file root alone may read, a kernel file that
// stays malformed) is logged at debug level, so that a persistent error is said once, not
// every collection_interval; it is said again once it changes, or after a scrape without
// error. otelcol_scraper_errored_metric_points counts it every scrape.
func (r *metricsReceiver) logScrapeError(err error) {
	if err == nil {
		r.lastErr = ""
		return
	}
	msg := err.Error()
	if msg == r.lastErr {
		r.logger.Debug("Error scraping metrics, as in the previous scrape", zap.Error(err))
		return
	}
	r.lastErr = msg
	r.logger.Error("Error scraping metrics", zap.Error(err))
}

// scrapeContext bounds one scrape by the configured timeout (see Config.scrapeTimeout).
func (r *metricsReceiver) scrapeContext() (context.Context, context.CancelFunc) {
	if d := r.cfg.scrapeTimeout(); d > 0 {
		return context.WithTimeout(context.Background(), d)
	}
	return context.WithCancel(context.Background())
}

// Shutdown stops the scrapes, waits for one in progress, and shuts the scraper down. It is
// safe without Start and when called twice.
func (r *metricsReceiver) Shutdown(ctx context.Context) error {
	r.stopOnce.Do(func() { close(r.stop) })
	r.wg.Wait()
	r.tel.Shutdown()
	return r.scraper.shutdown(ctx)
}
