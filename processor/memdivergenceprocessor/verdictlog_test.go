package memdivergenceprocessor

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func observedProcessor(t *testing.T, cfg *Config) (*divergenceProcessor, *observer.ObservedLogs, *time.Time) {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	set := settingsForTest()
	set.Logger = zap.New(core)
	p := newDivergenceProcessor(cfg, set)
	clock := t0
	p.now = func() time.Time { return clock }
	return p, logs, &clock
}

// TestVerdictLog: one line when the v1 workload becomes flagged (after the first scrape,
// whose pressure rates are not known yet), none while nothing changes, one when its
// classification changes, and names from the resource attributes.
func TestVerdictLog(t *testing.T) {
	p, logs, clock := observedProcessor(t, createDefaultConfig().(*Config))
	base := goldenResource(t, "v1", "container.id", workloadID)
	attrs := base.ResourceMetrics().At(0).Resource().Attributes()
	attrs.PutStr("k8s.namespace.name", "checkout")
	attrs.PutStr("k8s.container.name", "php-fpm")
	attrs.PutStr("k8s.pod.name", "checkout-7d9f\x1b[31m")
	send := func(i int, sig signals) {
		*clock = t0.Add(time.Duration(i) * 10 * time.Second)
		md := scrapeOf(base, *clock, float64(i)*10, "container.", sig, nil)
		_, err := p.processMetrics(context.Background(), md)
		require.NoError(t, err)
	}
	send(0, signals{})
	assert.Zero(t, logs.Len(), "no verdict before the rates are known")
	send(1, signals{})
	send(2, signals{})
	require.Equal(t, 1, logs.Len())
	line := logs.All()[0]
	assert.Equal(t, zapcore.InfoLevel, line.Level)
	assert.Equal(t, "container checkout/php-fpm (pod checkout-7d9f[31m): working set 191 MiB is 118 MiB above RSS; "+
		"page_cache 96 MiB; reclaimable (PSI some 0.0 %, refaults 0 pages/s)", line.Message)
	assert.Equal(t, "reclaimable", line.ContextMap()["memdivergence.classification"])

	// Refaults start: the classification changes, one more line; then quiet again.
	for i := 3; i < 6; i++ {
		send(i, signals{refaultFile: 20000})
	}
	require.Equal(t, 2, logs.Len())
	assert.Contains(t, logs.All()[1].Message, "; pressing (refaults ")
}

// TestVerdictLogBounded: 50 containers flagged at once with per_minute 5 log 5 lines; a
// minute later the next line says how many were suppressed. A hostile name is cut.
func TestVerdictLogBounded(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.VerdictLog.PerMinute = 5
	p, logs, clock := observedProcessor(t, cfg)
	batch := func(ids int, round int) pmetric.Metrics {
		md := pmetric.NewMetrics()
		for i := range ids {
			addResource(md, map[string]string{
				"container.id":       fmt.Sprintf("%064x", i),
				"k8s.container.name": strings.Repeat("x", 10000),
			}, clock.Add(time.Duration(round)*time.Second), map[string]int64{
				"container.memory.working_set": 2 * gib, "container.memory.rss": 100 << 20,
				"container.memory.kmem": 2*gib - 100<<20,
			})
		}
		return md
	}
	_, err := p.processMetrics(context.Background(), batch(50, 0))
	require.NoError(t, err)
	require.Equal(t, 5, logs.Len())
	for _, l := range logs.All() {
		assert.Less(t, len(l.Message), 400, "a line is bounded")
		assert.Contains(t, l.Message, "container "+strings.Repeat("x", maxNameRunes)+"…:")
	}
	// A minute later one more container becomes flagged: its line carries the count of the
	// 45 lines that were not written.
	*clock = clock.Add(time.Minute)
	_, err = p.processMetrics(context.Background(), batch(51, 60))
	require.NoError(t, err)
	require.Equal(t, 6, logs.Len())
	assert.Equal(t, int64(45), logs.All()[5].ContextMap()["suppressed_verdicts"])
}

func TestSubjectFallsBackToIDs(t *testing.T) {
	md := pmetric.NewMetrics()
	rm := addResource(md, map[string]string{"container.id": workloadID, "k8s.pod.uid": workloadUID}, t0, nil)
	assert.Equal(t, "container aaaaaaaa1111 (pod "+workloadUID+")", subject(levelContainer, rm.Resource()))
	assert.Equal(t, "pod "+workloadUID, subject(levelPod, rm.Resource()))
}
