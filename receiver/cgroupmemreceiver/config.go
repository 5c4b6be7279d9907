package cgroupmemreceiver // import "github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"

import (
	"errors"
	"fmt"
	"path/filepath"

	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver/internal/metadata"
)

// Config is the receiver's configuration.
type Config struct {
	scraperhelper.ControllerConfig `mapstructure:",squash"`
	metadata.MetricsBuilderConfig  `mapstructure:",squash"`

	// RootPath is where the host's filesystem is mounted: its sys/fs/cgroup and proc are read
	// under it. "/" on the host itself; "/hostfs" in a DaemonSet mounting / at /hostfs.
	RootPath string `mapstructure:"root_path"`
}

var errRootPath = errors.New("root_path must be an absolute path")

// Validate checks the configuration without touching the filesystem; whether root_path holds
// a cgroup tree is checked at start.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.RootPath == "" || !filepath.IsAbs(cfg.RootPath) {
		errs = append(errs, fmt.Errorf("%w, got %q", errRootPath, cfg.RootPath))
	}
	if cfg.CollectionInterval <= 0 {
		errs = append(errs, fmt.Errorf("collection_interval must be positive, got %s", cfg.CollectionInterval))
	}
	return errors.Join(errs...)
}
