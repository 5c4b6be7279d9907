package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cgroupmem/cgroupmem/bench/internal/collectorresult"
)

const benchOutput = `goos: linux
goarch: amd64
pkg: github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver
cpu: Intel(R) Xeon(R) Processor
BenchmarkScrape/containers=100/live-cgroups/metrics=container+pod-2   584   2046030 ns/op   4814 B/container   97.76 allocs/container   23000 cpu-ns/container   20460 ns/container   481356 B/op   9776 allocs/op
BenchmarkScrape/containers=100/live-cgroups/metrics=container+pod-2   574   2085415 ns/op   4813 B/container   97.76 allocs/container   25000 cpu-ns/container   20854 ns/container   481347 B/op   9776 allocs/op
BenchmarkScrape/containers=100/live-cgroups/metrics=container+pod-2   574   2085415 ns/op   4813 B/container   97.76 allocs/container   24000 cpu-ns/container   20854 ns/container   481347 B/op   9776 allocs/op
BenchmarkRead/containers=100/live-cgroups-2   1000   1000000 ns/op   0 B/container   0 allocs/container   11000 cpu-ns/container   10000 ns/container   0 B/op   0 allocs/op
BenchmarkBuild/containers=100/live-cgroups-2   1000   500000 ns/op   4000 B/container   84 allocs/container   5000 cpu-ns/container   5000 ns/container   400000 B/op   8400 allocs/op
BenchmarkLeastPdata/containers=100/live-cgroups-2   1000   350000 ns/op   3500 B/container   79 allocs/container   3200 cpu-ns/container   3500 ns/container   350000 B/op   7900 allocs/op
BenchmarkBarePreads/containers=100/live-cgroups-2   1593   768258 ns/op   0 B/container   0 allocs/container   8000 cpu-ns/container   7683 ns/container   0 B/op   0 allocs/op
BenchmarkBarePreads/containers=100/fixture-tree-2   1593   768258 ns/op   0 B/container   0 allocs/container   3000 cpu-ns/container   7683 ns/container   0 B/op   0 allocs/op
BenchmarkScrape/containers=100/live-cgroups/floor=socket_lookups-2   1000   400000 ns/op   0 B/container   0 allocs/container   4000 cpu-ns/container   4000 ns/container   0 B/op   0 allocs/op
BenchmarkScrape/containers=100/live-cgroups/floor=least_pdata_default-2   1000   500000 ns/op   0 B/container   0 allocs/container   5000 cpu-ns/container   5000 ns/container   0 B/op   0 allocs/op
BenchmarkScrape/containers=100/live-cgroups/floor=least_export_default-2   1000   300000 ns/op   0 B/container   0 allocs/container   3000 cpu-ns/container   3000 ns/container   0 B/op   0 allocs/op
--- FAIL: BenchmarkScrape/containers=10/fixture-tree
    benchmark_test.go:122: boom
PASS
`

func TestParseBench(t *testing.T) {
	bf, err := parseBench(strings.NewReader(benchOutput))
	require.NoError(t, err)
	require.Equal(t, "Intel(R) Xeon(R) Processor", bf.cpu)
	require.Len(t, bf.samples, 9)
	s, ok := bf.stat("BenchmarkScrape/containers=100/live-cgroups/metrics=container+pod", "cpu-ns/container")
	require.True(t, ok)
	require.Equal(t, stat{median: 24000, min: 23000, max: 25000, n: 3}, s)
	_, ok = bf.stat("BenchmarkScrape/containers=100/live-cgroups/metrics=container+pod", "no-such-unit")
	require.False(t, ok)
	require.Equal(t, []int{100}, bf.liveSizes())
}

func TestParseBenchBadValue(t *testing.T) {
	_, err := parseBench(strings.NewReader("BenchmarkX-2   10   x ns/op\n"))
	require.ErrorContains(t, err, `value "x"`)
}

func TestStatMedianOfEven(t *testing.T) {
	bf := benchFile{samples: map[string][]map[string]float64{"B": {{"u": 4}, {"u": 1}, {"u": 2}, {"u": 3}}}}
	s, ok := bf.stat("B", "u")
	require.True(t, ok)
	require.Equal(t, stat{median: 2.5, min: 1, max: 4, n: 4}, s)
}

