// Command collectorrss measures the whole collector process on real cgroups: for each
// container count it builds a Kubernetes-shaped tree in the host's cgroup v1 memory hierarchy
// (burstable pods of two containers, one sleeping process in each container), runs the
// collector on it with the DaemonSet's config (deploy/configmap.yaml, see deployConfig for
// what changes) and collection_interval -interval, leaves -warmup scrapes out, and takes
// the collector's CPU time over the next -scrapes scrapes (utime + stime of /proc/<pid>/stat)
// and its VmRSS and VmHWM at the end; -without leaves deployed processors out. It then stops the collector, kills the sleepers and
// removes the cgroups, deepest first, also on SIGINT or SIGTERM. It writes the results as
// JSON to -out. It needs root.
//
//	collectorrss -collector _build/otelcol-cgroupmem -containers 0,1000 -out _build/bench-collector.json
//
// With -cadvisor (bench/cadvisorpeer's binary) each run is cAdvisor side by side: the peer
// starts on the tree first and says when it knows every cgroup; the collector then runs with
// the receiver's default metrics (the deployed metrics section dropped) and the deployed
// OTLP/gRPC exporter sending to an endpoint of the harness on loopback, which counts the
// scrapes and keeps every working set; both processes' CPU time is taken at the same two
// instants and their memory at the same end; and cAdvisor's cached samples are then checked
// against ours, failing the run on any difference (see compareWorkingSets).
//
//	collectorrss -cadvisor _build/cadvisorpeer -containers 200,1000 -interval 10s -warmup 10 -scrapes 6
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cgroupmem/cgroupmem/bench/internal/collectorresult"
	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

