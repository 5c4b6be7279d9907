package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/cgroupmem/cgroupmem/bench/internal/collectorresult"
)

// Targets of issue 7.
const (
	targetFloorRatio = 1.5      // receiver's container and pod scrape ÷ kept-open floor, CPU
	targetRSSBytes   = 60 << 20 // whole collector at 1,000 containers
	targetRSSAt      = 1000
)

// report is everything the section is made of.
type report struct {
	bench     benchFile
	collector collectorresult.Report
	machine   machine
	benchstat string   // benchstat's summary of the same runs
	command   string   // what the reader runs: make bench
	ran       []string // the commands it ran
	date      time.Time
	took      time.Duration
}

// benchRow is one measurement of the receiver table: a benchmark name pattern with %d for
// the container count.
type benchRow struct {
	name, what string
}

var benchRows = []benchRow{
	{"BenchmarkScrape/containers=%d/live-cgroups/metrics=container+pod", "receiver scrape, container + pod metrics (node and socket metrics off; nothing stalls here, so each container's memory.pressure is kept while its pod's PSI total stays the same)"},
	{"BenchmarkScrape/containers=%d/live-cgroups/metrics=default", "receiver scrape, default config (node dentry and socket receive-queue metrics on; each network namespace's known sockets looked up at every scrape; no socket created or closed here, so each namespace's read put off when its 10-minute period ends)"},
	{"BenchmarkRead/containers=%d/live-cgroups", "receiver's cgroup reader alone: the container + pod scrape's reads and parsing, no metrics built"},
	{"BenchmarkBuild/containers=%d/live-cgroups", "receiver's metric building alone: the same metrics into pdata from readings taken before the loop, no file read"},
	{"BenchmarkLeastPdata/containers=%d/live-cgroups", "least pdata: the scrape's own output built again with pmetric calls alone, from a copy of it"},
	{"BenchmarkBareFileReads/containers=%d/live-cgroups", "floor: open + read + close of the 4 files"},
	{"BenchmarkBarePreads/containers=%d/live-cgroups", "floor: the 4 files kept open, pread at offset 0"},
	{"BenchmarkScrape/containers=%d/live-cgroups/metrics=default_fd_walk", "receiver scrape, default config but sockets attributed by walking /proc/<pid>/fd (sockets.attribution: fd_walk)"},
	{"BenchmarkScrape/containers=%d/live-cgroups/metrics=default_sockopt", "receiver scrape, default config but each socket read through its holder, no namespace read (sockets.attribution: sockopt)"},
	{"BenchmarkScrape/containers=%d/live-cgroups/metrics=container+pod_without_pressure", "receiver scrape, container + pod metrics without the pressure signals (PSI, memory events, refaults, available, pod OOM kills off): the scrape before them"},
	{"BenchmarkScrape/containers=%d/live-cgroups/metrics=default_refresh_every_scrape", "receiver scrape, default config but every network namespace dumped every scrape (sockets.refresh_interval: 0s; the default dumps each once in 10 minutes and looks its known sockets up in between)"},
	{"BenchmarkScrape/containers=%d/live-cgroups/metrics=default_refresh_1m", "receiver scrape, default config but sockets.refresh_interval: 1m (the former default): each network namespace's read due once a minute, put off as in the default row (no socket created or closed here), its known sockets looked up in between"},
	{"BenchmarkScrape/containers=%d/live-cgroups/metrics=default_sockets_changing", "receiver scrape, default config as where every namespace's sockets come and go: no read put off, each namespace dumped once in 10 minutes, its known sockets looked up in between"},
	{"BenchmarkScrape/containers=%d/live-cgroups/metrics=container+pod_pressure_changing", "receiver scrape, container + pod metrics as where every pod stalls on memory all the time: every container's memory.pressure read on every scrape"},
	{"BenchmarkScrape/containers=%d/live-cgroups/floor=socket_lookups", "floor: the default config's socket lookups alone (the same sockets, exact sock_diag requests in one send per namespace, one read per reply, nothing else decoded)"},
	{"BenchmarkScrape/containers=%d/live-cgroups/floor=least_pdata_default", "least pdata of the default config's output, as the least pdata row is of the container + pod scrape's"},
	{"BenchmarkScrape/containers=%d/live-cgroups/floor=least_export_default", "least export of the default config's output: each batch marshalled into an OTLP export request and compressed with snappy's framed writer, as the OTLP/gRPC exporter with the DaemonSet's compression does (no connection, no HTTP/2, no queue)"},
}