func TestSplice(t *testing.T) {
	tests := []struct {
		name, readme, want, wantErr string
	}{
		{
			name:   "append",
			readme: "# x\n\ntext\n\n",
			want:   "# x\n\ntext\n\n" + beginMarker + "\nnew\n" + endMarker + "\n",
		},
		{
			name:   "replace",
			readme: "# x\n" + beginMarker + "\nold\nold\n" + endMarker + "\ntail\n",
			want:   "# x\n" + beginMarker + "\nnew\n" + endMarker + "\ntail\n",
		},
		{name: "end before begin", readme: endMarker + beginMarker, wantErr: "before"},
		{name: "only begin", readme: beginMarker, wantErr: "before"},
		{name: "twice", readme: beginMarker + endMarker + beginMarker + endMarker, wantErr: "more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splice(tt.readme, "new\n\n")
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestRender(t *testing.T) {
	bf, err := parseBench(strings.NewReader(benchOutput))
	require.NoError(t, err)
	r := report{
		bench:   bf,
		command: "make bench",
		ran:     []string{"go test -bench", "collectorrss"},
		date:    time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC),
		took:    200 * time.Second,
		machine: machine{cpu: "cpu", cores: 2, kernel: "6.18", cgroupMode: "cgroup v1", goVersion: "go1.26", commit: "abc"},
		collector: collectorresult.Report{Runs: []collectorresult.Run{
			{Containers: 1000, Pods: 500, Interval: "1s", Scrapes: 30, Warmup: 5, HWMBytes: 59 << 20, RSSBytes: 55 << 20, CPUPerContainerMicros: 46,
				Processors: []string{"memory_limiter", "memdivergence", "batch"}},
			{Containers: 1000, Pods: 500, Interval: "1s", Scrapes: 30, Warmup: 5, HWMBytes: 61 << 20, RSSBytes: 55 << 20, CPUPerContainerMicros: 40,
				Processors: []string{"memory_limiter", "batch"}, Without: []string{"memdivergence"}},
		}},
	}
	got, err := r.render()
	require.NoError(t, err)
	for _, want := range []string{
		"Generated by `make bench` on 2026-11-25 21:00 UTC in 3m20s",
		"| 100 | receiver scrape, container + pod metrics (node and socket metrics off; nothing stalls here, so each container's memory.pressure is kept while its pod's PSI total stays the same) | 24.0 [23.0–25.0] | 20.9 | 97.8 | 4,813 | 3.00× |",
		"| 100 | floor: the 4 files kept open, pread at offset 0 | 8.0 [8.0–8.0] | 7.7 | 0.0 | 0 | 1.00× |",
		"3.00× at 100 containers, **missed**",
		"| 100 | receiver's metric building alone: the same metrics into pdata from readings taken before the loop, no file read | 5.0 [5.0–5.0] | 5.0 | 84.0 | 4,000 | 0.62× |",
		"At 100 containers, the reader alone is 1.38× the floor and the metric building alone 0.62×, 2.00× together; the scrape's other 8.0 µs (1.00×) are what",
		"| 100 | least pdata: the scrape's own output built again with pmetric calls alone, from a copy of it | 3.2 [3.2–3.2] | 3.5 | 79.0 | 3,500 | 0.40× |",
		"The least pdata of the same output is 0.40× the floor on its own: reading the floor's files and building that pdata, with no parsing and nothing else, would already be 1.40×.",
		"| 1,000 | as deployed: memory_limiter, memdivergence, batch |",
		"| 1,000 | memory_limiter, batch (without memdivergence) |",
		"peak 59.0 MiB (VmRSS 55.0 MiB) at 1,000 containers, **met**; without memdivergence: peak 61.0 MiB (VmRSS 55.0 MiB), over the target.",
		"not ours",
		"This run's kept-open floor is, per cgroup read: 5.3 µs at 100 containers.",
		"go test -bench\ncollectorrss",
	} {
		require.Contains(t, got, want)
	}
	require.NotContains(t, got, "fixture-tree")
	require.Contains(t, got, "### Side by side with cAdvisor\n\nNot measured in this run.")
	require.NotContains(t, got, "cAdvisor itself is measured")
}

func TestRenderWithoutLiveResults(t *testing.T) {
	_, err := report{bench: benchFile{samples: map[string][]map[string]float64{}}}.render()
	require.ErrorContains(t, err, "as root")
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1500: "-1,500"} {
		require.Equal(t, want, thousands(n))
	}
}

func TestRatioText(t *testing.T) {
	require.Equal(t, "2.53×", ratioText(2.5321))
	require.Equal(t, "1.50×", ratioText(1.5))
	require.Equal(t, "1.50×", ratioText(1.4999))
	require.Equal(t, "1.503×", ratioText(1.5031), "over the target: not rounded down to it")
	require.Equal(t, "1.5002×", ratioText(1.50024))
	require.Equal(t, "1.51×", ratioText(1.507))
}

// TestRenderScrapeBelowItsShares: a scrape that costs less than its reader and building
// alone is said to cost nothing for alternating them, not a negative extra.
func TestRenderScrapeBelowItsShares(t *testing.T) {
	out := benchOutput
	for _, cpu := range []string{"23000", "24000", "25000"} {
		out = strings.ReplaceAll(out, cpu+" cpu-ns/container", "15000 cpu-ns/container")
	}
	bf, err := parseBench(strings.NewReader(out))
	require.NoError(t, err)
	got, err := report{bench: bf, command: "make bench"}.render()
	require.NoError(t, err)
	require.Contains(t, got, "cost 1.0 µs (0.12×) less than the two in loops of their own: nothing measurable for alternating in this run.")
	require.NotContains(t, got, "µs (-")
}

// sideBySideRun is a run beside cAdvisor: ours x seconds of CPU against cAdvisor's y over 60 s.
func sideBySideRun(containers int, ours, theirs float64, hwm uint64) collectorresult.Run {
	return collectorresult.Run{
		Collector: "_build/otelcol-cgroupmem", Containers: containers, Pods: containers / 2, Interval: "10s", Scrapes: 6, Warmup: 10,
		WindowSeconds: 60, CPUSeconds: ours, HWMBytes: hwm, RSSBytes: hwm - 2<<20,
		Processors: []string{"memory_limiter", "memdivergence", "batch"}, ReceiverDefaults: true, Exporter: "otlp", Compression: "zstd",
		WireBytesPerScrape: 1 << 20, ProtoBytesPerScrape: 5 << 20,
		CAdvisor: &collectorresult.Peer{
			Library: "github.com/google/cadvisor/lib v0.60.6", Housekeeping: "housekeeping 10s",
			CPUSeconds: theirs, RSSBytes: 18 << 20, HWMBytes: 19 << 20, HousekeepingsPerContainer: 3,
			ContainersCompared: containers, PodsCompared: containers / 2, SamplesEqual: 3 * containers, SamplesMoved: 1,
		},
	}
}

func TestRenderCAdvisor(t *testing.T) {
	bf, err := parseBench(strings.NewReader(benchOutput))
	require.NoError(t, err)
	profiled := sideBySideRun(1000, 2.0, 5.0, 50<<20)
	profiled.Collector = "_build/otelcol-cgroupmem-symbols"
	profiled.Profile = &collectorresult.Profile{Collector: "_build/otelcol-cgroupmem-symbols", Samples: 2000, Parts: []collectorresult.ProfilePart{
		{Name: "sockets", Samples: 1500, Share: 0.75},
		{Name: "pdata", Samples: 500, Share: 0.25},
	}}
	deployed := collectorresult.Run{Containers: 1000, Pods: 500, Interval: "1s", Scrapes: 30, Warmup: 5, HWMBytes: 59 << 20, RSSBytes: 55 << 20,
		CPUPerContainerMicros: 46, Processors: []string{"memory_limiter", "memdivergence", "batch"}}
	r := report{bench: bf, collector: collectorresult.Report{Runs: []collectorresult.Run{
		deployed,
		sideBySideRun(100, 0.1, 0.3, 40<<20), // the size of benchOutput's floor
		sideBySideRun(200, 0.4, 1.0, 48<<20),
		withPeerProfile(sideBySideRun(1000, 1.5, 4.5, 61<<20)),
		deployedRun(sideBySideRun(1000, 0.5, 4.5, 45<<20)),
		profiled,
	}}}
	got, err := r.render()
	require.NoError(t, err)
	for _, want := range []string{
		"### Side by side with cAdvisor",
		"cAdvisor as the kubelet embeds it (github.com/google/cadvisor/lib v0.60.6:",
		"its OTLP/gRPC exporter, compressed with zstd as configured, sending to the harness",
		"What our exporter sent per scrape, as the harness's endpoint received it: receiver defaults at 100 containers (zstd), 1.00 MiB on the wire from 5.00 MiB of protobuf (5.0×);",
		// 1.0 s over 60 s is 167 ms per 10 s, over 200 containers 833 µs each.
		"| 200 | cAdvisor v0.60.6 | 1.00 s | 833 | 3.0 housekeepings | 18.0 MiB | 19.0 MiB |",
		"| 200 | ours, receiver defaults: memory_limiter, memdivergence, batch | 0.40 s | 333 | 6 scrapes | 46.0 MiB | 48.0 MiB |",
		"| 1,000 | cAdvisor v0.60.6 | 4.50 s | 750 | 3.0 housekeepings |",
		"Target: cAdvisor's CPU ÷ ours, the receiver's defaults, at least 25× (12× the least that counts): 3.00× at 100 containers, 2.50× at 200 containers, 3.00× at 1,000 containers (2.40× without cAdvisor's discovery), **missed**. With the deployed receiver config (socket receive-queue and slab dentry metrics off, as the DaemonSet runs without its all-features overlay): 9.00× at 1,000 containers.",
		"| 1,000 | ours, deployed receiver config: memory_limiter, memdivergence, batch | 0.50 s |",
		"cAdvisor's CPU by part, from perf samples of it at 199 Hz over the same windows: at 1,000 containers (1,000 samples): cAdvisor's housekeeping 60 %, cAdvisor's discovery: inotify 20 %, Go runtime alone 20 %.",
		// 0.3 s over 60 s at 100 containers: 500 µs per container per 10 s, 20 µs a 25th; the floor is 8 µs.
		"At 100 containers, 25× less than cAdvisor leaves ours 20.0 µs per container per 10 s, one scrape; this run's kept-open floor alone, the 4 files of the container's and half its pod's cgroup read with no parsing and no metric built, is 8.0 µs per container and scrape (the budget is 2.50× the floor).",
		// A 12th of the same 500 µs is 41.7; the floors under it: 8.0 + 5.0 (least pdata) + 4.0 (lookups) + 3.0 (export).
		"At 12×, the least that counts, cAdvisor leaves ours 41.7 µs; the floors under the receiver's defaults in this run's benchmarks add up to 20.0 µs by themselves (the kept-open floor 8.0, the least pdata of the default config's output 5.0, the socket lookups alone 4.0, the least export of the output 3.0), with no parsing, no processor and nothing of the collector around them: at most 25.0× against this cAdvisor run for any collector that reads these files, looks these sockets up and exports these metrics over OTLP on this machine.",
		"peak 61.0 MiB (VmRSS 59.0 MiB) at 1,000 containers, **missed**; cAdvisor's peak 19.0 MiB",
		"at 200 containers, 200 containers and 100 pods, 600 of cAdvisor's samples equal to ours (1 taken while",
		"Where our CPU time goes, at 1,000 containers: 2,000 perf samples",
		"that run measured ours 2.00 s and cAdvisor 5.00 s, 2.5×",
		// 2.0 s over 60 s, per 10 s and 1,000 containers: 333 µs, three quarters of it sockets'.
		"| sockets | 75.0 % | 250 |",
		"| pdata | 25.0 % | 83 |",
		"cAdvisor itself is measured by `make bench` in the side-by-side section above",
	} {
		require.Contains(t, got, want)
	}
	// The side-by-side runs stay out of the whole collector's table and its RSS verdict.
	collectorTable := got[strings.Index(got, "### The whole collector process"):strings.Index(got, "### Side by side with cAdvisor")]
	require.Equal(t, 1, strings.Count(collectorTable, "| 1,000 |"))
	require.Contains(t, collectorTable, "peak 59.0 MiB (VmRSS 55.0 MiB) at 1,000 containers, **met**")
	require.NotContains(t, got, "| 1,000 | cAdvisor v0.60.6 | 5.00 s", "the profiled run is not a row")
}

func deployedRun(r collectorresult.Run) collectorresult.Run {
	r.ReceiverDefaults = false
	return r
}

func withPeerProfile(r collectorresult.Run) collectorresult.Run {
	r.CAdvisor.Profile = &collectorresult.Profile{Samples: 1000, Parts: []collectorresult.ProfilePart{
		{Name: "cAdvisor's housekeeping", Samples: 600, Share: 0.6},
		{Name: "cAdvisor's discovery: inotify", Samples: 200, Share: 0.2},
		{Name: "Go runtime alone", Samples: 200, Share: 0.2},
	}}
	return r
}

func TestCompressionOf(t *testing.T) {
	run := func(c string) collectorresult.Run { return collectorresult.Run{Compression: c} }
	for _, tt := range []struct {
		runs []collectorresult.Run
		want string
	}{
		{[]collectorresult.Run{run("zstd"), run("zstd")}, "compressed with zstd as configured"},
		{[]collectorresult.Run{run("gzip"), run("zstd")}, "compressed with gzip, zstd as configured"},
		{[]collectorresult.Run{run("none")}, "uncompressed as configured"},
		{[]collectorresult.Run{run("")}, "its compression not recorded"},
	} {
		require.Equal(t, tt.want, compressionOf(tt.runs))
	}
}

func TestCAdvisorVerdicts(t *testing.T) {
	for _, tt := range []struct {
		ours, theirs float64
		want         string
	}{
		{ours: 1, theirs: 30, want: "**met**"},
		{ours: 1, theirs: 12, want: "**the least that counts (12×) met, the goal missed**"},
		{ours: 1, theirs: 11.9, want: "**missed**"},
	} {
		r := report{bench: benchFile{samples: map[string][]map[string]float64{}}, collector: collectorresult.Report{Runs: []collectorresult.Run{
			sideBySideRun(200, tt.ours, tt.theirs, 40<<20), sideBySideRun(1000, tt.ours, 30, 40<<20),
		}}}
		var b strings.Builder
		r.renderCAdvisor(func(format string, args ...any) { fmt.Fprintf(&b, format, args...) })
		require.Contains(t, b.String(), tt.want)
	}
}

func TestRenderCAdvisorNone(t *testing.T) {
	var b strings.Builder
	report{}.renderCAdvisor(func(format string, args ...any) { fmt.Fprintf(&b, format, args...) })
	require.Contains(t, b.String(), "Not measured in this run.")
}

func TestPerCycle(t *testing.T) {
	require.InDelta(t, 1350.0, perCycle(1.62, 60, 200), 1e-9, "the issue's cAdvisor: 1.62 s over 60 s at 200 containers")
	require.Zero(t, perCycle(1, 0, 200))
	require.Zero(t, perCycle(1, 60, 0))
}

func TestPressureVerdicts(t *testing.T) {
	with := "BenchmarkScrape/containers=%d/live-cgroups/metrics=container+pod"
	without := with + "_without_pressure"
	sample := func(v float64) []map[string]float64 { return []map[string]float64{{"cpu-ns/container": v}} }
	r := report{bench: benchFile{samples: map[string][]map[string]float64{
		fmt.Sprintf(with, 100): sample(30000), fmt.Sprintf(without, 100): sample(20000),
		fmt.Sprintf(with, 1000): sample(36000), fmt.Sprintf(without, 1000): sample(30000),
	}}}
	require.Equal(t, []string{"+50 % at 100 containers", "+20 % at 1,000 containers, **met**"}, r.pressureVerdicts([]int{100, 1000}))
	r.bench.samples[fmt.Sprintf(with, 1000)] = sample(39000)
	require.Equal(t, "+30 % at 1,000 containers, **missed**", r.pressureVerdicts([]int{1000})[0])
	r.bench.samples[fmt.Sprintf(with+"_pressure_changing", 1000)] = sample(42000)
	require.Equal(t, "+30 % at 1,000 containers, **missed** (+40 % where every pod stalls)", r.pressureVerdicts([]int{1000})[0])
}
