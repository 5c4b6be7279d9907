package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

import "fmt"

// validate checks one level's names: working_set and rss go together (both empty turns the
// level off), and no name is read for two inputs.
func (n InputNames) validate(level string) error {
	if n.WorkingSet == "" && n.RSS == "" {
		return nil
	}
	if n.WorkingSet == "" {
		return fmt.Errorf("%w: %s.working_set (needed with %s.rss)", errMissingName, level, level)
	}
	if n.RSS == "" {
		return fmt.Errorf("%w: %s.rss (needed with %s.working_set)", errMissingName, level, level)
	}
	seen := make(map[string]string)
	for _, f := range n.fields() {
		if f.name == "" {
			continue
		}
		if prev, ok := seen[f.name]; ok {
			return fmt.Errorf("%w: %s.%s and %s.%s are both %q", errDuplicateName, level, prev, level, f.key, f.name)
		}
		seen[f.name] = f.key
	}
	return nil
}

func (t Thresholds) validate() error {
	switch {
	case t.MinBytes < 0:
		return fmt.Errorf("%w: thresholds.min_bytes %d is negative", errInvalidThreshold, t.MinBytes)
	case t.RSSRatio < 0:
		return fmt.Errorf("%w: thresholds.rss_ratio %g is negative (0 turns it off)", errInvalidThreshold, t.RSSRatio)
	case t.LimitShare < 0 || t.LimitShare > 1:
		return fmt.Errorf("%w: thresholds.limit_share %g is outside [0, 1] (0 turns it off)", errInvalidThreshold, t.LimitShare)
	case t.StallShare < 0 || t.StallShare > 1:
		return fmt.Errorf("%w: thresholds.stall_share %g is outside [0, 1] (0 turns it off)", errInvalidThreshold, t.StallShare)
	case t.RefaultRate < 0:
		return fmt.Errorf("%w: thresholds.refault_rate %g is negative (0 turns it off)", errInvalidThreshold, t.RefaultRate)
	case t.LimitEvents < 0:
		return fmt.Errorf("%w: thresholds.limit_events %d is negative (0 turns it off)", errInvalidThreshold, t.LimitEvents)
	case t.SockRcvqBytes < 0:
		return fmt.Errorf("%w: thresholds.sock_rcvq_bytes %d is negative (0 turns the socket rule off)", errInvalidThreshold, t.SockRcvqBytes)
	case t.SockRcvqPayloadRatio < 1 && t.SockRcvqPayloadRatio != 0:
		return fmt.Errorf("%w: thresholds.sock_rcvq_payload_ratio %g is below 1 (0 turns the socket rule off)", errInvalidThreshold, t.SockRcvqPayloadRatio)
	}
	return nil
}

func (s SeriesConfig) validate() error {
	switch {
	case s.Detail != detailCompact && s.Detail != detailFull:
		return fmt.Errorf("%w: series.detail %q (want compact or full)", errInvalidSeries, s.Detail)
	case s.MinCauseBytes < 0:
		return fmt.Errorf("%w: series.min_cause_bytes %d is negative", errInvalidSeries, s.MinCauseBytes)
	case s.Hold < 0:
		return fmt.Errorf("%w: series.hold %s is negative", errInvalidSeries, s.Hold)
	}
	return nil
}

func (l LogConfig) validate() error {
	if l.Enabled && l.PerMinute <= 0 {
		return fmt.Errorf("%w: verdict_log.per_minute %d must be above 0 when verdict_log.enabled", errInvalidLog, l.PerMinute)
	}
	return nil
}

func (t TrendConfig) validate() error {
	switch {
	case t.Window < minTrendSamples:
		return fmt.Errorf("%w: trend.window %d is below %d", errInvalidTrend, t.Window, minTrendSamples)
	case t.MinSamples < minTrendSamples || t.MinSamples > t.Window:
		return fmt.Errorf("%w: trend.min_samples %d is outside [%d, window=%d]", errInvalidTrend, t.MinSamples, minTrendSamples, t.Window)
	case t.SampleInterval < 0:
		return fmt.Errorf("%w: trend.sample_interval %s is negative", errInvalidTrend, t.SampleInterval)
	case t.MinSlopeSigmas <= 0:
		return fmt.Errorf("%w: trend.min_slope_sigmas %g must be above 0", errInvalidTrend, t.MinSlopeSigmas)
	case t.ETAHorizon < 0:
		return fmt.Errorf("%w: trend.eta_horizon %s is negative (0: no horizon)", errInvalidTrend, t.ETAHorizon)
	}
	return nil
}

func (s StateConfig) validate() error {
	switch {
	case s.TTL <= 0:
		return fmt.Errorf("%w: state.ttl %s must be above 0", errInvalidState, s.TTL)
	case s.MaxResources <= 0:
		return fmt.Errorf("%w: state.max_resources %d must be above 0", errInvalidState, s.MaxResources)
	}
	return nil
}
