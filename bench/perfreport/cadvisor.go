package main

import (
	"fmt"
	"strings"

	"github.com/cgroupmem/cgroupmem/bench/internal/collectorresult"
)

// Targets of issue 18 for the side-by-side run.
const (
	targetCAdvisorRatio = 25.0 // cAdvisor's CPU ÷ ours, at each size
	leastCAdvisorRatio  = 12.0 // the least that counts
)

// cycle is what CPU time is normalised to: the kubelet's housekeeping interval and ours.
const cycleSeconds = 10.0

// sideBySide are the runs measured beside cAdvisor, without the profiled one.
func (r report) sideBySide() (runs []collectorresult.Run, profiled *collectorresult.Run) {
	for i, c := range r.collector.Runs {
		switch {
		case c.CAdvisor == nil:
		case c.Profile != nil:
			profiled = &r.collector.Runs[i]
		default:
			runs = append(runs, c)
		}
	}
	return runs, profiled
}

// perCycle is CPU seconds over a window as µs per container per 10 s.
func perCycle(cpuSeconds, windowSeconds float64, containers int) float64 {
	if windowSeconds <= 0 || containers <= 0 {
		return 0
	}
	return 1e6 * cpuSeconds / windowSeconds * cycleSeconds / float64(containers)
}

func (r report) renderCAdvisor(p func(string, ...any)) {
	runs, profiled := r.sideBySide()
	p("### Side by side with cAdvisor\n\n")
	if len(runs) == 0 {
		p("Not measured in this run.\n\n")
		return
	}
	c0 := runs[0]
	p("cAdvisor as the kubelet embeds it (%s: the manager with the raw cgroup factory only, memory metrics only, %s, the kubelet's 2-minute stats cache) and our collector as a node runs it (`%s` with the receiver's default metrics, socket receive-queue and node dentry metrics included, or, in the rows so marked, the DaemonSet's receiver config, the DaemonSet's processors and its OTLP/gRPC exporter, %s, sending to the harness on loopback; collection_interval %s), on the same tree at the same time: N containers in N/2 burstable pods, each pod in a network namespace of its own as a pod sandbox is, each container one sleeping process holding 5 sockets (a TCP listener, both ends of a connection, a UDP receiver and sender), half of the containers with unread data in two of them (the run checks that our collector reports exactly that), the tree mirrored in this hybrid host's cgroup2 mount with each process in both, as runc lays a container out here. cAdvisor runs in the tree's root cgroup, in a cgroup namespace of its own with the memory hierarchy mounted again from there: it sees the tree as the whole hierarchy (`/kubepods/burstable/pod<uid>/<id>`, as on a node) and watches nothing else, as our receiver, whose root_path is the tree, watches nothing else; on this shared machine the host's hierarchy holds other users' test cgroups coming and going, which its inotify watcher would otherwise handle. CPU is each process's utime + stime over the same window of %d of our scrapes after %d warm-up scrapes (cAdvisor started first and knew every cgroup before our collector started); memory at the window's end. The harness's own work (the OTLP endpoint, the comparison) is in neither.\n\n",
		c0.CAdvisor.Library, c0.CAdvisor.Housekeeping, orDefault(c0.Collector, "_build/otelcol-cgroupmem"), compressionOf(runs), c0.Interval, c0.Scrapes, c0.Warmup)
	p("| containers | process | CPU in the window | CPU µs per container per 10 s | readings per container in the window | VmRSS | peak RSS (VmHWM) |\n")
	p("|---:|---|---:|---:|---:|---:|---:|\n")
	var ratios, deployed []string
	met, least, judged := true, true, 0
	rssVerdict := fmt.Sprintf("not measured at %s containers", thousands(targetRSSAt))
	for _, c := range runs {
		a := c.CAdvisor
		p("| %s | cAdvisor %s | %.2f s | %.0f | %.1f housekeepings | %.1f MiB | %.1f MiB |\n",
			thousands(c.Containers), strings.TrimPrefix(a.Library, "github.com/google/cadvisor/lib "), a.CPUSeconds,
			perCycle(a.CPUSeconds, c.WindowSeconds, c.Containers), a.HousekeepingsPerContainer, mib(a.RSSBytes), mib(a.HWMBytes))
		p("| %s | ours, %s: %s | %.2f s | %.0f | %d scrapes | %.1f MiB | %.1f MiB |\n",
			thousands(c.Containers), receiverLabel(c), strings.Join(c.Processors, ", "), c.CPUSeconds,
			perCycle(c.CPUSeconds, c.WindowSeconds, c.Containers), c.Scrapes, mib(c.RSSBytes), mib(c.HWMBytes))
		x := 0.0
		if c.CPUSeconds > 0 {
			x = a.CPUSeconds / c.CPUSeconds
		}
		if !c.ReceiverDefaults {
			deployed = append(deployed, fmt.Sprintf("%.2f× at %s containers", x, thousands(c.Containers)))
			continue
		}
		judged++
		met = met && x >= targetCAdvisorRatio
		least = least && x >= leastCAdvisorRatio
		ratio := fmt.Sprintf("%.2f× at %s containers", x, thousands(c.Containers))
		if d, ok := discoveryShare(a); ok && c.CPUSeconds > 0 {
			ratio += fmt.Sprintf(" (%.2f× without cAdvisor's discovery)", a.CPUSeconds*(1-d)/c.CPUSeconds)
		}
		ratios = append(ratios, ratio)
		if c.Containers == targetRSSAt && c.ReceiverDefaults {
			rssVerdict = fmt.Sprintf("peak %.1f MiB (VmRSS %.1f MiB) at %s containers, **%s**; cAdvisor's peak %.1f MiB",
				mib(c.HWMBytes), mib(c.RSSBytes), thousands(c.Containers), metOrMissed(c.HWMBytes <= targetRSSBytes), mib(a.HWMBytes))
		}
	}
	verdict := "missed"
	switch {
	case met:
		verdict = "met"
	case least:
		verdict = fmt.Sprintf("the least that counts (%.0f×) met, the goal missed", leastCAdvisorRatio)
	}
	if judged == 0 {
		verdict = "not measured with the receiver's defaults"
	}
	p("\nTarget: cAdvisor's CPU ÷ ours, the receiver's defaults, at least %.0f× (%.0f× the least that counts): %s, **%s**.",
		targetCAdvisorRatio, leastCAdvisorRatio, strings.Join(ratios, ", "), verdict)
	if len(deployed) > 0 {
		p(" With the deployed receiver config (socket receive-queue and slab dentry metrics off, as the DaemonSet runs without its all-features overlay): %s.", strings.Join(deployed, ", "))
	}
	for _, c := range runs {
		if !c.ReceiverDefaults {
			continue
		}
		floor, ok := r.bench.stat(fmt.Sprintf(benchRows[keptOpenRow].name, c.Containers), "cpu-ns/container")
		if !ok || floor.median <= 0 {
			continue
		}
		cadvisor := perCycle(c.CAdvisor.CPUSeconds, c.WindowSeconds, c.Containers)
		budget := cadvisor / targetCAdvisorRatio
		p(" At %s containers, %.0f× less than cAdvisor leaves ours %.1f µs per container per 10 s, one scrape; this run's kept-open floor alone, the 4 files of the container's and half its pod's cgroup read with no parsing and no metric built, is %.1f µs per container and scrape (the budget is %.2f× the floor).",
			thousands(c.Containers), targetCAdvisorRatio, budget, floor.median/1000, budget/(floor.median/1000))
		r.renderLeastBound(p, c.Containers, cadvisor, floor.median/1000)
	}
	p("\n\n")
	var sent []string
	for _, c := range runs {
		if c.ProtoBytesPerScrape > 0 {
			sent = append(sent, fmt.Sprintf("%s at %s containers (%s), %.2f MiB on the wire from %.2f MiB of protobuf (%.1f×)",
				receiverLabel(c), thousands(c.Containers), orDefault(c.Compression, "compression not recorded"),
				mib(uint64(c.WireBytesPerScrape)), mib(uint64(c.ProtoBytesPerScrape)), c.ProtoBytesPerScrape/max(c.WireBytesPerScrape, 1)))
		}
	}
	if len(sent) > 0 {
		p("What our exporter sent per scrape, as the harness's endpoint received it: %s.\n\n", strings.Join(sent, "; "))
	}
	p("Target: our collector within %d MiB of RSS, peak included, with the receiver's defaults: %s.\n\n", targetRSSBytes>>20, rssVerdict)
	var checks []string
	for _, c := range runs {
		a := c.CAdvisor
		check := fmt.Sprintf("at %s containers, %s containers and %s pods, %s of cAdvisor's samples equal to ours (%s taken while the cgroup's memory moved between two of our scrapes, not compared",
			thousands(c.Containers), thousands(a.ContainersCompared), thousands(a.PodsCompared), thousands(a.SamplesEqual), thousands(a.SamplesMoved))
		if a.CgroupsUnsettled > 0 {
			check += fmt.Sprintf("; %s cgroups not compared, their memory moving between every two of our scrapes around cAdvisor's samples", thousands(a.CgroupsUnsettled))
		}
		if a.SamplesTransient > 0 {
			check += fmt.Sprintf("; %s apart from ours for an instant, at the same usage, with cAdvisor's own sample beside it equal to ours", thousands(a.SamplesTransient))
		}
		checks = append(checks, check+")")
	}
	p("Working sets: cAdvisor's and ours agreed for every container and pod of the tree compared, %s. Each of cAdvisor's cached samples that falls between two of our scrapes that read the same value must equal it, and every container and pod needs one such sample (up to %.0f %% of them may have none, their memory moving throughout): a difference fails the run, unless it is one for an instant: the same usage, only the page cache's inactive share apart (a page moving between the kernel's per-CPU LRU batch and its lists), with cAdvisor's own sample beside it equal to ours; at most %.0f %% of the samples compared may be such.\n\n",
		strings.Join(checks, "; "), 100*collectorresult.MaxUnsettledShare, 100*collectorresult.MaxTransientShare)
	var splits []string
	for _, c := range runs {
		if prof := c.CAdvisor.Profile; prof != nil {
			var parts []string
			for _, part := range prof.Parts {
				parts = append(parts, fmt.Sprintf("%s %.0f %%", part.Name, 100*part.Share))
			}
			splits = append(splits, fmt.Sprintf("at %s containers (%s samples): %s", thousands(c.Containers), thousands(prof.Samples), strings.Join(parts, ", ")))
		}
	}
	if len(splits) > 0 {
		p("cAdvisor's CPU by part, from perf samples of it at 199 Hz over the same windows: %s. Its discovery is the raw watcher's inotify on the hierarchy it sees, here the tree alone; the ratios without it leave that share out (the garbage collector's share stays in them).\n\n",
			strings.Join(splits, "; "))
	}
	for _, c := range runs {
		if len(c.Problems) > 0 {
			p("The collector logged at %s containers: %s.\n\n", thousands(c.Containers), strings.Join(c.Problems, "; "))
		}
	}
	if profiled != nil {
		r.renderProfile(p, *profiled)
	}
}

