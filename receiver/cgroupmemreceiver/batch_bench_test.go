package cgroupmemreceiver

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"
)

// BenchmarkHeldPdata measures what the receiver's own scrape loop (receiver.go) buys over
// scraperhelper's controller, which hands a scrape down the pipeline whole: the heap held
// when the pipeline's next consumer after the memdivergence processor gets the metrics, with
// the scrape handed on whole (batch=whole, what scraper.NewMetrics and the controller do) and
// in the receiver's batches of batchResources resources (batch=100). It reports
// held-MiB, the largest heap in use (after a GC, at the consumer) above the heap before the
// scrape, over the scrapes of the run after a first one, and held-resources, the resources at the consumer at
// that moment. The tree is the v1 fixture copied to 1,000 containers (500 pods), with the
// container and pod metrics at their defaults.
func BenchmarkHeldPdata(b *testing.B) {
	bt := fixtureBenchTree(b, 1000)
	for _, tc := range []struct {
		name  string
		batch int
	}{{"batch=whole", 0}, {"batch=100", batchResources}} {
		b.Run(tc.name, func(b *testing.B) {
			s := startScraper(b, containerPodConfig(bt.root))
			held := &heldMeter{}
			f := memdivergenceprocessor.NewFactory()
			proc, err := f.CreateMetrics(context.Background(), processortest.NewNopSettings(f.Type()), f.CreateDefaultConfig(), held)
			require.NoError(b, err)
			ctx := context.Background()
			scrape := func() {
				runtime.GC()
				held.base = heapInUse()
				err := s.scrapeInBatches(ctx, tc.batch, func(md pmetric.Metrics) {
					if err := proc.ConsumeMetrics(ctx, md); err != nil {
						b.Fatal(err)
					}
				})
				require.NoError(b, err)
			}
			// The first scrape fills what lives from scrape to scrape (the open files, the
			// resource cache, the processor's state per resource); it is not measured.
			scrape()
			*held = heldMeter{}
			for b.Loop() {
				scrape()
			}
			require.NoError(b, proc.Shutdown(ctx))
			require.Positive(b, held.resources, "the consumer got metrics")
			b.ReportMetric(float64(held.max)/(1<<20), "held-MiB")
			b.ReportMetric(float64(held.resources), "held-resources")
		})
	}
}

// heldMeter is the pipeline's next consumer: it measures the heap in use while it holds the
// metrics, and drops them.
type heldMeter struct {
	base, max uint64
	resources int
}

func (*heldMeter) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (h *heldMeter) ConsumeMetrics(_ context.Context, md pmetric.Metrics) error {
	runtime.GC()
	if in := heapInUse(); in > h.base && in-h.base > h.max {
		h.max, h.resources = in-h.base, md.ResourceMetrics().Len()
	}
	runtime.KeepAlive(md)
	return nil
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
