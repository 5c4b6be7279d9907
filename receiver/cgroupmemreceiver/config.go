package cgroupmemreceiver // import "github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/cgroupmem/cgroupmem/internal/k8smeta"
	"github.com/cgroupmem/cgroupmem/internal/sockets"

	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver/internal/metadata"
)

// Config is the receiver's configuration.
type Config struct {
	scraperhelper.ControllerConfig `mapstructure:",squash"`
	metadata.MetricsBuilderConfig  `mapstructure:",squash"`

	// RootPath is where the host's filesystem is mounted: its sys/fs/cgroup and proc are read
	// under it. "/" on the host itself; "/hostfs" in a DaemonSet mounting / at /hostfs.
	RootPath string `mapstructure:"root_path"`

	// MaxOpenFiles bounds the cgroup files kept open between scrapes (re-read in place with
	// pread). 0 means the process's open-file limit less 1024. Files past the bound are
	// opened, read and closed on each scrape.
	MaxOpenFiles int `mapstructure:"max_open_files"`

	// DiscoveryInterval is how often the cgroup tree is walked again even when no change was
	// seen. Between walks, an inotify watch on the tree's directories triggers a walk as soon
	// as a pod or container cgroup is created or removed.
	DiscoveryInterval time.Duration `mapstructure:"discovery_interval"`

	// K8sMetadata names pods and containers from the node's kubelet (off by default).
	K8sMetadata k8smeta.Config `mapstructure:"k8s_metadata"`

	// DentryAccounting counts live dentries per container with eBPF (off by default).
	DentryAccounting DentryAccountingConfig `mapstructure:"dentry_accounting"`

	// Sockets configures the socket receive-queue metrics (container.memory.sock_rcvq*): how
	// sockets are attributed to containers and how much one scrape may examine.
	Sockets SocketsConfig `mapstructure:"sockets"`

	// KmsgOOMWatcher reads the kernel's OOM kill reports from /dev/kmsg (off by default), so
	// that kills of containers whose cgroups are removed right after are counted.
	KmsgOOMWatcher KmsgOOMWatcherConfig `mapstructure:"kmsg_oom_watcher"`
}

// SocketsConfig bounds and steers the socket attribution (internal/sockets).
type SocketsConfig struct {
	// Attribution is "cgroup_id" (default): a socket belongs to the container whose cgroup2
	// id the kernel gives for it (INET_DIAG_CGROUP_ID, Linux 5.7+; on v1 hosts where the
	// runtime mirrors containers into the unified hierarchy), falling back to walking the
	// container's fds where no id is known; "fd_walk": always walk the fds; or "sockopt": walk
	// the fds and read each socket through the process holding it (pidfd_getfd, getsockopt
	// SO_MEMINFO; needs CAP_SYS_PTRACE), with no read of any network namespace.
	Attribution string `mapstructure:"attribution"`
	// MaxFDsPerContainer bounds the fds of one container examined per scrape.
	MaxFDsPerContainer int `mapstructure:"max_fds_per_container"`
	// MaxFDsPerScrape bounds the fds examined per scrape over all containers.
	MaxFDsPerScrape int `mapstructure:"max_fds_per_scrape"`
	// MaxNamespaces bounds the network namespaces read per scrape, and those whose last
	// reading is kept between scrapes.
	MaxNamespaces int `mapstructure:"max_namespaces"`
	// RefreshInterval is how often each network namespace's sockets are read in full (default
	// 10m; 0: every scrape). Each namespace is read at a stable phase of its own within the
	// interval, so a scrape reads about collection_interval/refresh_interval of them; in
	// between, the sockets its last read found are looked up again one by one at every scrape
	// (their queues are current), and a socket created since is found at its next read, up
	// to refresh_interval plus one collection_interval later. A namespace seen for the first
	// time, or a container the last reading did not cover, is read at once; so is one whose
	// lookups failed. At the end of its period, a namespace whose socket counts
	// (/proc/<pid>/net/sockstat and sockstat6, kept open) are those of its last read, none
	// of whose known sockets is gone, is not read: no socket was created or closed. That is
	// put off for up to an hour after its last read. Not used by attribution sockopt, which
	// reads no namespace.
	RefreshInterval time.Duration `mapstructure:"refresh_interval"`
}

