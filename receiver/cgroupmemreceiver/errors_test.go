package cgroupmemreceiver

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/collector/scraper/scrapererror"

	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver/internal/metadata"
)

func TestStartFailsOnWrongRootPath(t *testing.T) {
	tests := []struct {
		name    string
		root    string
		wantErr string
	}{
		{name: "missing", root: filepath.Join(t.TempDir(), "nope"), wantErr: "is not a readable directory"},
		{name: "no cgroup tree", root: t.TempDir(), wantErr: "no cgroup memory controller found"},
		{name: "a file", root: writeTemp(t, "f", "x"), wantErr: "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.RootPath = tt.root
			s := newCgroupScraper(cfg, receivertest.NewNopSettings(metadata.Type))
			err := s.start(context.Background(), componenttest.NewNopHost())
			require.ErrorContains(t, err, tt.wantErr)
			require.ErrorContains(t, err, tt.root)
		})
	}
}

// copyTree copies a fixture root so a test can damage it.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	require.NoError(t, os.CopyFS(dst, os.DirFS(src)))
	return dst
}

func TestScrapeMalformedFileIsPartialErrorAndKeepsTheRest(t *testing.T) {
	root := copyTree(t, fixtureRoot("v2-kernel-6.18"))
	pod := filepath.Join(root, "sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f0a9d1e_7c55_4b8e_9a31_2d4be2f1c0aa.slice")
	bad := filepath.Join(pod, "cri-containerd-aaaaaaaa11111111111111111111111111111111111111111111111111111111.scope", "memory.stat")
	require.NoError(t, os.WriteFile(bad, []byte("anon 77873152\nfile twelve\n"), 0o644))

	md, err := scrapeOnce(t, fixtureConfig(root))
	require.Error(t, err)
	require.True(t, scrapererror.IsPartialScrapeError(err))
	require.ErrorContains(t, err, bad)
	require.ErrorContains(t, err, `"file twelve"`)

	got := containerValues(md, "aaaaaaaa11111111111111111111111111111111111111111111111111111111")
	require.Equal(t, int64(204660736), got["container.memory.usage"], "memory.current was fine")
	require.Equal(t, int64(77873152), got["container.memory.rss"], "the other lines are kept")
	idle := containerValues(md, "cccccccc33333333333333333333333333333333333333333333333333333333")
	require.Equal(t, int64(249856), idle["container.memory.usage"], "other containers are untouched")
}

// TestScrapeCorruptedFilesCostOnlyTheirMetrics replays corrupted kernel files through
// root_path: each costs the container only the metrics that file feeds, names the file and
// the bad token, and leaves the other containers alone.
func TestScrapeCorruptedFilesCostOnlyTheirMetrics(t *testing.T) {
	const workload = "aaaaaaaa11111111111111111111111111111111111111111111111111111111"
	const idle = "cccccccc33333333333333333333333333333333333333333333333333333333"
	cleanMD, err := scrapeOnce(t, fixtureConfig(fixtureRoot("v1-hybrid-kernel-6.18")))
	require.NoError(t, err)
	clean := containerValues(cleanMD, workload)
	require.NotEmpty(t, clean)
	statMetrics := []string{"container.memory.rss", "container.memory.cache", "container.memory.active_file",
		"container.memory.inactive_file", "container.memory.swap", "container.memory.working_set"}
	tests := []struct {
		name, file, content, token string
		lost                       []string
	}{
		{name: "usage not a number", file: "memory.usage_in_bytes", content: "lots\n", token: `"lots"`,
			lost: []string{"container.memory.usage", "container.memory.working_set"}},
		{name: "usage overflows", file: "memory.usage_in_bytes", content: "18446744073709551616\n", token: `"18446744073709551616" overflows`,
			lost: []string{"container.memory.usage", "container.memory.working_set"}},
		{name: "kmem negative", file: "memory.kmem.usage_in_bytes", content: "-1\n", token: `"-1"`,
			lost: []string{"container.memory.kmem"}},
		{name: "memory.stat empty", file: "memory.stat", content: "", token: `no "key value" line`, lost: statMetrics},
		{name: "memory.stat binary", file: "memory.stat", content: "\x00\x7f\xff\n", token: `"\x00\x7f\xff"`, lost: statMetrics},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := copyTree(t, fixtureRoot("v1-hybrid-kernel-6.18"))
			bad := filepath.Join(root, "sys/fs/cgroup/memory/kubepods/burstable/pod3f0a9d1e-7c55-4b8e-9a31-2d4be2f1c0aa", workload, tt.file)
			require.NoError(t, os.WriteFile(bad, []byte(tt.content), 0o644))

			md, err := scrapeOnce(t, fixtureConfig(root))
			require.True(t, scrapererror.IsPartialScrapeError(err), "%v", err)
			require.ErrorContains(t, err, bad+":")
			require.ErrorContains(t, err, tt.token)
			var pe scrapererror.PartialScrapeError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, 1, pe.Failed, "one file failed")

			got := containerValues(md, workload)
			want := maps.Clone(clean)
			for _, m := range tt.lost {
				require.Contains(t, want, m, "the clean scrape has %s", m)
				delete(want, m)
			}
			if tt.file == "memory.stat" {
				for name := range want { // every other metric memory.stat feeds
					if strings.HasPrefix(name, "container.memory.") && !slices.Contains([]string{
						"container.memory.usage", "container.memory.limit", "container.memory.kmem",
						"container.memory.oom_kills", "container.memory.events", "container.memory.under_oom",
						"container.memory.peak", "container.memory.pressure.stall_time", "container.memory.pressure.stall_share",
					}, name) {
						delete(want, name)
					}
				}
				for name := range got {
					require.NotContains(t, []string{"container.memory.refaults", "container.paging.faults", "container.memory.mapped_file"}, name)
				}
			}
			require.Equal(t, want, got, "every other metric of the container, as in the clean scrape")
			require.Equal(t, containerValues(cleanMD, idle), containerValues(md, idle), "other containers are untouched")
		})
	}
}

func TestScrapeSkipsVanishedContainerQuietly(t *testing.T) {
	root := copyTree(t, fixtureRoot("v1-hybrid-kernel-6.18"))
	cfg := fixtureConfig(root)
	s := newCgroupScraper(cfg, receivertest.NewNopSettings(metadata.Type))
	require.NoError(t, s.start(context.Background(), componenttest.NewNopHost()))
	// Files of a removed cgroup disappear with it: memory.stat goes missing between
	// discovery and reading.
	gone := filepath.Join(root, "sys/fs/cgroup/memory/kubepods/pod8b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d/cccccccc33333333333333333333333333333333333333333333333333333333")
	require.NoError(t, os.Remove(filepath.Join(gone, "memory.stat")))

	md, err := s.scrape(context.Background())
	require.NoError(t, err)
	require.Empty(t, containerValues(md, "cccccccc33333333333333333333333333333333333333333333333333333333"))
	require.NotEmpty(t, containerValues(md, "aaaaaaaa11111111111111111111111111111111111111111111111111111111"))
}

func TestScrapeWithoutProcSlabinfoIsPartialError(t *testing.T) {
	root := copyTree(t, fixtureRoot("v2-kernel-6.18"))
	require.NoError(t, os.Remove(filepath.Join(root, "proc/slabinfo")))
	md, err := scrapeOnce(t, fixtureConfig(root))
	require.True(t, scrapererror.IsPartialScrapeError(err))
	require.ErrorContains(t, err, filepath.Join(root, "proc/slabinfo"))
	require.NotEmpty(t, containerValues(md, "aaaaaaaa11111111111111111111111111111111111111111111111111111111"))
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}
