package cgroupmemreceiver

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

// TestLiveDentryAccounting runs the receiver with dentry_accounting: ebpf over a container
// that creates and deletes 20,000 uniquely named files after the accountant started, and an
// idle one. It skips where the kernel or the privileges do not allow the accountant.
func TestLiveDentryAccounting(t *testing.T) {
	tree := testcgroup.New(t)
	uid := testcgroup.NewPodUID()
	churnID, idleID := testcgroup.NewContainerID(), testcgroup.NewContainerID()
	churn := tree.AddContainer(testcgroup.QoSBurstable, uid, churnID)
	idle := tree.AddContainer(testcgroup.QoSBurstable, uid, idleID)

	cfg := createDefaultConfig().(*Config)
	cfg.RootPath = tree.Root()
	cfg.DentryAccounting.Mode = dentryAccountingEBPF
	cfg.DentryAccounting.MaxTrackedObjects = 1 << 17
	s := startScraper(t, cfg)
	if s.dentries == nil {
		t.Skip("the eBPF dentry accountant cannot run here (see the warning logged by start)")
	}

	const files = 20000
	tree.Start(t, churn, testcgroup.Command(t, testcgroup.Workload{TempFiles: files}))
	tree.Start(t, idle, testcgroup.Command(t, testcgroup.Workload{}))

	md, err := s.scrape(context.Background())
	require.NoError(t, err)
	objSize := int64(s.dentries.acc.ObjectSize())

	got := dentryPoints(md, churnID)
	require.Equal(t, "full", got.coverage, "the container started after the accountant")
	require.InDelta(t, files*objSize, got.bytes, 0.1*files*float64(objSize), "20,000 negative dentries × object size, within 10 %")
	require.LessOrEqual(t, got.bytes, containerValues(md, churnID)["container.memory.kmem"], "dentries are part of the container's kernel memory")
	if s.dentries.acc.NegativeCounted() {
		require.InDelta(t, files, got.negative, 0.1*files)
	}
	quiet := dentryPoints(md, idleID)
	require.Less(t, quiet.bytes, int64(200)*objSize, "an idle container holds few dentries")
}

type dentryPoint struct {
	bytes, negative int64
	coverage        string
}

func dentryPoints(md pmetric.Metrics, containerID string) dentryPoint {
	var p dentryPoint
	ms := containerMetrics(md, containerID)
	for k := 0; k < ms.Len(); k++ {
		switch m := ms.At(k); m.Name() {
		case "container.memory.slab.dentry":
			dp := m.Sum().DataPoints().At(0)
			p.bytes = dp.IntValue()
			if c, ok := dp.Attributes().Get("container.memory.dentry.coverage"); ok {
				p.coverage = c.Str()
			}
		case "container.memory.slab.dentry_negative":
			p.negative = m.Sum().DataPoints().At(0).IntValue()
		}
	}
	return p
}

// TestLiveDentryOverflowPartial fills a small eBPF map of live dentries from one container (a
// tenant stat-ing and unlinking 100,000 unique names), then has a second container create
// files while it is full: both report coverage=partial, while a third container, idle since
// before the flood, keeps coverage=full: a full map blinds the containers that allocate, and
// says so for them only. The warning is logged once, not on every scrape.
func TestLiveDentryOverflowPartial(t *testing.T) {
	tree := testcgroup.New(t)
	uid := testcgroup.NewPodUID()
	fillerID, victimID, bystanderID := testcgroup.NewContainerID(), testcgroup.NewContainerID(), testcgroup.NewContainerID()
	filler := tree.AddContainer(testcgroup.QoSBurstable, uid, fillerID)
	victim := tree.AddContainer(testcgroup.QoSBurstable, uid, victimID)
	bystander := tree.AddContainer(testcgroup.QoSBurstable, uid, bystanderID)

	const room = 1 << 13
	cfg := createDefaultConfig().(*Config)
	cfg.RootPath = tree.Root()
	cfg.DentryAccounting.Mode = dentryAccountingEBPF
	cfg.DentryAccounting.MaxTrackedObjects = room
	s, logs := startScraperLogging(t, cfg, zap.InfoLevel)
	if s.dentries == nil {
		t.Skip("the eBPF dentry accountant cannot run here (see the warning logged by start)")
	}
	const msgFull = "The eBPF map of live dentries is full"

	tree.Start(t, bystander, testcgroup.Command(t, testcgroup.Workload{}))
	tree.Start(t, victim, testcgroup.Command(t, testcgroup.Workload{}))
	md, err := s.scrape(context.Background())
	require.NoError(t, err)
	require.Equal(t, "full", dentryPoints(md, victimID).coverage, "before the flood")
	require.Equal(t, "full", dentryPoints(md, bystanderID).coverage, "before the flood")

	tree.Start(t, filler, testcgroup.Command(t, testcgroup.Workload{TempFiles: 3 * room}))
	tree.Start(t, victim, testcgroup.Command(t, testcgroup.Workload{TempFiles: 2000}))
	md, err = s.scrape(context.Background())
	require.NoError(t, err)
	require.Positive(t, s.dentries.acc.Overflows(), "the map overflowed")
	require.Equal(t, "partial", dentryPoints(md, fillerID).coverage, "the container that filled the map")
	require.Equal(t, "partial", dentryPoints(md, victimID).coverage, "a container allocating while the map is full")
	require.Equal(t, "full", dentryPoints(md, bystanderID).coverage, "an idle container lost nothing")
	require.Equal(t, 1, logs.FilterMessageSnippet(msgFull).Len())

	for range 2 {
		md, err = s.scrape(context.Background())
		require.NoError(t, err)
		require.Equal(t, "partial", dentryPoints(md, victimID).coverage, "partial stays partial")
	}
	require.Equal(t, 1, logs.FilterMessageSnippet(msgFull).Len(), "warned once, not every scrape")
}
