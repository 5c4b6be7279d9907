package cgroupmemreceiver

import (
	"context"
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver/internal/metadata"
)

var update = flag.Bool("update", false, "rewrite the golden files from the fixtures")

// fixtureRoot is a capture from a real kernel laid out as a host root.
func fixtureRoot(name string) string {
	return filepath.Join("..", "..", "testdata", name)
}

// fixtureConfig turns on every metric and resource attribute a capture can feed, so the
// golden files cover everything the receiver can say about the fixtures. Socket queues are
// off: attributing them reads /proc/<pid>/fd symlinks, which a capture can only list
// (fd.txt); internal/sockets replays that listing, and the live tests cover the rest.
func fixtureConfig(root string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.RootPath = root
	m := &cfg.Metrics
	m.ContainerMemoryRssHuge.Enabled = true
	m.ContainerMemoryMappedFile.Enabled = true
	m.ContainerMemoryShmem.Enabled = true
	m.ContainerPagingFaults.Enabled = true
	m.ContainerMemoryPressureStallShare.Enabled = true
	m.ContainerMemoryUnderOom.Enabled = true
	m.K8sPodMemoryUnderOom.Enabled = true
	m.ContainerMemoryRefaultActivations.Enabled = true
	m.K8sPodMemoryRefaultActivations.Enabled = true
	m.ContainerMemoryPeak.Enabled = true
	m.ContainerMemoryReclaimScanned.Enabled = true
	m.ContainerMemoryReclaimReclaimed.Enabled = true
	m.K8sPodMemoryPressureStallShare.Enabled = true
	m.K8sPodMemoryPeak.Enabled = true
	m.K8sPodMemoryReclaimScanned.Enabled = true
	m.K8sPodMemoryReclaimReclaimed.Enabled = true
	m.ContainerMemorySockRcvq.Enabled = false
	m.ContainerMemorySockRcvqPayload.Enabled = false
	m.ContainerMemorySockRcvqSockets.Enabled = false
	ra := &cfg.ResourceAttributes
	ra.K8sPodQosClass.Enabled = true
	ra.CgroupPath.Enabled = true
	return cfg
}

// startScraper starts a scraper and shuts it down when the test ends.
func startScraper(t testing.TB, cfg *Config) *cgroupScraper {
	t.Helper()
	return startScraperWith(t, cfg, receivertest.NewNopSettings(metadata.Type))
}

// startScraperWith is startScraper with the receiver settings given.
func startScraperWith(t testing.TB, cfg *Config, set receiver.Settings) *cgroupScraper {
	t.Helper()
	s := newCgroupScraper(cfg, set)
	require.NoError(t, s.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, s.shutdown(context.Background())) })
	return s
}

// startScraperLogging is startScraper with the scraper's logs at level and above kept for
// the test to read.
func startScraperLogging(t testing.TB, cfg *Config, level zapcore.Level) (*cgroupScraper, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(level)
	set := receivertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	return startScraperWith(t, cfg, set), logs
}

func scrapeOnce(t *testing.T, cfg *Config) (pmetric.Metrics, error) {
	t.Helper()
	return startScraper(t, cfg).scrape(context.Background())
}

func TestScrapeGolden(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		golden  string
	}{
		{name: "cgroup v1 hybrid, cgroupfs driver", fixture: "v1-hybrid-kernel-6.18", golden: "receiver-v1.yaml"},
		{name: "cgroup v2, systemd driver, containerd", fixture: "v2-kernel-6.18", golden: "receiver-v2.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scrapeOnce(t, fixtureConfig(fixtureRoot(tt.fixture)))
			require.NoError(t, err)
			path := filepath.Join("..", "..", "testdata", "golden", tt.golden)
			if *update {
				require.NoError(t, golden.WriteMetrics(t, path, got))
			}
			want, err := golden.ReadMetrics(path)
			require.NoError(t, err)
			require.NoError(t, pmetrictest.CompareMetrics(want, got,
				pmetrictest.IgnoreTimestamp(), pmetrictest.IgnoreStartTimestamp(),
				pmetrictest.IgnoreResourceMetricsOrder(), pmetrictest.IgnoreMetricsOrder(),
				pmetrictest.IgnoreMetricDataPointsOrder()))
			assertOneTimestamp(t, got)
		})
	}
}

// assertOneTimestamp checks that every data point of a scrape carries the same time.
func assertOneTimestamp(t *testing.T, md pmetric.Metrics) {
	t.Helper()
	var first pcommon.Timestamp
	n := 0
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				dps := numberDataPoints(ms.At(k))
				for l := 0; l < dps.Len(); l++ {
					ts := dps.At(l).Timestamp()
					if n == 0 {
						first = ts
					}
					require.Equal(t, first, ts, "metric %s", ms.At(k).Name())
					n++
				}
			}
		}
	}
	require.Positive(t, n, "the scrape recorded no data point")
}

// TestScrapeMatchesCaptureNotes checks the workload container against the numbers the capture's
// notes (testdata/README.md) give, read there from the kernel files at capture time.
func TestScrapeMatchesCaptureNotes(t *testing.T) {
	const workload = "aaaaaaaa11111111111111111111111111111111111111111111111111111111"
	tests := []struct {
		fixture string
		want    map[string]int64
	}{
		{fixture: "v1-hybrid-kernel-6.18", want: map[string]int64{
			"container.memory.usage": 202100736, "container.memory.rss": 76804096,
			"container.memory.cache": 102137856, "container.memory.kmem": 23040000,
			// usage − total_inactive_file (1462272)
			"container.memory.working_set": 202100736 - 1462272,
		}},
		{fixture: "v2-kernel-6.18", want: map[string]int64{
			"container.memory.usage": 204660736, "container.memory.rss": 77873152,
			"container.memory.cache": 101834752, "container.memory.kmem": 23142400,
			"container.memory.sock": 1716224,
			// memory.current − inactive_file (831488)
			"container.memory.working_set": 204660736 - 831488,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			md, err := scrapeOnce(t, fixtureConfig(fixtureRoot(tt.fixture)))
			require.NoError(t, err)
			got := containerValues(md, workload)
			for name, want := range tt.want {
				require.Equal(t, want, got[name], name)
			}
		})
	}
}