const (
	scrapeRow   = 0
	readRow     = 2
	buildRow    = 3
	leastRow    = 4
	keptOpenRow = 6
	defaultRow  = 1
	noPressRow  = 9
	changingRow = 12
	stallingRow = 13
	lookupsRow  = 14
	leastDefRow = 15
	exportRow   = 16
)

// targetPressureGrowth is issue 14's bound on what the pressure signals add to the container
// and pod scrape, in CPU per container.
const targetPressureGrowth = 0.25

// targetSocketRatio is issue 18's bound on the default config (socket receive-queue metrics
// on) against the container and pod scrape, in CPU per container.
const targetSocketRatio = 2.0

// render writes the README section, without the markers.
func (r report) render() (string, error) {
	sizes := r.bench.liveSizes()
	if len(sizes) == 0 {
		return "", fmt.Errorf("no live-cgroups benchmark results: were the benchmarks run as root?")
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	runs := 0
	if s, ok := r.bench.stat(fmt.Sprintf(benchRows[keptOpenRow].name, sizes[0]), "cpu-ns/container"); ok {
		runs = s.n
	}

	p("## Performance\n\n")
	p("Generated by `%s` on %s in %s; the next run rewrites everything between the `perf` markers.\n\n",
		r.command, r.date.UTC().Format("2006-01-02 15:04 MST"), r.took.Round(time.Second))
	p("Machine: %s, %d cores; kernel %s; %s; %s; commit %s.\n\n",
		r.machine.cpu, r.machine.cores, r.machine.kernel, r.machine.cgroupMode, r.machine.goVersion, r.machine.commit)

	p("### The receiver against the kernel's floor\n\n")
	p("Per container and scrape; median of %d runs, [min–max] in brackets. N containers are N/2 burstable pods of two containers with one sleeping process each: a scrape reads N container and N/2 pod cgroups. In the receiver-scrape rows each pod has a network namespace of its own (as a pod sandbox does) and each container five sockets (a TCP listener, both ends of a connection, a UDP receiver and sender), half of the containers with 100 unread TCP bytes and 4 unread datagrams.\n\n", runs)
	p("| containers | measurement | CPU µs | wall µs | allocs | bytes allocated | CPU ÷ kept-open floor |\n")
	p("|---:|---|---:|---:|---:|---:|---:|\n")
	var verdicts []string
	met := true
	for _, n := range sizes {
		floor, ok := r.bench.stat(fmt.Sprintf(benchRows[keptOpenRow].name, n), "cpu-ns/container")
		for i, row := range benchRows {
			name := fmt.Sprintf(row.name, n)
			cpu, ok1 := r.bench.stat(name, "cpu-ns/container")
			if !ok1 {
				continue
			}
			wall, _ := r.bench.stat(name, "ns/container")
			allocs, _ := r.bench.stat(name, "allocs/container")
			bytes, _ := r.bench.stat(name, "B/container")
			ratio := "–"
			if ok {
				ratio = ratioText(cpu.median / floor.median)
			}
			p("| %s | %s | %s | %.1f | %.1f | %s | %s |\n", thousands(n), row.what,
				micros(cpu), wall.median/1000, allocs.median, thousands(int(bytes.median+0.5)), ratio)
			if i == scrapeRow && ok {
				x := cpu.median / floor.median
				met = met && x <= targetFloorRatio
				verdicts = append(verdicts, fmt.Sprintf("%s at %s containers", ratioText(x), thousands(n)))
			}
		}
	}
	p("\nTarget: the receiver's container and pod scrape within %.1f× of the kept-open floor in CPU time: %s, **%s**.\n\n",
		targetFloorRatio, strings.Join(verdicts, ", "), metOrMissed(met && len(verdicts) > 0))
	if v := r.socketVerdicts(sizes); len(v) > 0 {
		p("Target: the default config (socket receive queues on, each pod in a network namespace of its own) within %.0f× of the container and pod scrape in CPU per container: %s.\n\n",
			targetSocketRatio, strings.Join(v, ", "))
	}
	if v := r.pressureVerdicts(sizes); len(v) > 0 {
		p("Target: the pressure signals at their defaults add at most %.0f %% CPU per container to the container and pod scrape: %s.\n\n",
			targetPressureGrowth*100, strings.Join(v, ", "))
	}
	if parts := r.shares(sizes); len(parts) > 0 {
		p("Where the scrape's time goes, in medians of the rows above. %s\n\n", strings.Join(parts, " "))
	}

	r.renderCollector(p)
	r.renderCAdvisor(p)
	r.renderReference(p, sizes)
	r.renderMethod(p)

	p("<details><summary>benchstat of the same runs (CPU time and allocations per container)</summary>\n\n```\n%s\n```\n</details>\n\n",
		strings.TrimSpace(r.benchstat))
	p("`%s` ran:\n\n```\n%s\n```\n", r.command, strings.Join(r.ran, "\n"))
	return b.String(), nil
}

// socketVerdicts says, per size, the default config's CPU per container as a multiple of the
// container and pod scrape's, against targetSocketRatio.
func (r report) socketVerdicts(sizes []int) []string {
	var out []string
	for _, n := range sizes {
		plain, ok1 := r.bench.stat(fmt.Sprintf(benchRows[scrapeRow].name, n), "cpu-ns/container")
		def, ok2 := r.bench.stat(fmt.Sprintf(benchRows[defaultRow].name, n), "cpu-ns/container")
		if !ok1 || !ok2 || plain.median <= 0 {
			continue
		}
		x := def.median / plain.median
		v := fmt.Sprintf("%.1f× at %s containers, **%s**", x, thousands(n), metOrMissed(x <= targetSocketRatio))
		if ch, ok := r.bench.stat(fmt.Sprintf(benchRows[changingRow].name, n), "cpu-ns/container"); ok {
			v += fmt.Sprintf(" (%.1f× where every namespace's sockets come and go)", ch.median/plain.median)
		}
		out = append(out, v)
	}
	return out
}

// pressureVerdicts compares the container and pod scrape with and without the pressure
// signals; the bound is checked at 1,000 containers, the other sizes are shown.
func (r report) pressureVerdicts(sizes []int) []string {
	var out []string
	for _, n := range sizes {
		with, ok1 := r.bench.stat(fmt.Sprintf(benchRows[scrapeRow].name, n), "cpu-ns/container")
		without, ok2 := r.bench.stat(fmt.Sprintf(benchRows[noPressRow].name, n), "cpu-ns/container")
		if !ok1 || !ok2 || without.median <= 0 {
			continue
		}
		g := with.median/without.median - 1
		v := fmt.Sprintf("%+.0f %% at %s containers", g*100, thousands(n))
		if n >= 1000 {
			v += fmt.Sprintf(", **%s**", metOrMissed(g <= targetPressureGrowth))
		}
		if st, ok := r.bench.stat(fmt.Sprintf(benchRows[stallingRow].name, n), "cpu-ns/container"); ok {
			v += fmt.Sprintf(" (%+.0f %% where every pod stalls)", (st.median/without.median-1)*100)
		}
		out = append(out, v)
	}
	return out
}

// shares splits each size's scrape into the reader's and the metric building's shares, as
// multiples of the kept-open floor, and what the two alone do not account for.
func (r report) shares(sizes []int) []string {
	var parts []string
	for _, n := range sizes {
		v := make([]float64, len(benchRows))
		complete := true
		for _, i := range []int{scrapeRow, readRow, buildRow, keptOpenRow} {
			s, ok := r.bench.stat(fmt.Sprintf(benchRows[i].name, n), "cpu-ns/container")
			complete = complete && ok && s.median > 0
			v[i] = s.median
		}
		if !complete {
			continue
		}
		floor := v[keptOpenRow]
		rest := v[scrapeRow] - v[readRow] - v[buildRow]
		part := fmt.Sprintf("At %s containers, the reader alone is %.2f× the floor and the metric building alone %.2f×, %.2f× together; ",
			thousands(n), v[readRow]/floor, v[buildRow]/floor, (v[readRow]+v[buildRow])/floor)
		if rest > 0 {
			part += fmt.Sprintf("the scrape's other %.1f µs (%.2f×) are what the two cost more when they alternate in one scrape (each batch of 100 resources read, then built) than each in a loop of its own.",
				rest/1000, rest/floor)
		} else {
			part += fmt.Sprintf("the scrape, which alternates them (each batch of 100 resources read, then built), cost %.1f µs (%.2f×) less than the two in loops of their own: nothing measurable for alternating in this run.",
				-rest/1000, -rest/floor)
		}
		if least, ok := r.bench.stat(fmt.Sprintf(benchRows[leastRow].name, n), "cpu-ns/container"); ok && least.median > 0 {
			part += fmt.Sprintf(" The least pdata of the same output is %.2f× the floor on its own: reading the floor's files and building that pdata, with no parsing and nothing else, would already be %.2f×.",
				least.median/floor, 1+least.median/floor)
		}
		parts = append(parts, part)
	}
	return parts
}

func (r report) renderCollector(p func(string, ...any)) {
	p("### The whole collector process\n\n")
	var runs []collectorresult.Run
	for _, c := range r.collector.Runs {
		if c.CAdvisor == nil { // the side-by-side runs have their own section
			runs = append(runs, c)
		}
	}
	if len(runs) == 0 {
		p("Not measured in this run.\n\n")
		return
	}
	c0 := runs[0]
	p("`_build/otelcol-cgroupmem` with the DaemonSet's config, collection_interval %s, after %d warm-up scrapes; CPU over the next %d scrapes, RSS at their end.\n\n",
		c0.Interval, c0.Warmup, c0.Scrapes)
	p("| containers | processors | resources / data points per scrape | VmRSS | peak RSS (VmHWM) | CPU per scrape | CPU µs per container and scrape | %% of one core |\n")
	p("|---:|---|---:|---:|---:|---:|---:|---:|\n")
	verdict := fmt.Sprintf("not measured at %s containers", thousands(targetRSSAt))
	var others []string
	for _, c := range runs {
		perContainer := "–"
		if c.Containers > 0 {
			perContainer = fmt.Sprintf("%.1f", c.CPUPerContainerMicros)
		}
		procs := "as deployed: " + strings.Join(c.Processors, ", ")
		if len(c.Without) > 0 {
			procs = strings.Join(c.Processors, ", ") + " (without " + strings.Join(c.Without, ", ") + ")"
		}
		p("| %s | %s | %s / %s | %.1f MiB | %.1f MiB | %.1f ms | %s | %.2f %% |\n",
			thousands(c.Containers), procs, thousands(int(c.ResourcesPerScrape+0.5)), thousands(int(c.DataPointsPerScrape+0.5)),
			mib(c.RSSBytes), mib(c.HWMBytes), c.CPUPerScrapeMillis, perContainer, c.CPUPercentOfOneCore)
		switch {
		case c.Containers != targetRSSAt:
		case len(c.Without) == 0:
			verdict = fmt.Sprintf("peak %.1f MiB (VmRSS %.1f MiB) at %s containers, **%s**",
				mib(c.HWMBytes), mib(c.RSSBytes), thousands(c.Containers), metOrMissed(c.HWMBytes <= targetRSSBytes))
		default:
			within := "over"
			if c.HWMBytes <= targetRSSBytes {
				within = "within"
			}
			others = append(others, fmt.Sprintf("without %s: peak %.1f MiB (VmRSS %.1f MiB), %s the target",
				strings.Join(c.Without, ", "), mib(c.HWMBytes), mib(c.RSSBytes), within))
		}
	}
	p("\nTarget: the whole collector as deployed within %d MiB of RSS, peak included: %s", targetRSSBytes>>20, verdict)
	if len(others) > 0 {
		p("; %s", strings.Join(others, "; "))
	}
	p(".\n")
	for _, c := range runs {
		if len(c.Problems) > 0 {
			p("\nThe collector logged at %s containers: %s.\n", thousands(c.Containers), strings.Join(c.Problems, "; "))
		}
	}
	p("\n")
}

func (r report) renderReference(p func(string, ...any), sizes []int) {
	p("### For reference: the issue's measurements, not ours\n\n")
	p("Issue 7 measured these on the same machine kind (kernel 6.18, cgroup v1) with 200 idle containers in a `kubepods/burstable/pod<uid>/<id>` tree, one sleeping process each. They are quoted, not reproduced by `make bench`:\n\n")
	p("| measurement (issue 7) | per container and scrape | process |\n")
	p("|---|---:|---|\n")
	p("| open + read + close of the 4 files | 75–83 µs | |\n")
	p("| the 4 files kept open, pread at offset 0 | 18.5 µs | |\n")
	p("| cAdvisor watching the same 200 containers | about 1,900 µs CPU per 10 s cycle | 3.9 %% of one core, 44 MB RSS |\n\n")
	if runs, _ := r.sideBySide(); len(runs) > 0 {
		p("cAdvisor itself is measured by `make bench` in the side-by-side section above, beside our collector in the same run.\n\n")
	}
	var floors []string
	for _, n := range sizes {
		if s, ok := r.bench.stat(fmt.Sprintf(benchRows[keptOpenRow].name, n), "cpu-ns/container"); ok {
			floors = append(floors, fmt.Sprintf("%.1f µs at %s containers", s.median/1000/cgroupsPerContainer, thousands(n)))
		}
	}
	if len(floors) > 0 {
		p("The issue's 18.5 µs is for one cgroup per container. This run's kept-open floor is, per cgroup read: %s. The floor is measured again in every run and moves between runs of this machine; each ratio above is to the floor of its own run.\n\n",
			strings.Join(floors, ", "))
	}
}

// cgroupsPerContainer is how many cgroups a scrape reads per container in the benchmarks'
// trees: the container's own, and half of its two-container pod's.
const cgroupsPerContainer = 1.5

func (r report) renderMethod(p func(string, ...any)) {
	p("### Method\n\n")
	p("The trees are real cgroups in the host's cgroup v1 memory controller, laid out as the kubelet's cgroupfs driver does (`kubepods/burstable/pod<uid>/<id>`), each container holding one `sleep` that joined it before exec; internal/testcgroup builds them for the benchmarks, bench/collectorrss for the collector, and both remove them afterwards. ")
	p("The benchmarks are `BenchmarkScrape`, `BenchmarkRead`, `BenchmarkBuild`, `BenchmarkLeastPdata`, `BenchmarkBareFileReads` and `BenchmarkBarePreads` in receiver/cgroupmemreceiver/benchmark_test.go, each building its own tree. ")
	p("CPU time is the benchmark process's user plus system time from getrusage(RUSAGE_SELF) over the timed loop, every thread and the garbage collector included, divided by iterations × containers: on a small shared machine it holds steadier than the wall clock, which is shown beside it. Allocations come from runtime.MemStats over the same loop. ")
	p("The floors read exactly the 4 files of the issue (memory.stat, memory.usage_in_bytes, memory.limit_in_bytes, memory.kmem.usage_in_bytes) of every pod and container cgroup the receiver reads for its container and pod metrics, into one reused buffer, without parsing: once opening, reading and closing each file, once re-reading descriptors opened beforehand with pread(fd, buf, 0). ")
	p("The receiver rows run the scraper as the receiver does, with discovery cached (inotify) and the files kept open, building the pmetric.Metrics in batches of 100 resources (what the receiver hands down the pipeline at a time) and dropping them; the reader row runs the same discovery and cgroup reads and parsing over the same cgroups without building metrics, and the building row builds the same metrics and resources from readings taken once before its loop, to show which share of the scrape is the kernel files and which is pdata. The least-pdata row is a floor for the building row: it takes the batches of one real container and pod scrape and, in its loop, builds each again with nothing but pmetric calls (each resource copied from a finished one, as the receiver's resource cache does; every metric, data point, attribute and value set from a flat copy of what the scrape produced), checked equal to the scrape's own output before the loop; it converts no reading and goes through no metrics builder, so the difference between the two rows is what the generated MetricsBuilder and the receiver's conversions add. Besides the floor's 4 files, the receiver reads /proc/vmstat once per scrape, and of each container cgroup memory.oom_control (for container.memory.oom_kills) on its first read and after the node's oom_kill count in /proc/vmstat moved (it does not during the benchmarks), and memory.kmem.tcp.max_usage_in_bytes (whether tcp accounting ever ran, for container.memory.sock) on its first read and after each discovery walk; those reads are part of its cost. ")
	p("The default config adds the node-wide dentry metrics (/proc, once per scrape) and the socket receive-queue metrics (cgroup.procs and the network namespace link per process, and one sock_diag dump of TCP and two of UDP per pod namespace; the sockets are attributed by their cgroup id, the tree being mirrored into the unified hierarchy as runc does; the fd_walk row walks /proc/<pid>/fd instead). Each dump walks the protocol's hash table, which pod namespaces share with the host unless the node sets net.ipv4.tcp_child_ehash_entries / udp_child_hash_entries (internal/sockets' BenchmarkDumpNamespace). The socket lookups' floor looks up the same sockets as the default row between dumps (each container's two connection ends and two UDP sockets; listeners are not looked up), with the same exact SOCK_DIAG_BY_FAMILY requests for INET_DIAG_SKMEMINFO, all of a namespace's in one send, on a blocking sock_diag socket opened once in each pod's namespace, and reads one reply per read, each checked to be the socket asked for; nothing of the receiver runs around them. The default config's least pdata is the least-pdata row's method applied to the default config's output (its node resource and socket metrics included); its least export takes that output's batches from one real scrape and, in its loop, marshals each into an OTLP export request (pmetricotlp, as gRPC's codec does) and compresses it with snappy's framed writer (github.com/golang/snappy, as the DaemonSet's snappy compression does), checked before the loop to decompress and unmarshal back to the batch. ")
	p("Ratios are of medians of the same run. ")
	p("The collector is `make build`'s binary run with the DaemonSet's pipeline from deploy/configmap.yaml (memory_limiter, memdivergence; socket receive-queue metrics off), the debug exporter at basic verbosity in place of OTLP, and no kubelet metadata; the memdivergence processor's trend.sample_interval is set to the collection interval, so that its growth metrics are emitted from the 10th scrape on and its windows fill within the run, as on a node that has run for an hour (with the default of one sample a minute, a run of a few dozen scrapes would never reach that steady state); scrapes are counted from the debug exporter's log lines, CPU time is utime + stime of /proc/<pid>/stat over whole scrape intervals, and RSS is VmRSS and VmHWM of /proc/<pid>/status. A run marked \"without\" leaves that deployed processor out of the pipeline, to show its share; the target is judged on the pipeline as deployed.\n\n")
}

// ratioText writes a multiple of the floor with two decimals, or with as many more as it
// takes not to round a ratio over the target down to the target itself.
func ratioText(x float64) string {
	for prec := 2; ; prec++ {
		t := fmt.Sprintf("%.*f×", prec, x)
		if x <= targetFloorRatio || t != fmt.Sprintf("%.*f×", prec, targetFloorRatio) || prec == 6 {
			return t
		}
	}
}

func micros(s stat) string {
	return fmt.Sprintf("%.1f [%.1f–%.1f]", s.median/1000, s.min/1000, s.max/1000)
}

func metOrMissed(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// thousands writes n with commas: 1,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
