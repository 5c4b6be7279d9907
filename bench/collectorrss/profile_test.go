package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cgroupmem/cgroupmem/bench/internal/collectorresult"
)

// testdata/perf-script.txt holds nine samples of a real perf record -g of the collector
// during a side-by-side run, as perf script printed them.
func TestParsePerfScript(t *testing.T) {
	f, err := os.Open("testdata/perf-script.txt")
	require.NoError(t, err)
	defer f.Close()
	got, err := parsePerfScript(f, profileParts)
	require.NoError(t, err)
	require.Equal(t, collectorresult.Profile{Samples: 9, Parts: []collectorresult.ProfilePart{
		// ties in the order of their names:
		// findRunnable and a kernel-only stack
		{Name: runtimePart, Samples: 2, Share: 2.0 / 9},
		// pread of kept-open cgroup files
		{Name: profileParts[3].name, Samples: 2, Share: 2.0 / 9},
		// pcommon.Map.Equal under the processor's builder, pmetric.SetEmptySum under the receiver's
		{Name: profileParts[6].name, Samples: 2, Share: 2.0 / 9},
		// two socket samples reading cgroup.procs: charged to sockets, not to the cgroup reader
		{Name: profileParts[0].name, Samples: 2, Share: 2.0 / 9},
		// gzip under the otlp exporter: the export's compression
		{Name: profileParts[2].name, Samples: 1, Share: 1.0 / 9},
	}}, got)
}

func TestParsePerfScriptEmpty(t *testing.T) {
	_, err := parsePerfScript(strings.NewReader("\n\n"), profileParts)
	require.ErrorContains(t, err, "no samples")
}

func TestFrameSymbol(t *testing.T) {
	for line, want := range map[string]string{
		"\t          4d0773 go.opentelemetry.io/collector/pdata/pcommon.Value.Equal+0x2f3 (/tmp/otelcol)": "go.opentelemetry.io/collector/pdata/pcommon.Value.Equal",
		"\t  101e63 slices.partitionCmpFunc[go.shape.interface { Name() string }]+0x163 (/tmp/otelcol)":   "slices.partitionCmpFunc[go.shape.interface { Name() string }]",
		"\tffffffff81708cd3 alloc_fd+0xf3 ([kernel.kallsyms])":                                            "alloc_fd",
		"\t    9d05 [unknown] (/usr/bin/dash)":                                                            "[unknown]",
		"\t7ffc8e073920":                                                                                  "",
	} {
		require.Equal(t, want, frameSymbol(line), line)
	}
}

func TestChargeTo(t *testing.T) {
	part := func(sym string) int { return partOf(profileParts, sym) }
	tests := []struct {
		name   string
		frames []string // innermost first
		want   string
	}{
		{
			name: "innermost part wins",
			frames: []string{"runtime.mallocgc", "go.opentelemetry.io/collector/pdata/pmetric.NewMetrics",
				cgroupmem + "processor/memdivergenceprocessor.(*divergenceProcessor).processMetrics"},
			want: profileParts[6].name,
		},
		{
			name:   "the processor's own code",
			frames: []string{"math.Sqrt", cgroupmem + "processor/memdivergenceprocessor.(*trend).slope"},
			want:   profileParts[5].name,
		},
		{
			name: "sockets own what they call",
			frames: []string{"syscall.Syscall", cgroupmem + "internal/cgroupfs.Procs",
				cgroupmem + "receiver/cgroupmemreceiver.(*cgroupScraper).collectSockets", cgroupmem + "receiver/cgroupmemreceiver.(*metricsReceiver).scrapeOnce"},
			want: profileParts[0].name,
		},
		{
			name:   "node-wide metrics own what they call",
			frames: []string{"os.ReadFile", cgroupmem + "internal/cgroupfs.readKV", cgroupmem + "receiver/cgroupmemreceiver.(*cgroupScraper).scrapeNode"},
			want:   profileParts[1].name,
		},
		{
			name:   "pdata's proto encoding is the export's",
			frames: []string{"go.opentelemetry.io/collector/pdata/internal.(*ResourceMetrics).MarshalProto", "go.opentelemetry.io/collector/exporter/otlpexporter.(*baseExporter).pushMetrics"},
			want:   profileParts[2].name,
		},
		{
			name: "the exporter's compression, here snappy called from a pooled writer with no exporter frame",
			frames: []string{"hash/crc32.castagnoliSSE42", "github.com/golang/snappy.crc",
				"github.com/golang/snappy.(*Writer).write", "sync.(*WaitGroup).Go.func1"},
			want: profileParts[2].name,
		},
		{
			name:   "the batch processor",
			frames: []string{"go.opentelemetry.io/collector/processor/batchprocessor.(*shard[...]).processItem"},
			want:   profileParts[7].name,
		},
		{name: "the runtime alone", frames: []string{"runtime.scanobject", "runtime.gcBgMarkWorker"}, want: runtimePart},
		{name: "the kernel alone", frames: []string{"smp_call_function_many_cond"}, want: runtimePart},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var frames []int
			for _, f := range tt.frames {
				frames = append(frames, part(f))
			}
			require.Equal(t, tt.want, chargeTo(profileParts, frames))
		})
	}
}

func TestCAdvisorParts(t *testing.T) {
	charge := func(frames ...string) string {
		var fs []int
		for _, f := range frames {
			fs = append(fs, partOf(cadvisorParts, f))
		}
		return chargeTo(cadvisorParts, fs)
	}
	// Frames of real samples of the peer, innermost first.
	require.Equal(t, cadvisorParts[0].name, charge("syscall.Syscall6", "github.com/opencontainers/cgroups.ReadFile",
		"github.com/opencontainers/cgroups/fs.(*MemoryGroup).GetStats", cadvisorLib+"container/libcontainer.(*Handler).GetStats",
		cadvisorLib+"manager.(*containerData).updateStats", cadvisorLib+"manager.(*containerData).housekeepingTick",
		cadvisorLib+"manager.(*containerData).housekeeping"))
	require.Equal(t, cadvisorParts[1].name, charge("syscall.InotifyAddWatch", "k8s.io/utils/inotify.(*Watcher).AddWatch",
		cadvisorLib+"container/common.(*InotifyWatcher).AddWatch", cadvisorLib+"container/raw.(*rawContainerWatcher).watchDirectory",
		cadvisorLib+"container/raw.(*rawContainerWatcher).processEvent"))
	require.Equal(t, cadvisorParts[2].name, charge("runtime.mallocgc", cadvisorLib+"cache/memory.(*InMemoryCache).RecentStats"))
	require.Equal(t, runtimePart, charge("runtime.copystack", "runtime.newstack", "runtime.morestack.abi0"))
}
