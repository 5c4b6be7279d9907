package memdivergenceprocessor

import (
	"go/token"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

func TestLoadConfig(t *testing.T) {
	kubeletstats := createDefaultConfig().(*Config)
	kubeletstats.Container = InputNames{
		WorkingSet: "container.memory.working_set", RSS: "container.memory.rss", Usage: "container.memory.usage",
	}
	kubeletstats.Pod = InputNames{
		WorkingSet: "k8s.pod.memory.working_set", RSS: "k8s.pod.memory.rss", Usage: "k8s.pod.memory.usage",
	}
	kubeletstats.CgroupVersion = cgroupVersionV2
	kubeletstats.Thresholds.MinBytes, kubeletstats.Thresholds.RSSRatio, kubeletstats.Thresholds.LimitShare = 256<<20, 1, 0.1
	kubeletstats.Thresholds.StallShare, kubeletstats.Thresholds.SockRcvqBytes = 0.05, 0
	kubeletstats.Series = SeriesConfig{Detail: detailFull, MinCauseBytes: 4 << 20, Hold: 30 * time.Minute}
	kubeletstats.VerdictLog = LogConfig{Enabled: true, PerMinute: 2}
	kubeletstats.Trend = TrendConfig{Window: 144, SampleInterval: 5 * time.Minute, MinSamples: 12, MinSlopeSigmas: 4, ETAHorizon: 7 * 24 * time.Hour}
	kubeletstats.State = StateConfig{TTL: 30 * time.Minute, MaxResources: 5000}
	kubeletstats.Metrics.ContainerMemoryDivergenceGrowth.Enabled = false

	noPods := createDefaultConfig().(*Config)
	noPods.Pod.WorkingSet, noPods.Pod.RSS = "", ""

	tests := []struct {
		id      string
		want    *Config
		wantErr error
	}{
		{id: "memdivergence", want: createDefaultConfig().(*Config)},
		{id: "memdivergence/kubeletstats", want: kubeletstats},
		{id: "memdivergence/no_pods", want: noPods},
		{id: "memdivergence/missing_rss", wantErr: errMissingName},
		{id: "memdivergence/duplicate", wantErr: errDuplicateName},
		{id: "memdivergence/bad_share", wantErr: errInvalidThreshold},
		{id: "memdivergence/bad_trend", wantErr: errInvalidTrend},
		{id: "memdivergence/bad_version", wantErr: errInvalidVersion},
		{id: "memdivergence/bad_state", wantErr: errInvalidState},
		{id: "memdivergence/bad_stall", wantErr: errInvalidThreshold},
		{id: "memdivergence/bad_detail", wantErr: errInvalidSeries},
		{id: "memdivergence/bad_log", wantErr: errInvalidLog},
	}
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tt.id)
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				t.Log(err)
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, cfg, ignoreUnexported); diff != "" {
				t.Errorf("config mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateMessages(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr error
		wantMsg string
	}{
		{"working set without rss", func(c *Config) { c.Pod.RSS = "" }, errMissingName, "pod.rss"},
		{"rss without working set", func(c *Config) { c.Container.WorkingSet = "" }, errMissingName, "container.working_set"},
		{"same working set at both levels", func(c *Config) { c.Pod.WorkingSet = c.Container.WorkingSet }, errDuplicateName, "container and pod working_set"},
		{"name used for two inputs", func(c *Config) { c.Container.Sock = c.Container.SockRcvq }, errDuplicateName, "container.sock and container.sock_rcvq"},
		{"negative bytes", func(c *Config) { c.Thresholds.MinBytes = -1 }, errInvalidThreshold, "min_bytes"},
		{"negative ratio", func(c *Config) { c.Thresholds.RSSRatio = -0.1 }, errInvalidThreshold, "rss_ratio"},
		{"min samples above window", func(c *Config) { c.Trend.MinSamples = 61 }, errInvalidTrend, "min_samples"},
		{"negative interval", func(c *Config) { c.Trend.SampleInterval = -time.Second }, errInvalidTrend, "sample_interval"},
		{"zero sigmas", func(c *Config) { c.Trend.MinSlopeSigmas = 0 }, errInvalidTrend, "min_slope_sigmas"},
		{"no resources", func(c *Config) { c.State.MaxResources = 0 }, errInvalidState, "max_resources"},
		{"stall share above 1", func(c *Config) { c.Thresholds.StallShare = 2 }, errInvalidThreshold, "thresholds.stall_share 2"},
		{"negative refault rate", func(c *Config) { c.Thresholds.RefaultRate = -1 }, errInvalidThreshold, "thresholds.refault_rate"},
		{"negative limit events", func(c *Config) { c.Thresholds.LimitEvents = -1 }, errInvalidThreshold, "thresholds.limit_events"},
		{"negative socket bytes", func(c *Config) { c.Thresholds.SockRcvqBytes = -1 }, errInvalidThreshold, "thresholds.sock_rcvq_bytes"},
		{"payload ratio below 1", func(c *Config) { c.Thresholds.SockRcvqPayloadRatio = 0.5 }, errInvalidThreshold, "thresholds.sock_rcvq_payload_ratio"},
		{"unknown detail", func(c *Config) { c.Series.Detail = "all" }, errInvalidSeries, "series.detail"},
		{"negative cause floor", func(c *Config) { c.Series.MinCauseBytes = -1 }, errInvalidSeries, "series.min_cause_bytes"},
		{"negative hold", func(c *Config) { c.Series.Hold = -time.Second }, errInvalidSeries, "series.hold"},
		{"log without budget", func(c *Config) { c.VerdictLog.PerMinute = 0 }, errInvalidLog, "verdict_log.per_minute"},
		{"same name for events and refaults", func(c *Config) { c.Container.Events = c.Container.Refaults }, errDuplicateName, "container.refaults and container.events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			require.NoError(t, cfg.Validate())
			tt.mutate(cfg)
			err := cfg.Validate()
			require.ErrorIs(t, err, tt.wantErr)
			require.ErrorContains(t, err, tt.wantMsg)
		})
	}
}

// ignoreUnexported skips the generated metric configs' bookkeeping (enabledSetByUser).
var ignoreUnexported = cmp.FilterPath(func(p cmp.Path) bool {
	sf, ok := p.Last().(cmp.StructField)
	return ok && !token.IsExported(sf.Name())
}, cmp.Ignore())
