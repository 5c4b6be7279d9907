package cgroupmemreceiver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/scraper/scrapererror"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

// The live tests run the scraper on cgroups of this host's cgroup v1 memory controller, built
// by internal/testcgroup, and hold what it emits against the kernel files. They skip where
// cgroups cannot be written (not root, no v1 memory hierarchy).

const mib = 1 << 20

// liveContainer is a container of the live tree and what runs in it.
type liveContainer struct {
	name    string
	qos     string
	podUID  string
	work    *testcgroup.Workload // nil: no process at all
	limit   uint64               // memory.limit_in_bytes to set; 0: none
	id, dir string
}

// livePod is a pod of the live tree.
type livePod struct {
	name, uid, qos, dir string
	limit               uint64
}

// liveTree builds the tree of TestLiveScrape: a burstable pod with a 64 MiB anonymous memory
// container and a 32 MiB file I/O container, a burstable pod churning 20,000 temp files, a
// guaranteed pod (directly under kubepods) with an idle, limited container, and a besteffort
// pod with an empty container.
func liveTree(t *testing.T, tree *testcgroup.Tree) ([]*liveContainer, []*livePod) {
	web, batch := testcgroup.NewPodUID(), testcgroup.NewPodUID()
	db, cron := testcgroup.NewPodUID(), testcgroup.NewPodUID()
	podNames := map[string]string{web: "web", batch: "batch", db: "db", cron: "cron"}
	containers := []*liveContainer{
		{name: "anon", qos: testcgroup.QoSBurstable, podUID: web, work: &testcgroup.Workload{AnonMiB: 64}},
		{name: "file", qos: testcgroup.QoSBurstable, podUID: web, work: &testcgroup.Workload{FileMiB: 32}},
		{name: "churn", qos: testcgroup.QoSBurstable, podUID: batch, work: &testcgroup.Workload{TempFiles: 20000}},
		{name: "idle", qos: testcgroup.QoSGuaranteed, podUID: db, work: &testcgroup.Workload{}, limit: 256 * mib},
		{name: "empty", qos: testcgroup.QoSBestEffort, podUID: cron},
	}
	podLimits := map[string]uint64{db: 512 * mib}
	var pods []*livePod
	seen := map[string]bool{}
	for _, c := range containers {
		c.id = testcgroup.NewContainerID()
		c.dir = tree.AddContainer(c.qos, c.podUID, c.id)
		if !seen[c.podUID] {
			seen[c.podUID] = true
			p := &livePod{name: podNames[c.podUID], uid: c.podUID, qos: c.qos, dir: filepath.Dir(c.dir), limit: podLimits[c.podUID]}
			if p.limit > 0 {
				tree.SetMemoryLimit(p.dir, p.limit)
			}
			pods = append(pods, p)
		}
		if c.limit > 0 {
			tree.SetMemoryLimit(c.dir, c.limit)
		}
		if c.work != nil {
			tree.Start(t, c.dir, testcgroup.Command(t, *c.work))
		}
	}
	return containers, pods
}

