package cgroupmemreceiver

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/cgroupmem/cgroupmem/internal/cgroupfs"
)

func TestAvailable(t *testing.T) {
	v := func(n uint64) cgroupfs.Value { return cgroupfs.Value{V: n, OK: true} }
	tests := []struct {
		name string
		m    cgroupfs.Memory
		want cgroupfs.Value
	}{
		{name: "limit minus working set", m: cgroupfs.Memory{Limit: v(100), Usage: v(70), InactiveFile: v(10)}, want: v(40)},
		{name: "over the limit: floored at 0", m: cgroupfs.Memory{Limit: v(100), Usage: v(130), InactiveFile: v(10)}, want: v(0)},
		{name: "no limit: absent", m: cgroupfs.Memory{Usage: v(70), InactiveFile: v(10)}},
		{name: "no usage: absent", m: cgroupfs.Memory{Limit: v(100)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, available(&tt.m))
		})
	}
}

// TestScrapePressureMatchesFixtureFiles holds the new metrics of the v2 workload container
// and its pod against the captured kernel files, parsed here with strings and strconv.
func TestScrapePressureMatchesFixtureFiles(t *testing.T) {
	const workload = "aaaaaaaa11111111111111111111111111111111111111111111111111111111"
	root := fixtureRoot("v2-kernel-6.18")
	pod := filepath.Join(root, "sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f0a9d1e_7c55_4b8e_9a31_2d4be2f1c0aa.slice")
	dir := filepath.Join(pod, "cri-containerd-"+workload+".scope")
	md, err := scrapeOnce(t, fixtureConfig(root))
	require.NoError(t, err)
	got := points(containerMetrics(md, workload))

	kv := func(file string) map[string]string {
		b, err := os.ReadFile(filepath.Join(dir, file))
		require.NoError(t, err)
		out := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			f := strings.Fields(line)
			out[f[0]] = strings.Join(f[1:], " ")
		}
		return out
	}
	events := kv("memory.events")
	for _, typ := range []string{"low", "high", "max", "oom", "oom_kill", "oom_group_kill"} {
		require.Equal(t, events[typ], got["container.memory.events "+typ], typ)
	}
	stat := kv("memory.stat")
	require.Equal(t, stat["workingset_refault_file"], got["container.memory.refaults file"])
	require.Equal(t, stat["workingset_activate_anon"], got["container.memory.refault_activations anon"])
	require.Equal(t, stat["pgscan"], got["container.memory.reclaim.scanned"])
	require.Equal(t, stat["pgsteal"], got["container.memory.reclaim.reclaimed"])
	peak, err := os.ReadFile(filepath.Join(dir, "memory.peak"))
	require.NoError(t, err)
	require.Equal(t, strings.TrimSpace(string(peak)), got["container.memory.peak"])
	psiLines := kv("memory.pressure")
	for _, typ := range []string{"some", "full"} {
		total := strings.TrimPrefix(strings.Fields(psiLines[typ])[3], "total=")
		us, err := strconv.ParseUint(total, 10, 64)
		require.NoError(t, err)
		require.Equal(t, strconv.FormatFloat(float64(us)/1e6, 'g', -1, 64), got["container.memory.pressure.stall_time "+typ])
	}
	_, under := got["container.memory.under_oom"]
	require.False(t, under, "v2 has no under_oom")
}

// points maps "metric attr..." to each data point's value as text.
func points(ms pmetric.MetricSlice) map[string]string {
	out := map[string]string{}
	for i := 0; i < ms.Len(); i++ {
		dps := numberDataPoints(ms.At(i))
		for j := 0; j < dps.Len(); j++ {
			dp := dps.At(j)
			key := ms.At(i).Name()
			for _, v := range dp.Attributes().All() {
				key += " " + v.AsString()
			}
			val := strconv.FormatInt(dp.IntValue(), 10)
			if dp.ValueType() == pmetric.NumberDataPointValueTypeDouble {
				val = strconv.FormatFloat(dp.DoubleValue(), 'g', -1, 64)
			}
			out[key] = val
		}
	}
	return out
}