const (
	socketAttributionCgroupID = "cgroup_id"
	socketAttributionFDWalk   = "fd_walk"
	socketAttributionSockopt  = "sockopt"
)

// defaultSocketsConfig is the socket package's default limits, attributed by cgroup id.
func defaultSocketsConfig() SocketsConfig {
	l := sockets.DefaultLimits()
	return SocketsConfig{
		Attribution:        socketAttributionCgroupID,
		MaxFDsPerContainer: l.MaxFDsPerContainer,
		MaxFDsPerScrape:    l.MaxFDsPerScrape,
		MaxNamespaces:      l.MaxNamespaces,
		RefreshInterval:    defaultSocketsRefreshInterval,
	}
}

// defaultSocketsRefreshInterval is sockets.refresh_interval's default: a namespace dump walks
// the kernel's socket tables (1.7 to 6.5 ms of CPU for a pod's namespace on the development
// VM, whatever it holds), while the sockets it found are looked up again one by one at every
// scrape in between (a few µs each). So the interval only bounds how late a socket created
// since is found: with 10 s scrapes, a 10m interval dumps at most one namespace in 60 per
// scrape, fewer where sockets are not created or closed (their reads are put off).
const defaultSocketsRefreshInterval = 10 * time.Minute

// limits are the configured bounds as the socket collector takes them.
func (c SocketsConfig) limits() sockets.Limits {
	return sockets.Limits{MaxFDsPerContainer: c.MaxFDsPerContainer, MaxFDsPerScrape: c.MaxFDsPerScrape, MaxNamespaces: c.MaxNamespaces}
}

func (c SocketsConfig) validate() []error {
	var errs []error
	switch c.Attribution {
	case socketAttributionCgroupID, socketAttributionFDWalk, socketAttributionSockopt:
	default:
		errs = append(errs, fmt.Errorf("sockets.attribution must be %q, %q or %q, got %q",
			socketAttributionCgroupID, socketAttributionFDWalk, socketAttributionSockopt, c.Attribution))
	}
	if c.RefreshInterval < 0 {
		errs = append(errs, fmt.Errorf("sockets.refresh_interval must be 0 (every scrape) or positive, got %s", c.RefreshInterval))
	}
	for _, k := range []struct {
		key string
		v   int
	}{
		{"sockets.max_fds_per_container", c.MaxFDsPerContainer},
		{"sockets.max_fds_per_scrape", c.MaxFDsPerScrape},
		{"sockets.max_namespaces", c.MaxNamespaces},
	} {
		if k.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %d", k.key, k.v))
		}
	}
	return errs
}

// scrapeTimeout is how long one scrape may take: timeout, at most collection_interval; 0
// (timeout: 0s) means no bound.
func (cfg *Config) scrapeTimeout() time.Duration {
	if cfg.Timeout <= 0 {
		return 0
	}
	return min(cfg.Timeout, cfg.CollectionInterval)
}

var errRootPath = errors.New("root_path must be an absolute path")

// Validate checks the configuration without touching the filesystem; whether root_path holds
// a cgroup tree is checked at start.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.RootPath == "" || !filepath.IsAbs(cfg.RootPath) {
		errs = append(errs, fmt.Errorf("%w, got %q", errRootPath, cfg.RootPath))
	}
	if cfg.MaxOpenFiles < 0 {
		errs = append(errs, fmt.Errorf("max_open_files must be 0 (automatic) or positive, got %d", cfg.MaxOpenFiles))
	}
	if cfg.DiscoveryInterval <= 0 {
		errs = append(errs, fmt.Errorf("discovery_interval must be positive, got %s", cfg.DiscoveryInterval))
	}
	if cfg.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout must be 0 (none) or positive, got %s", cfg.Timeout))
	}
	if cfg.CollectionInterval <= 0 {
		errs = append(errs, fmt.Errorf("collection_interval must be positive, got %s", cfg.CollectionInterval))
	}
	errs = append(errs, cfg.Sockets.validate()...)
	return errors.Join(errs...)
}
