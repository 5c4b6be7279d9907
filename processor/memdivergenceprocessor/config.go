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
	errInvalidSeries    = errors.New("memdivergence: invalid series setting")
	errInvalidLog       = errors.New("memdivergence: invalid verdict_log setting")
)

// Values of SeriesConfig.Detail.
const (
	detailCompact = "compact"
	detailFull    = "full"
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

	Thresholds Thresholds   `mapstructure:"thresholds"`
	Trend      TrendConfig  `mapstructure:"trend"`
	State      StateConfig  `mapstructure:"state"`
	Series     SeriesConfig `mapstructure:"series"`
	VerdictLog LogConfig    `mapstructure:"verdict_log"`
}

// SeriesConfig says which data points the processor adds per resource.
type SeriesConfig struct {
	// Detail is compact (the default: the flag, the causes that matter, the ETA when the
	// working set grows; the full breakdown and growth rates while flagged) or full (every
	// cause and rate on every scrape).
	Detail string `mapstructure:"detail"`
	// MinCauseBytes is how large a cause must be for its series to appear in compact mode
	// on a resource that is not flagged.
	MinCauseBytes int64 `mapstructure:"min_cause_bytes"`
	// Hold is how long series stay after what made them appear is gone.
	Hold time.Duration `mapstructure:"hold"`
}

// LogConfig bounds the verdict lines logged when a resource becomes flagged or its
// classification changes.
type LogConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// PerMinute is the most lines logged per minute (a token bucket of that size); lines
	// over it are counted and the count is logged with the next line.
	PerMinute int `mapstructure:"per_minute"`
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
	// SockRcvqPayload is the unread payload of the receive queues (incident 5's rule).
	SockRcvqPayload string `mapstructure:"sock_rcvq_payload"`
	// PressureStallTime, Refaults and Events are the pressure signals of the classification:
	// counters, read by the data point attributes pressure.type (some),
	// container.memory.lru.type (file, anon) and container.memory.event.type (high, max).
	PressureStallTime string `mapstructure:"pressure_stall_time"`
	Refaults          string `mapstructure:"refaults"`
	Events            string `mapstructure:"events"`
	// OOMKills is the OOM kill counter whose rises are counted by cause.
	OOMKills string `mapstructure:"oom_kills"`
}

// Thresholds decide when the divergence is flagged: it must reach MinBytes, and, among the
// relative gates that are enabled (non-zero), reach RSSRatio × rss or LimitShare × limit.
//
// The others decide when the memory is pressing, over the trend window; 0 turns a rule off.
type Thresholds struct {
	MinBytes   int64   `mapstructure:"min_bytes"`
	RSSRatio   float64 `mapstructure:"rss_ratio"`
	LimitShare float64 `mapstructure:"limit_share"`

	// StallShare is the share of time in which some task stalled on memory (PSI some).
	StallShare float64 `mapstructure:"stall_share"`
	// RefaultRate is workingset refaults (file + anon) per second.
	RefaultRate float64 `mapstructure:"refault_rate"`
	// LimitEvents is how many memory.high and memory.max events (v1: failcnt).
	LimitEvents int64 `mapstructure:"limit_events"`
	// SockRcvqBytes and SockRcvqPayloadRatio flag socket receive queues (incident 5): at
	// least this many bytes of queued skbs, and at least this many times their payload.
	SockRcvqBytes        int64   `mapstructure:"sock_rcvq_bytes"`
	SockRcvqPayloadRatio float64 `mapstructure:"sock_rcvq_payload_ratio"`
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
	// ETAHorizon: an ETA further away than this is not emitted (0: no horizon). Noise around
	// a flat working set makes slopes of a few bytes a second and ETAs of years.
	ETAHorizon time.Duration `mapstructure:"eta_horizon"`
}

// StateConfig bounds the state kept per resource.
type StateConfig struct {
	// TTL evicts a resource that has proved long-lived (trend.min_samples points) and has not
	// reported for this long; younger ones go after a few of their own intervals (state.go).
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
		cfg.Series.validate(),
		cfg.VerdictLog.validate(),
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