func main() {
	if mode, ok := os.LookupEnv(testcgroup.SocketsEnv); ok {
		fmt.Fprintln(os.Stderr, "collectorrss: container process:", testcgroup.HoldSockets(mode, nil)) // only on failure
		os.Exit(2)
	}
	bin := flag.String("collector", "_build/otelcol-cgroupmem", "the collector binary")
	configMap := flag.String("configmap", "deploy/configmap.yaml", "the DaemonSet's ConfigMap, whose config.yaml is run")
	sizes := flag.String("containers", "0,1000", "comma-separated container counts, one collector run each")
	without := flag.String("without", "", "comma-separated processors to leave out of the deployed pipelines")
	interval := flag.Duration("interval", time.Second, "the receiver's collection_interval")
	warmup := flag.Int("warmup", 5, "scrapes left out before the window")
	scrapes := flag.Int("scrapes", 30, "scrapes in the measured window")
	out := flag.String("out", "", "write the JSON report here (default: stdout)")
	profile := flag.String("profile", "", "perf record the collector over each window into this file (then perf script), and report where its CPU went; give a -collector built with its symbols")
	profileHz := flag.Int("profile-hz", 999, "perf record's sampling frequency")
	deployedReceiver := flag.Bool("deployed-receiver", false, "with -cadvisor, keep the deployed receiver's metrics section (socket receive-queue and slab dentry metrics off) instead of the receiver's defaults")
	profileCAdvisor := flag.String("profile-cadvisor", "", "with -cadvisor, perf record the cAdvisor peer over each window into this file, and report how its CPU splits between housekeeping and discovery")
	cadvisor := flag.String("cadvisor", "", "bench/cadvisorpeer's binary: measure cAdvisor beside the collector on the same tree, the collector with the receiver's default metrics and the deployed OTLP exporter (sent to the harness); fails when a working set differs")
	churnRate := flag.Float64("churn-rate", 0, "churn mode: pods of one container created per second beside -containers stable ones (one count), each removed -churn-life later")
	churnLife := flag.Duration("churn-life", 2*time.Second, "churn mode: how long each churned container lives")
	churnFor := flag.Duration("churn-for", 10*time.Minute, "churn mode: how long the churn lasts")
	steadyFor := flag.Duration("steady-for", 30*time.Second, "churn mode: how long the steady state is sampled first")
	sampleEvery := flag.Duration("sample-every", 5*time.Second, "churn mode: how often the collector is sampled")
	tolerance := flag.Float64("rss-tolerance", 0.2, "churn mode: the RSS growth over the steady state that fails the run")
	minRate := flag.Float64("min-rate", 0.9, "churn mode: the least share of -churn-rate the harness must reach for the run to count")
	sockets := flag.Bool("sockets", false, "churn mode: every metric the receiver enables by default (socket receive queues on), the stable pods with network namespaces and sockets")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("collectorrss: ")

	counts, err := parseCounts(*sizes)
	if err != nil {
		log.Fatal(err)
	}
	if os.Geteuid() != 0 {
		log.Fatalf("needs root to create cgroups in %s (euid %d)", hierarchy, os.Geteuid())
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	su := setup{bin: *bin, configMap: *configMap, interval: *interval, warmup: *warmup, scrapes: *scrapes, cadvisor: *cadvisor,
		profile: *profile, profileHz: *profileHz, peerProfile: *profileCAdvisor,
		deployedReceiver: *deployedReceiver}
	if *without != "" {
		su.without = strings.Split(*without, ",")
	}
	if *churnRate > 0 {
		if len(counts) != 1 {
			log.Fatal("churn mode: -containers takes one count, the stable containers")
		}
		cs := churnSetup{rate: *churnRate, life: *churnLife, steady: *steadyFor, d: *churnFor, sample: *sampleEvery, tol: *tolerance, sockets: *sockets, minRate: *minRate}
		rep, err := runChurn(ctx, su, cs, counts[0])
		if werr := write(*out, rep); werr != nil {
			log.Print(werr)
		}
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("steady RSS %.1f MiB; churn RSS %.1f MiB (%+.0f %%), max %.1f MiB; %d containers churned, %d collector problems",
			mib(rep.SteadyRSS), mib(rep.ChurnRSS), 100*rep.RSSGrowth, mib(rep.MaxRSS), rep.ChurnedTotal, rep.ProblemCount)
		if len(rep.Failures) > 0 {
			log.Fatalf("FAIL:\n  %s", strings.Join(rep.Failures, "\n  "))
		}
		log.Print("PASS")
		return
	}
	rep := collectorresult.Report{Collector: *bin}
	for _, n := range counts {
		r, err := run(ctx, su, n)
		if err != nil {
			log.Fatalf("%d containers: %v", n, err)
		}
		log.Printf("%d containers: VmRSS %.1f MiB, VmHWM %.1f MiB, CPU %.1f ms per scrape (%.1f µs per container), %.2f %% of one core",
			n, mib(r.RSSBytes), mib(r.HWMBytes), r.CPUPerScrapeMillis, r.CPUPerContainerMicros, r.CPUPercentOfOneCore)
		if p := r.CAdvisor; p != nil {
			log.Printf("%d containers: cAdvisor VmRSS %.1f MiB, VmHWM %.1f MiB, CPU %.2f s against ours %.2f s over %.0f s (%.1f× ours), %.1f housekeepings per container; working sets of %d containers and %d pods equal to ours (%d samples; %d not compared: moved; %d apart for an instant; %d cgroups moving throughout)",
				n, mib(p.RSSBytes), mib(p.HWMBytes), p.CPUSeconds, r.CPUSeconds, r.WindowSeconds, p.CPUSeconds/r.CPUSeconds,
				p.HousekeepingsPerContainer, p.ContainersCompared, p.PodsCompared, p.SamplesEqual, p.SamplesMoved, p.SamplesTransient, p.CgroupsUnsettled)
		}
		if p := r.CAdvisor; p != nil && p.Profile != nil {
			for _, part := range p.Profile.Parts {
				log.Printf("%d containers: cAdvisor's profile: %4.1f %% %s", n, 100*part.Share, part.Name)
			}
		}
		if p := r.Profile; p != nil {
			for _, part := range p.Parts {
				log.Printf("%d containers: profile: %4.1f %% %s", n, 100*part.Share, part.Name)
			}
		}
		rep.Runs = append(rep.Runs, r)
	}
	if err := write(*out, rep); err != nil {
		log.Fatal(err)
	}
}

// run measures the collector on a fresh tree of n containers and removes the tree.
func run(ctx context.Context, su setup, n int) (r collectorresult.Run, err error) {
	t, err := newTree(n, su.cadvisor != "", su.cadvisor != "")
	if err != nil {
		return r, err
	}
	defer func() { err = errors.Join(err, t.remove()) }()
	log.Printf("%d containers in %s, root_path %s", n, t.dir, t.root)
	if su.cadvisor != "" {
		return runSideBySide(ctx, su, t, n)
	}
	c, processors, err := startCollector(su, t.root, changes{}, nil)
	if err != nil {
		return r, err
	}
	r, _, err = c.measure(ctx, su, 0)
	err = errors.Join(err, c.stop())
	r.Containers, r.Pods, r.Processors, r.Without, r.Exporter, r.Collector = n, (n+1)/2, processors, su.without, "debug", su.bin
	if n > 0 {
		r.CPUPerContainerMicros = 1000 * r.CPUPerScrapeMillis / float64(n)
	}
	return r, err
}

// runSideBySide starts cAdvisor on the tree and waits until it knows every cgroup, then
// runs the collector with the receiver's default metrics (or the deployed ones, with
// -deployed-receiver), exporting OTLP to the harness,
// and measures both over the same window; it then checks cAdvisor's working sets against
// the collector's.
func runSideBySide(ctx context.Context, su setup, t *tree, n int) (r collectorresult.Run, err error) {
	prefix := peerPrefix
	pods := (n + 1) / 2
	expect := n + pods + 2 // the containers, the pods, kubepods and kubepods/burstable
	if n == 0 {
		expect = 0
	}
	p, err := startPeer(su.cadvisor, t.dir, expect)
	if err != nil {
		return r, err
	}
	defer func() { err = errors.Join(err, p.stop()) }()
	log.Printf("cAdvisor %s knows the %d cgroups under %s (the tree's, in its cgroup namespace)", p.version, expect, prefix)

	exports := make(chan export, 1024)
	sink, err := startOTLPSink(exports)
	if err != nil {
		return r, err
	}
	defer sink.stop()
	c, processors, err := startCollector(su, t.root, changes{receiverDefaults: !su.deployedReceiver, otlpEndpoint: sink.addr}, exports)
	if err != nil {
		return r, err
	}
	r, w, err := c.measure(ctx, su, p.pid())
	err = errors.Join(err, c.stop())
	r.Containers, r.Pods, r.Processors, r.Without = n, pods, processors, su.without
	r.ReceiverDefaults, r.Exporter, r.Collector = !su.deployedReceiver, "otlp", su.bin
	r.Compression = compressionsSeen()
	if n > 0 {
		r.CPUPerContainerMicros = 1000 * r.CPUPerScrapeMillis / float64(n)
	}
	if err != nil {
		return r, err
	}
	d, err := p.dump()
	if err != nil {
		return r, err
	}
	r.CAdvisor.Library = "github.com/google/cadvisor/lib " + p.version
	r.CAdvisor.Housekeeping = peerHousekeeping
	r.CAdvisor.HousekeepingsPerContainer = housekeepingsIn(d, prefix, w)
	containers, podSeries := sink.series()
	check, err := compareWorkingSets(d, prefix, containers, podSeries)
	r.CAdvisor.ContainersCompared, r.CAdvisor.PodsCompared = check.containers, check.pods
	r.CAdvisor.SamplesEqual, r.CAdvisor.SamplesMoved, r.CAdvisor.SamplesTransient = check.equal, check.moved, check.transient
	r.CAdvisor.CgroupsUnsettled = check.unsettled
	if err == nil && check.containers+check.pods+check.unsettled != n+pods {
		err = fmt.Errorf("working sets: compared %d containers and %d pods (%d moving throughout), want %d and %d", check.containers, check.pods, check.unsettled, n, pods)
	}
	// Every container holds its sockets, half of them two with unread data: the collector saw
	// the tree's sockets in the pods' own namespaces.
	if reported, queued := sink.queuedSockets(2); err == nil && !su.deployedReceiver && (reported != n || queued != (n+1)/2) {
		err = fmt.Errorf("sockets: %d containers reported %s, %d of them 2 with unread data; want %d and %d",
			reported, containerQueued, queued, n, (n+1)/2)
	}
	return r, err
}

// peerHousekeeping is how bench/cadvisorpeer runs cAdvisor's housekeeping, the kubelet's way.
const peerHousekeeping = "housekeeping_interval 10s, dynamic up to 15s while a container's stats stay the same, jitter factor 1.0 (each interval drawn from [d, 2d])"

// housekeepingsIn is how many samples cAdvisor took of each container of the tree within
// the window, on average.
func housekeepingsIn(d peerDump, prefix string, w window) float64 {
	samples, containers := 0, 0
	for _, cg := range d.Cgroups {
		if kind, _, ok := treeCgroup(prefix, cg.Name); !ok || kind != "container" {
			continue
		}
		containers++
		for _, s := range cg.Samples {
			if !s.Time.Before(w.from) && !s.Time.After(w.to) {
				samples++
			}
		}
	}
	if containers == 0 {
		return 0
	}
	return float64(samples) / float64(containers)
}

func parseCounts(s string) ([]int, error) {
	var counts []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-containers: %q is not a count", f)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

func write(path string, rep any) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
