// Command cadvisorpeer runs cAdvisor as the kubelet embeds it, for bench/collectorrss to
// measure beside the collector on the same cgroups: the github.com/google/cadvisor/lib
// manager (the library the kubelet imports) with the raw cgroup factory only (no containerd,
// CRI-O or systemd plugin is linked in), memory metrics only, the kubelet's housekeeping
// (housekeeping_interval 10s, dynamic up to 15s, cAdvisor's jitter factor 1.0 left as the
// kubelet leaves it) and its 2-minute in-memory stats cache, with the cgroups under -prefix
// allowed as the kubelet allows its cgroup roots.
//
// It is its own Go module so that the product's go.mod never depends on cAdvisor.
//
// Protocol, line by line on stdout, driven by stdin:
//
//	{"ready":N,...}        once N cgroups under -prefix are known and each has a sample
//	(reads "dump" on stdin)
//	{"cgroups":[...]}      every sample the cache holds for each cgroup under -prefix
//
// and it exits when stdin closes. Between "ready" and "dump" it does nothing but
// cAdvisor's own work, so that the harness can take its CPU time from /proc.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/google/cadvisor/lib/cache/memory"
	"github.com/google/cadvisor/lib/container"
	"github.com/google/cadvisor/lib/manager"
	info "github.com/google/cadvisor/lib/model"
	"github.com/google/cadvisor/lib/utils/sysfs"
)

// The kubelet's settings (pkg/kubelet/cadvisor/cadvisor_linux.go).
const (
	statsCacheDuration          = 2 * time.Minute
	maxHousekeepingInterval     = 15 * time.Second
	defaultHousekeepingInterval = 10 * time.Second
	allowDynamicHousekeeping    = true
)

// Ready is the first line the peer writes.
type Ready struct {
	Ready   int    `json:"ready"`   // cgroups known under the prefix
	Version string `json:"version"` // the cAdvisor library's module version
}

// Dump is the answer to "dump".
type Dump struct {
	Cgroups []Cgroup `json:"cgroups"`
}

// Cgroup is one cgroup's cached samples, oldest first.
type Cgroup struct {
	Name    string   `json:"name"` // as cAdvisor names it: the path in the hierarchy
	Samples []Sample `json:"samples"`
}

// Sample is one housekeeping's memory reading.
type Sample struct {
	Time       time.Time `json:"time"`
	Usage      uint64    `json:"usage"`
	WorkingSet uint64    `json:"working_set"`
}

func main() {
	prefix := flag.String("prefix", "", "cgroup path prefix to allow, as the kubelet's cgroup roots (e.g. /cgroupmem-bench-x/kubepods)")
	expect := flag.Int("expect", 0, "cgroups under -prefix to wait for before ready (the prefix itself included)")
	housekeeping := flag.Duration("housekeeping", defaultHousekeepingInterval, "cAdvisor's housekeeping_interval")
	maxHousekeeping := flag.Duration("max-housekeeping", maxHousekeepingInterval, "the largest dynamic housekeeping interval")
	wait := flag.Duration("wait", 2*time.Minute, "how long to wait for the -expect cgroups")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("cadvisorpeer: ")
	if *prefix == "" || !strings.HasPrefix(*prefix, "/") {
		log.Fatal("-prefix: want an absolute cgroup path")
	}
	*manager.HousekeepingInterval = *housekeeping

	m, err := newManager(*prefix, *maxHousekeeping)
	if err != nil {
		log.Fatal(err)
	}
	n, err := waitKnown(m, *prefix, *expect, *wait)
	if err != nil {
		log.Fatal(err)
	}
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	if err := enc.Encode(Ready{Ready: n, Version: libVersion()}); err != nil {
		log.Fatal(err)
	}
	out.Flush()

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "dump" {
			log.Fatalf("unknown command %q", in.Text())
		}
		d, err := dump(m, *prefix)
		if err != nil {
			log.Fatal(err)
		}
		if err := enc.Encode(d); err != nil {
			log.Fatal(err)
		}
		out.Flush()
	}
	_ = m.Stop()
}

// newManager starts the manager as the kubelet's cadvisor.New and Start do, with memory
// metrics only.
func newManager(prefix string, maxHousekeeping time.Duration) (manager.Manager, error) {
	dynamic := allowDynamicHousekeeping
	hk := manager.HousekeepingConfig{Interval: &maxHousekeeping, AllowDynamic: &dynamic}
	metrics := container.MetricSet{container.MemoryUsageMetrics: struct{}{}}
	m, err := manager.New(memory.New(statsCacheDuration, nil), sysfs.NewRealSysFs(), hk, metrics,
		[]string{prefix}, nil, "", 0)
	if err != nil {
		return nil, fmt.Errorf("cAdvisor manager: %w", err)
	}
	if err := m.Start(); err != nil {
		return nil, fmt.Errorf("starting the cAdvisor manager: %w", err)
	}
	return m, nil
}

// waitKnown waits until expect cgroups under prefix are known, each with a sample.
func waitKnown(m manager.Manager, prefix string, expect int, wait time.Duration) (int, error) {
	deadline := time.Now().Add(wait)
	for {
		infos, err := m.SubcontainersInfo(prefix, &info.ContainerInfoRequest{NumStats: 1})
		n := 0
		for _, ci := range infos {
			if len(ci.Stats) > 0 {
				n++
			}
		}
		if err == nil && n >= expect {
			return n, nil
		}
		if time.Now().After(deadline) {
			return n, fmt.Errorf("%d of %d cgroups under %s known with a sample after %s (last error: %v)", n, expect, prefix, wait, err)
		}
		time.Sleep(time.Second)
	}
}

// dump returns every cached sample of every cgroup under prefix.
func dump(m manager.Manager, prefix string) (Dump, error) {
	infos, err := m.SubcontainersInfo(prefix, &info.ContainerInfoRequest{NumStats: -1})
	if err != nil {
		return Dump{}, err
	}
	d := Dump{Cgroups: make([]Cgroup, 0, len(infos))}
	for _, ci := range infos {
		c := Cgroup{Name: ci.Name}
		for _, s := range ci.Stats {
			c.Samples = append(c.Samples, Sample{Time: s.Timestamp, Usage: s.Memory.Usage, WorkingSet: s.Memory.WorkingSet})
		}
		sort.Slice(c.Samples, func(i, j int) bool { return c.Samples[i].Time.Before(c.Samples[j].Time) })
		d.Cgroups = append(d.Cgroups, c)
	}
	sort.Slice(d.Cgroups, func(i, j int) bool { return d.Cgroups[i].Name < d.Cgroups[j].Name })
	return d, nil
}

// libVersion is the cAdvisor library's module version, from the build information.
func libVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/google/cadvisor/lib" {
				return d.Version
			}
		}
	}
	return "unknown"
}