func TestLiveScrape(t *testing.T) {
	tree := testcgroup.New(t)
	containers, pods := liveTree(t, tree)
	s := startLiveScraper(t, tree)

	var dirs []string
	for _, c := range containers {
		dirs = append(dirs, c.dir)
	}
	for _, p := range pods {
		dirs = append(dirs, p.dir)
	}
	before := readKernels(t, dirs)
	md, err := s.scrape(context.Background())
	after := readKernels(t, dirs)
	require.NoError(t, err)
	got := liveResources(md)

	t.Run("discovery finds exactly the test's pods and containers", func(t *testing.T) {
		want := map[string]map[string]any{"node": {}}
		for _, c := range containers {
			want["container "+c.id] = map[string]any{
				"container.id": c.id, "k8s.pod.uid": c.podUID, "k8s.pod.qos_class": c.qos, "cgroup.path": tree.Rel(c.dir),
			}
		}
		for _, p := range pods {
			want["pod "+p.uid] = map[string]any{"k8s.pod.uid": p.uid, "k8s.pod.qos_class": p.qos, "cgroup.path": tree.Rel(p.dir)}
		}
		gotAttrs := map[string]map[string]any{}
		for key, r := range got {
			gotAttrs[key] = r.attrs
		}
		require.Equal(t, want, gotAttrs)
	})
	for _, c := range containers {
		t.Run("container "+c.name+" matches the kernel files", func(t *testing.T) {
			values := got["container "+c.id].values
			requireMatchesKernel(t, values, "container.memory.", containerFields, before[c.dir], after[c.dir])
			require.Equal(t, max(values["container.memory.usage"]-values["container.memory.inactive_file"], 0),
				values["container.memory.working_set"], "working set = usage − inactive_file, of the same reading")
			require.NotContains(t, values, "container.memory.sock", "tcp accounting was never activated")
		})
	}
	for _, p := range pods {
		t.Run("pod "+p.name+" matches the kernel files", func(t *testing.T) {
			requireMatchesKernel(t, got["pod "+p.uid].values, "k8s.pod.memory.", podFields, before[p.dir], after[p.dir])
		})
	}
	t.Run("limits", func(t *testing.T) {
		for _, c := range containers {
			requireLimit(t, got["container "+c.id].values, "container.memory.limit", c.limit, before[c.dir], after[c.dir])
		}
		for _, p := range pods {
			requireLimit(t, got["pod "+p.uid].values, "k8s.pod.memory.limit", p.limit, before[p.dir], after[p.dir])
		}
	})
	t.Run("workloads show", func(t *testing.T) {
		values := map[string]map[string]int64{}
		for _, c := range containers {
			values[c.name] = got["container "+c.id].values
		}
		require.GreaterOrEqual(t, values["anon"]["container.memory.rss"], int64(64*mib))
		require.GreaterOrEqual(t, values["file"]["container.memory.cache"], int64(32*mib))
		require.Positive(t, values["file"]["container.memory.active_file"])
		// 20,000 negative dentries of 192 bytes each are 3.7 MiB of slab; ask for half.
		require.Greater(t, values["churn"]["container.memory.kmem"], values["idle"]["container.memory.kmem"]+20000*192/2)
		t.Logf("kmem: churn %d, idle %d", values["churn"]["container.memory.kmem"], values["idle"]["container.memory.kmem"])
	})
}

// kernelField maps a metric (without its container.memory. or k8s.pod.memory. prefix) to the
// kernel value it comes from.
type kernelField struct {
	metric string
	kernel func(testcgroup.Kernel) uint64
}

func statField(metric, key string) kernelField {
	return kernelField{metric, func(k testcgroup.Kernel) uint64 { return k.Stat[key] }}
}

var podFields = []kernelField{
	{"usage", func(k testcgroup.Kernel) uint64 { return k.Usage }},
	{"kmem", func(k testcgroup.Kernel) uint64 { return k.Kmem }},
	statField("rss", "total_rss"),
	statField("cache", "total_cache"),
}

var containerFields = append([]kernelField{
	{"oom_kills", func(k testcgroup.Kernel) uint64 { return k.OOMKills }},
	statField("active_file", "total_active_file"),
	statField("inactive_file", "total_inactive_file"),
	statField("swap", "total_swap"),
	statField("rss_huge", "total_rss_huge"),
	statField("mapped_file", "total_mapped_file"),
	statField("shmem", "total_shmem"),
}, podFields...)

// requireMatchesKernel checks that each value the receiver emitted lies between what the
// kernel files said right before and right after the scrape, the working set between
// usage − total_inactive_file at its lowest and at its highest.
func requireMatchesKernel(t *testing.T, got map[string]int64, prefix string, fields []kernelField, before, after testcgroup.Kernel) {
	t.Helper()
	for _, f := range fields {
		v, ok := got[prefix+f.metric]
		require.True(t, ok, "%s%s not emitted", prefix, f.metric)
		requireBetween(t, prefix+f.metric, v, f.kernel(before), f.kernel(after))
	}
	const inactive = "total_inactive_file"
	lo := int64(min(before.Usage, after.Usage)) - int64(max(before.Stat[inactive], after.Stat[inactive]))
	hi := int64(max(before.Usage, after.Usage)) - int64(min(before.Stat[inactive], after.Stat[inactive]))
	ws, ok := got[prefix+"working_set"]
	require.True(t, ok, "%sworking_set not emitted", prefix)
	require.True(t, max(lo, 0) <= ws && ws <= max(hi, 0), "%sworking_set = %d, outside the kernel's [%d, %d]", prefix, ws, lo, hi)
}

