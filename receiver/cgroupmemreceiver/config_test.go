package cgroupmemreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	hostfs := createDefaultConfig().(*Config)
	hostfs.CollectionInterval = 30 * time.Second
	hostfs.RootPath = "/hostfs"
	hostfs.Metrics.ContainerMemoryRssHuge.Enabled = true
	hostfs.Metrics.SystemMemoryLinuxSlabDentry.Enabled = false
	hostfs.ResourceAttributes.CgroupPath.Enabled = true

	ebpf := createDefaultConfig().(*Config)
	ebpf.DentryAccounting = DentryAccountingConfig{Mode: dentryAccountingEBPF, MaxTrackedObjects: 262144}

	socks := createDefaultConfig().(*Config)
	socks.Sockets = SocketsConfig{Attribution: "fd_walk", MaxFDsPerContainer: 4096, MaxFDsPerScrape: 65536, MaxNamespaces: 256, RefreshInterval: 30 * time.Second}
	everyScrape := createDefaultConfig().(*Config)
	everyScrape.Sockets.RefreshInterval = 0
	kmsg := createDefaultConfig().(*Config)
	kmsg.KmsgOOMWatcher = KmsgOOMWatcherConfig{Enabled: true, Path: "/dev/kmsg"}

	tests := []struct {
		id      component.ID
		want    component.Config
		wantErr string
	}{
		{id: component.NewID(metadata.Type), want: createDefaultConfig()},
		{id: component.NewIDWithName(metadata.Type, "hostfs"), want: hostfs},
		{id: component.NewIDWithName(metadata.Type, "relative_root"), wantErr: `root_path must be an absolute path, got "hostfs"`},
		{id: component.NewIDWithName(metadata.Type, "zero_interval"), wantErr: "collection_interval must be positive"},
		{id: component.NewIDWithName(metadata.Type, "negative_files"), wantErr: "max_open_files must be 0 (automatic) or positive, got -1"},
		{id: component.NewIDWithName(metadata.Type, "negative_files"), wantErr: "discovery_interval must be positive, got 0s"},
		{id: component.NewIDWithName(metadata.Type, "negative_timeout"), wantErr: "timeout must be 0 (none) or positive, got -1s"},
		{id: component.NewIDWithName(metadata.Type, "bad_dentry_mode"), wantErr: `dentry_accounting.mode must be "off" or "ebpf", got "kprobe"`},
		{id: component.NewIDWithName(metadata.Type, "ebpf"), want: ebpf},
		{id: component.NewIDWithName(metadata.Type, "sockets"), want: socks},
		{id: component.NewIDWithName(metadata.Type, "bad_sockets"), wantErr: `sockets.attribution must be "cgroup_id", "fd_walk" or "sockopt", got "ebpf"`},
		{id: component.NewIDWithName(metadata.Type, "bad_sockets"), wantErr: "sockets.max_fds_per_container must be positive, got 0"},
		{id: component.NewIDWithName(metadata.Type, "bad_sockets"), wantErr: "sockets.max_namespaces must be positive, got -1"},
		{id: component.NewIDWithName(metadata.Type, "bad_sockets"), wantErr: "sockets.refresh_interval must be 0 (every scrape) or positive, got -1s"},
		{id: component.NewIDWithName(metadata.Type, "sockets_every_scrape"), want: everyScrape},
		{id: component.NewIDWithName(metadata.Type, "kmsg"), want: kmsg},
		{id: component.NewIDWithName(metadata.Type, "kmsg_relative"), wantErr: `kmsg_oom_watcher.path must be an absolute path, got "dev/kmsg"`},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			got, want := cfg.(*Config), tt.want.(*Config)
			require.Equal(t, want.RootPath, got.RootPath)
			require.Equal(t, want.DentryAccounting, got.DentryAccounting)
			require.Equal(t, want.Sockets, got.Sockets)
			require.Equal(t, want.KmsgOOMWatcher, got.KmsgOOMWatcher)
			require.Equal(t, want.ControllerConfig, got.ControllerConfig)
			// enabledSetByUser differs by design; compare what users set.
			require.Equal(t, want.Metrics.ContainerMemoryRssHuge.Enabled, got.Metrics.ContainerMemoryRssHuge.Enabled)
			require.Equal(t, want.Metrics.SystemMemoryLinuxSlabDentry.Enabled, got.Metrics.SystemMemoryLinuxSlabDentry.Enabled)
			require.Equal(t, want.Metrics.ContainerMemoryUsage.Enabled, got.Metrics.ContainerMemoryUsage.Enabled)
			require.Equal(t, want.ResourceAttributes.CgroupPath.Enabled, got.ResourceAttributes.CgroupPath.Enabled)
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.Equal(t, "/", cfg.RootPath)
	require.Equal(t, 10*time.Second, cfg.CollectionInterval)
	require.Equal(t, 5*time.Second, cfg.Timeout, "a scrape is bounded by default")
	require.Equal(t, SocketsConfig{Attribution: "cgroup_id", MaxFDsPerContainer: 16384, MaxFDsPerScrape: 262144, MaxNamespaces: 1024, RefreshInterval: 10 * time.Minute}, cfg.Sockets)
	require.NoError(t, confmap.Validate(cfg))
}

// TestScrapeTimeout checks the bound of one scrape: timeout, never longer than
// collection_interval, none when timeout is 0; and that the receiver's scrapes carry it as
// their context's deadline.
func TestScrapeTimeout(t *testing.T) {
	tests := []struct {
		name              string
		timeout, interval time.Duration
		want              time.Duration
	}{
		{name: "default", timeout: defaultScrapeTimeout, interval: defaultCollectionInterval, want: 5 * time.Second},
		{name: "capped at the interval", timeout: 5 * time.Second, interval: time.Second, want: time.Second},
		{name: "longer interval", timeout: 30 * time.Second, interval: time.Minute, want: 30 * time.Second},
		{name: "none", timeout: 0, interval: time.Second, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.Timeout, cfg.CollectionInterval = tt.timeout, tt.interval
			require.Equal(t, tt.want, cfg.scrapeTimeout())

			r := &metricsReceiver{cfg: cfg}
			before := time.Now()
			ctx, cancel := r.scrapeContext()
			defer cancel()
			deadline, ok := ctx.Deadline()
			require.Equal(t, tt.want > 0, ok, "deadline set")
			if ok {
				require.WithinDuration(t, before.Add(tt.want), deadline, time.Second)
			}
		})
	}
}
