package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metadata"
)

var (
	errMissingName      = errors.New("memdivergence: metric name missing")
	errDuplicateName    = errors.New("memdivergence: metric name used twice")
	errInvalidThreshold = errors.New("memdivergence: invalid threshold")
	errInvalidTrend     = errors.New("memdivergence: invalid trend setting")
	errInvalidState     = errors.New("memdivergence: invalid state setting")
	errInvalidVersion   = errors.New("memdivergence: invalid cgroup_version")
)

// Values of Config.CgroupVersion.
const (
	cgroupVersionAuto = "auto"
	cgroupVersionV1   = "v1"
	cgroupVersionV2   = "v2"
)

// Config configures the memdivergence processor.
type Config struct {
	metadata.MetricsBuilderConfig `mapstructure:",squash"`

	// Container and Pod name the input metrics read at each level. A resource is analysed at
	// a level when it carries that level's working set and RSS. Empty names are not read.
	Container InputNames `mapstructure:"container"`
	Pod       InputNames `mapstructure:"pod"`

	// CgroupVersion says whether socket buffers are charged to the cgroup's usage: v2 yes,
	// v1 no. auto decides per resource: v2 when the resource reports the slab metric, which
	// cgroup v1 does not have.
	CgroupVersion string `mapstructure:"cgroup_version"`

	Thresholds Thresholds  `mapstructure:"thresholds"`
	Trend      TrendConfig `mapstructure:"trend"`
	State      StateConfig `mapstructure:"state"`
}

// InputNames are the metric names read at one level (container or pod).
type InputNames struct {
	WorkingSet   string `mapstructure:"working_set"`
	RSS          string `mapstructure:"rss"`
	Usage        string `mapstructure:"usage"`
	Limit        string `mapstructure:"limit"`
	Cache        string `mapstructure:"cache"`
	ActiveFile   string `mapstructure:"active_file"`
	InactiveFile string `mapstructure:"inactive_file"`
	Kmem         string `mapstructure:"kmem"`
	Slab         string `mapstructure:"slab"`
	DentrySlab   string `mapstructure:"dentry_slab"`
	Sock         string `mapstructure:"sock"`
	SockRcvq     string `mapstructure:"sock_rcvq"`
}

// Thresholds decide when the divergence is flagged: it must reach MinBytes, and, among the
// relative gates that are enabled (non-zero), reach RSSRatio × rss or LimitShare × limit.
type Thresholds struct {
	MinBytes   int64   `mapstructure:"min_bytes"`
	RSSRatio   float64 `mapstructure:"rss_ratio"`
	LimitShare float64 `mapstructure:"limit_share"`
}

// TrendConfig bounds the per-resource window used to estimate growth rates.
type TrendConfig struct {
	// Window is the number of samples kept per resource.
	Window int `mapstructure:"window"`
	// SampleInterval is the least time between two kept samples; faster scrapes are thinned.
	SampleInterval time.Duration `mapstructure:"sample_interval"`
	// MinSamples is how many samples the window needs before rates and the ETA are emitted.
	MinSamples int `mapstructure:"min_samples"`
	// MinSlopeSigmas is how many standard errors the working-set slope must be above zero
	// before the working set counts as growing and the ETA is emitted.
	MinSlopeSigmas float64 `mapstructure:"min_slope_sigmas"`
}

// StateConfig bounds the state kept per resource.
type StateConfig struct {
	// TTL evicts a resource that has not reported for this long.
	TTL time.Duration `mapstructure:"ttl"`
	// MaxResources evicts the least recently seen resource beyond this many.
	MaxResources int `mapstructure:"max_resources"`
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	return errors.Join(
		cfg.Container.validate("container"),
		cfg.Pod.validate("pod"),
		validateLevelsApart(cfg.Container, cfg.Pod),
		validateCgroupVersion(cfg.CgroupVersion),
		cfg.Thresholds.validate(),
		cfg.Trend.validate(),
		cfg.State.validate(),
	)
}

func validateCgroupVersion(v string) error {
	switch v {
	case cgroupVersionAuto, cgroupVersionV1, cgroupVersionV2:
		return nil
	}
	return fmt.Errorf("%w: %q (want auto, v1 or v2)", errInvalidVersion, v)
}

func validateLevelsApart(container, pod InputNames) error {
	if container.WorkingSet != "" && container.WorkingSet == pod.WorkingSet {
		return fmt.Errorf("%w: container and pod working_set are both %q", errDuplicateName, pod.WorkingSet)
	}
	return nil
}