func requireBetween(t *testing.T, name string, got int64, before, after uint64) {
	t.Helper()
	lo, hi := min(before, after), max(before, after)
	require.True(t, got >= 0 && uint64(got) >= lo && uint64(got) <= hi,
		"%s = %d, but the kernel said %d before the scrape and %d after", name, got, before, after)
}

// requireLimit checks a limit metric: equal to the limit that was set and to the kernel file,
// absent when none was set.
func requireLimit(t *testing.T, got map[string]int64, metric string, set uint64, before, after testcgroup.Kernel) {
	t.Helper()
	if set == 0 {
		require.False(t, before.Limited() || after.Limited())
		require.NotContains(t, got, metric, "limit emitted for an unlimited cgroup")
		return
	}
	require.Equal(t, set, before.Limit)
	require.Equal(t, set, after.Limit)
	require.Equal(t, int64(set), got[metric])
}

// TestLiveVanishedCgroupSkipped removes cgroups between discovery and reading, as a container
// that stops mid-scrape does, both on a first read and with files kept open by a previous
// scrape (a removed cgroup's open files then read ENODEV): they are skipped without error,
// the rest is recorded, and the next scrape no longer sees them.
func TestLiveVanishedCgroupSkipped(t *testing.T) {
	removals := []struct {
		name   string
		remove func(stays, goes, pod string) []string
		want   func(stays, goes, pod string) []string
	}{
		{
			name:   "container",
			remove: func(_, goes, _ string) []string { return []string{goes} },
			want:   func(stays, _, pod string) []string { return []string{"container " + stays, "pod " + pod} },
		},
		{
			name:   "pod with its containers",
			remove: func(stays, goes, pod string) []string { return []string{stays, goes, pod} },
			want:   func(string, string, string) []string { return nil },
		},
	}
	for _, rm := range removals {
		for _, warm := range []bool{false, true} {
			name := rm.name + " removed before its first read"
			if warm {
				name = rm.name + " removed while its files are kept open"
			}
			t.Run(name, func(t *testing.T) {
				tree := testcgroup.New(t)
				uid, stays, goes := testcgroup.NewPodUID(), testcgroup.NewContainerID(), testcgroup.NewContainerID()
				dirs := map[string]string{
					stays: tree.AddContainer(testcgroup.QoSBurstable, uid, stays),
					goes:  tree.AddContainer(testcgroup.QoSBurstable, uid, goes),
				}
				dirs[uid] = filepath.Dir(dirs[stays])
				s := startLiveScraper(t, tree)
				if warm {
					require.Len(t, scrapeKeys(t, s), 4, "node, pod and two containers")
				}

				found, err := s.catalog.Refresh(time.Now()) // discovery, as scrape does it
				require.NoError(t, err)
				require.Len(t, found.Pods, 1)
				require.Len(t, found.Pods[0].Containers, 2)
				for _, key := range rm.remove(stays, goes, uid) {
					tree.Remove(dirs[key])
				}
				now := pcommon.NewTimestampFromTime(time.Now())
				var errs scrapererror.ScrapeErrors
				s.readPodWithContainers(&found.Pods[0], now.AsTime(), &errs)
				s.recordReadings(now, nil, &errs)
				require.NoError(t, errs.Combine())
				want := rm.want(stays, goes, uid)
				require.ElementsMatch(t, want, resourceKeys(s.mb.Emit()))

				require.ElementsMatch(t, append(want, "node"), scrapeKeys(t, s), "the next scrape")
			})
		}
	}
}

// TestLiveDiscoveryFollowsChanges creates and removes cgroups between scrapes: each scrape
// reports exactly the pods and containers that exist at that moment.
func TestLiveDiscoveryFollowsChanges(t *testing.T) {
	tree := testcgroup.New(t)
	uid, first, second := testcgroup.NewPodUID(), testcgroup.NewContainerID(), testcgroup.NewContainerID()
	firstDir := tree.AddContainer(testcgroup.QoSBurstable, uid, first)
	s := startLiveScraper(t, tree)
	require.ElementsMatch(t, []string{"node", "pod " + uid, "container " + first}, scrapeKeys(t, s))

	tree.AddContainer(testcgroup.QoSBurstable, uid, second)
	otherUID, other := testcgroup.NewPodUID(), testcgroup.NewContainerID()
	tree.AddContainer(testcgroup.QoSGuaranteed, otherUID, other)
	require.ElementsMatch(t, []string{"node", "pod " + uid, "container " + first, "container " + second,
		"pod " + otherUID, "container " + other}, scrapeKeys(t, s), "after creating a container and a pod")

	tree.Remove(firstDir)
	require.ElementsMatch(t, []string{"node", "pod " + uid, "container " + second,
		"pod " + otherUID, "container " + other}, scrapeKeys(t, s), "after removing a container")
}