// containerMetrics returns the metrics of one container's resource (empty when absent).
func containerMetrics(md pmetric.Metrics, containerID string) pmetric.MetricSlice {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		if id, ok := rms.At(i).Resource().Attributes().Get("container.id"); ok && id.Str() == containerID {
			return rms.At(i).ScopeMetrics().At(0).Metrics()
		}
	}
	return pmetric.NewMetricSlice()
}

// containerValues maps metric names to the single data point of one container's resource.
func containerValues(md pmetric.Metrics, containerID string) map[string]int64 {
	out := map[string]int64{}
	ms := containerMetrics(md, containerID)
	for k := 0; k < ms.Len(); k++ {
		if dps := numberDataPoints(ms.At(k)); dps.Len() == 1 && dps.At(0).ValueType() == pmetric.NumberDataPointValueTypeInt {
			out[ms.At(k).Name()] = dps.At(0).IntValue()
		}
	}
	return out
}

// resourceAttr returns a resource attribute of one container's resource ("" when absent).
func resourceAttr(md pmetric.Metrics, containerID, key string) string {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		attrs := rms.At(i).Resource().Attributes()
		if id, ok := attrs.Get("container.id"); ok && id.Str() == containerID {
			if v, ok := attrs.Get(key); ok {
				return v.AsString()
			}
		}
	}
	return ""
}

// TestScrapeReadsOnlyTheFilesItsMetricsNeed counts the files a scrape of the v1 capture keeps
// open (2 pods, 3 containers). Every cgroup needs memory.stat, usage_in_bytes,
// limit_in_bytes and kmem.usage_in_bytes. Only containers read memory.kmem.tcp.max_usage_in_bytes
// (container.memory.sock; zero in the capture, so tcp.usage_in_bytes is not read) and
// memory.oom_control (container.memory.oom_kills), and the first reads memory.kmem.slabinfo
// (container.memory.slab.dentry; empty on 6.18, so no other is read): pod metrics need none.
func TestScrapeReadsOnlyTheFilesItsMetricsNeed(t *testing.T) {
	root := fixtureRoot("v1-hybrid-kernel-6.18")
	openAfterScrape := func(cfg *Config) int {
		s := startScraper(t, cfg)
		_, err := s.scrape(context.Background())
		require.NoError(t, err)
		return s.files.Open()
	}
	// 3 containers and 2 pods: memory.stat, usage, limit, kmem each; per container tcp max
	// usage, oom_control, failcnt and max_usage_in_bytes; per pod oom_control, failcnt,
	// max_usage_in_bytes and the unified memory.pressure; the unified memory.pressure of the
	// 2 containers that have one and of the pods' 2 parents (kubepods, kubepods/burstable: they
	// gate the pods'); one memory.kmem.slabinfo (empty on 6.18: read once).
	require.Equal(t, 5*4+3*4+2*4+2+2+1, openAfterScrape(fixtureConfig(root)))

	cfg := fixtureConfig(root)
	m := &cfg.Metrics
	m.ContainerMemorySock.Enabled = false
	m.ContainerMemoryOomKills.Enabled = false
	m.ContainerMemorySlabDentry.Enabled = false
	m.ContainerMemoryEvents.Enabled, m.K8sPodMemoryEvents.Enabled = false, false
	m.ContainerMemoryUnderOom.Enabled, m.K8sPodMemoryUnderOom.Enabled = false, false
	m.ContainerMemoryPeak.Enabled, m.K8sPodMemoryPeak.Enabled = false, false
	m.K8sPodMemoryOomKills.Enabled = false
	m.ContainerMemoryPressureStallShare.Enabled, m.K8sPodMemoryPressureStallShare.Enabled = false, false
	m.ContainerMemoryPressureStallTime.Enabled, m.K8sPodMemoryPressureStallTime.Enabled = false, false
	require.Equal(t, 5*4, openAfterScrape(cfg))

	m.ContainerMemoryPressureStallTime.Enabled, m.K8sPodMemoryPressureStallTime.Enabled = true, true
	require.Equal(t, 5*4+2+2+2, openAfterScrape(cfg), "PSI: the unified memory.pressure of 2 containers, 2 pods and their 2 parents")
}

// numberDataPoints are the data points of a sum or a gauge.
func numberDataPoints(m pmetric.Metric) pmetric.NumberDataPointSlice {
	if m.Type() == pmetric.MetricTypeGauge {
		return m.Gauge().DataPoints()
	}
	return m.Sum().DataPoints()
}

// eventually polls cond like require.Eventually, but cond reports errors instead of failing
// the test itself: require inside a require.Eventually condition runs off the test's
// goroutine, where FailNow does not stop the test. The first error stops the wait and fails
// the test here.
func eventually(t *testing.T, cond func() (bool, error), waitFor, tick time.Duration, msg string) {
	t.Helper()
	var condErr error
	require.Eventually(t, func() bool {
		done, err := cond()
		if err != nil {
			condErr = err
			return true
		}
		return done
	}, waitFor, tick, msg)
	require.NoError(t, condErr, msg)
}
