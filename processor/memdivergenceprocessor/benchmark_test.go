package memdivergenceprocessor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metadata"
)

// containerBatch builds one scrape of n containers shaped like the receiver's cgroup v2
// output (the fixture workload's numbers, each container a little different): all of them
// flagged for their page cache.
func containerBatch(n int) pmetric.Metrics { return mixedBatch(n, 1) }

// mixedBatch is containerBatch where only every flaggedEvery-th container keeps the
// workload's 96 MiB of active page cache; the others hold 16 MiB and are not flagged.
func mixedBatch(n, flaggedEvery int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for i := range n {
		d := int64(i) << 12
		if i%flaggedEvery != 0 {
			d -= 80 << 20
		}
		rm := addResource(md, map[string]string{
			"container.id": fmt.Sprintf("%064x", i), "k8s.pod.uid": fmt.Sprintf("pod-%d", i/2),
			"container.runtime.name": "containerd", "k8s.namespace.name": "default",
		}, t0, map[string]int64{
			"container.memory.usage": 204660736 + d, "container.memory.working_set": 203829248 + d,
			"container.memory.rss": 77873152, "container.memory.cache": 101834752 + d,
			"container.memory.active_file": 101003264 + d, "container.memory.inactive_file": 831488,
			"container.memory.kmem": 23142400, "container.memory.sock": 1716224,
			"container.memory.limit": 2 << 30, "container.memory.swap": 0,
		})
		addMetric(rm.ScopeMetrics().At(0).Metrics(), "container.memory.slab.usage", true,
			dp{ts: pcommon.NewTimestampFromTime(t0), i: 22884776, attrs: map[string]string{"container.memory.slab.state": "reclaimable"}},
			dp{ts: pcommon.NewTimestampFromTime(t0), i: 32848, attrs: map[string]string{"container.memory.slab.state": "unreclaimable"}})
	}
	return md
}

// setTimestamps moves every data point of a batch to ts.
func setTimestamps(md pmetric.Metrics, ts pcommon.Timestamp) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		ms := rms.At(i).ScopeMetrics().At(0).Metrics()
		for j := 0; j < ms.Len(); j++ {
			dps := numberPoints(ms.At(j))
			for k := 0; k < dps.Len(); k++ {
				dps.At(k).SetTimestamp(ts)
			}
		}
	}
}

// BenchmarkProcess1000Containers processes one scrape of 1,000 containers per iteration,
// a minute apart, so the trend windows fill and stay full as in production.
func BenchmarkProcess1000Containers(b *testing.B) {
	benchmarkProcess(b, containerBatch(1000), detailCompact)
}

// BenchmarkProcess1000ContainersMostlyQuiet: 1 in 20 containers flagged, the default
// (compact) series and the full detail.
func BenchmarkProcess1000ContainersMostlyQuiet(b *testing.B) {
	for _, detail := range []string{detailCompact, detailFull} {
		b.Run(detail, func(b *testing.B) { benchmarkProcess(b, mixedBatch(1000, 20), detail) })
	}
}

func benchmarkProcess(b *testing.B, template pmetric.Metrics, detail string) {
	cfg := createDefaultConfig().(*Config)
	cfg.Series.Detail = detail
	p, err := NewFactory().CreateMetrics(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(b, err)
	require.NoError(b, p.Start(context.Background(), nil))
	defer func() { require.NoError(b, p.Shutdown(context.Background())) }()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		md := pmetric.NewMetrics()
		template.CopyTo(md)
		setTimestamps(md, pcommon.NewTimestampFromTime(t0.Add(time.Duration(i)*time.Minute)))
		b.StartTimer()
		if err := p.ConsumeMetrics(context.Background(), md); err != nil {
			b.Fatal(err)
		}
	}
}