// startLiveScraper starts a scraper with every metric on, reading the tree.
func startLiveScraper(t *testing.T, tree *testcgroup.Tree) *cgroupScraper {
	t.Helper()
	return startScraper(t, fixtureConfig(tree.Root()))
}

// scrapeKeys scrapes once, without error, and returns the keys of the resources.
func scrapeKeys(t *testing.T, s *cgroupScraper) []string {
	t.Helper()
	md, err := s.scrape(context.Background())
	require.NoError(t, err)
	return resourceKeys(md)
}

func resourceKeys(md pmetric.Metrics) []string {
	var keys []string
	for key := range liveResources(md) {
		keys = append(keys, key)
	}
	return keys
}

// readKernels reads the kernel files of each cgroup.
func readKernels(t *testing.T, dirs []string) map[string]testcgroup.Kernel {
	out := make(map[string]testcgroup.Kernel, len(dirs))
	for _, d := range dirs {
		out[d] = testcgroup.ReadKernel(t, d)
	}
	return out
}

// liveResource is what one resource of a scrape carries.
type liveResource struct {
	attrs  map[string]any
	values map[string]int64 // metrics with a single data point
}

// liveResources indexes a scrape's resources: "container <id>", "pod <uid>", or "node".
func liveResources(md pmetric.Metrics) map[string]liveResource {
	out := map[string]liveResource{}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		attrs := rms.At(i).Resource().Attributes().AsRaw()
		key := "node"
		if id, ok := attrs["container.id"]; ok {
			key = fmt.Sprint("container ", id)
		} else if uid, ok := attrs["k8s.pod.uid"]; ok {
			key = fmt.Sprint("pod ", uid)
		}
		r := liveResource{attrs: attrs, values: map[string]int64{}}
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				if dps := numberDataPoints(ms.At(k)); dps.Len() == 1 && dps.At(0).ValueType() == pmetric.NumberDataPointValueTypeInt {
					r.values[ms.At(k).Name()] = dps.At(0).IntValue()
				}
			}
		}
		out[key] = r
	}
	return out
}

// TestLiveOOMKillIsCounted kills a process for exceeding its container's limit and checks that
// the next scrape reports it: the receiver re-reads containers' OOM kill counts only when the
// node's count (oom_kill of /proc/vmstat) moved, so this holds that the kernel moves both.
func TestLiveOOMKillIsCounted(t *testing.T) {
	tree := testcgroup.New(t)
	id := testcgroup.NewContainerID()
	dir := tree.AddContainer(testcgroup.QoSBurstable, testcgroup.NewPodUID(), id)
	tree.SetMemoryLimit(dir, 16*mib)
	_ = os.WriteFile(filepath.Join(dir, "memory.swappiness"), []byte("0"), 0) // no swapping out of the OOM
	tree.Start(t, dir, exec.Command("sleep", "infinity"))                     // keeps the cgroup from looking empty
	s := startLiveScraper(t, tree)

	oomKills := func() int64 {
		t.Helper()
		md, err := s.scrape(context.Background())
		require.NoError(t, err)
		v, ok := liveResources(md)["container "+id].values["container.memory.oom_kills"]
		require.True(t, ok, "container.memory.oom_kills emitted")
		return v
	}
	require.Zero(t, oomKills())
	require.Zero(t, oomKills(), "nothing killed: the count the handle holds")

	tree.Start(t, dir, exec.Command("tail", "/dev/zero")) // buffers /dev/zero until the limit kills it
	eventually(t, func() (bool, error) {
		k, err := testcgroup.ReadKernelErr(dir)
		return k.OOMKills >= 1, err
	}, 30*time.Second, 20*time.Millisecond, "the kernel OOM-kills tail at the 16 MiB limit")
	require.Equal(t, int64(testcgroup.ReadKernel(t, dir).OOMKills), oomKills(), "the kill shows in the next scrape")
}
