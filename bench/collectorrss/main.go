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
)

func main() {
	bin := flag.String("collector", "_build/otelcol-cgroupmem", "the collector binary")
	configMap := flag.String("configmap", "deploy/configmap.yaml", "the DaemonSet's ConfigMap, whose config.yaml is run")
	sizes := flag.String("containers", "0,1000", "comma-separated container counts, one collector run each")
	without := flag.String("without", "", "comma-separated processors to leave out of the deployed pipelines")
	interval := flag.Duration("interval", time.Second, "the receiver's collection_interval")
	warmup := flag.Int("warmup", 5, "scrapes left out before the window")
	scrapes := flag.Int("scrapes", 30, "scrapes in the measured window")
	out := flag.String("out", "", "write the JSON report here (default: stdout)")
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
	su := setup{bin: *bin, configMap: *configMap, interval: *interval, warmup: *warmup, scrapes: *scrapes}
	if *without != "" {
		su.without = strings.Split(*without, ",")
	}
	rep := collectorresult.Report{Collector: *bin}
	for _, n := range counts {
		r, err := run(ctx, su, n)
		if err != nil {
			log.Fatalf("%d containers: %v", n, err)
		}
		log.Printf("%d containers: VmRSS %.1f MiB, VmHWM %.1f MiB, CPU %.1f ms per scrape (%.1f µs per container), %.2f %% of one core",
			n, mib(r.RSSBytes), mib(r.HWMBytes), r.CPUPerScrapeMillis, r.CPUPerContainerMicros, r.CPUPercentOfOneCore)
		rep.Runs = append(rep.Runs, r)
	}
	if err := write(*out, rep); err != nil {
		log.Fatal(err)
	}
}

// run measures the collector on a fresh tree of n containers and removes the tree.
func run(ctx context.Context, su setup, n int) (r collectorresult.Run, err error) {
	t, err := newTree(n)
	if err != nil {
		return r, err
	}
	defer func() { err = errors.Join(err, t.remove()) }()
	log.Printf("%d containers in %s, root_path %s", n, t.dir, t.root)
	c, processors, err := startCollector(su, t.root)
	if err != nil {
		return r, err
	}
	r, err = c.measure(ctx, su)
	err = errors.Join(err, c.stop())
	r.Containers, r.Pods, r.Processors, r.Without = n, (n+1)/2, processors, su.without
	if n > 0 {
		r.CPUPerContainerMicros = 1000 * r.CPUPerScrapeMillis / float64(n)
	}
	return r, err
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

func write(path string, rep collectorresult.Report) error {
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