func receiverLabel(c collectorresult.Run) string {
	if c.ReceiverDefaults {
		return "receiver defaults"
	}
	return "deployed receiver config"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (r report) renderProfile(p func(string, ...any), c collectorresult.Run) {
	prof := c.Profile
	p("Where our CPU time goes, at %s containers: %s perf samples of the collector over a separate window of %d scrapes (`%s`: the same build with its symbols kept; that run measured ours %.2f s and cAdvisor %.2f s, %.1f×). Each sample is charged to the innermost frame of its stack that belongs to a part below, except that the socket and node-wide metrics take every sample under them, whatever they call; system calls and allocations go to the code that made them, and the garbage collector's own work, which every part's allocations cause, stays the runtime's.\n\n",
		thousands(c.Containers), thousands(prof.Samples), c.Scrapes, prof.Collector, c.CPUSeconds, c.CAdvisor.CPUSeconds, safeRatio(c.CAdvisor.CPUSeconds, c.CPUSeconds))
	p("| part of the collector | share of its CPU samples | CPU µs per container per 10 s |\n")
	p("|---|---:|---:|\n")
	total := perCycle(c.CPUSeconds, c.WindowSeconds, c.Containers)
	for _, part := range prof.Parts {
		p("| %s | %.1f %% | %.0f |\n", part.Name, 100*part.Share, part.Share*total)
	}
	p("\n")
}

// discoveryShare is the share of the peer's samples spent in its discovery, if profiled.
func discoveryShare(a *collectorresult.Peer) (float64, bool) {
	if a.Profile == nil {
		return 0, false
	}
	for _, part := range a.Profile.Parts {
		if strings.HasPrefix(part.Name, "cAdvisor's discovery") {
			return part.Share, true
		}
	}
	return 0, true
}

func safeRatio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// compressionOf says how the runs' exporters compressed, as the harness's endpoint received
// their requests.
func compressionOf(runs []collectorresult.Run) string {
	seen := map[string]bool{}
	var names []string
	for _, c := range runs {
		n := orDefault(c.Compression, "not recorded")
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	switch {
	case len(names) == 1 && names[0] == "none":
		return "uncompressed as configured"
	case len(names) == 1 && names[0] == "not recorded":
		return "its compression not recorded"
	}
	return "compressed with " + strings.Join(names, ", ") + " as configured"
}

// renderLeastBound states what the least that counts leaves ours of cAdvisor's CPU (µs per
// container per 10 s) at a run's size against the sum of the floors under the receiver's
// defaults measured in the same benchmarks: the kept-open floor (µs), the least pdata of the
// default config's output, the socket lookups alone and the least export of that output.
// The sum leaves out parsing, the processor, the rest of the exporter and the collector, so
// no collector of these metrics costs less here.
func (r report) renderLeastBound(p func(string, ...any), containers int, cadvisor, floor float64) {
	var parts [3]float64
	for i, row := range []int{leastDefRow, lookupsRow, exportRow} {
		s, ok := r.bench.stat(fmt.Sprintf(benchRows[row].name, containers), "cpu-ns/container")
		if !ok {
			return
		}
		parts[i] = s.median / 1000
	}
	sum := floor + parts[0] + parts[1] + parts[2]
	p(" At %.0f×, the least that counts, cAdvisor leaves ours %.1f µs; the floors under the receiver's defaults in this run's benchmarks add up to %.1f µs by themselves (the kept-open floor %.1f, the least pdata of the default config's output %.1f, the socket lookups alone %.1f, the least export of the output %.1f), with no parsing, no processor and nothing of the collector around them: at most %.1f× against this cAdvisor run for any collector that reads these files, looks these sockets up and exports these metrics over OTLP on this machine.",
		leastCAdvisorRatio, cadvisor/leastCAdvisorRatio, sum, floor, parts[0], parts[1], parts[2], cadvisor/sum)
}
