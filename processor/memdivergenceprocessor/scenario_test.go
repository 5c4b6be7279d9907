package memdivergenceprocessor

import (
	"context"
	"flag"
	"path/filepath"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metadata"
	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metricstest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/processor-*.yaml from the receiver goldens")

const (
	workloadID  = "aaaaaaaa11111111111111111111111111111111111111111111111111111111"
	pauseID     = "bbbbbbbb22222222222222222222222222222222222222222222222222222222"
	idleID      = "cccccccc33333333333333333333333333333333333333333333333333333333"
	workloadUID = "3f0a9d1e-7c55-4b8e-9a31-2d4be2f1c0aa"
	idleUID     = "8b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
)

// want is what the scenario expects of one resource of a receiver golden.
type want struct {
	id      string // container.id, or k8s.pod.uid for a pod resource
	pod     bool
	parts   map[string]int64 // every cause (series.detail full)
	compact map[string]int64 // the causes emitted by default, when not every cause is
	flagged map[string]int64
}

// TestScenarios runs the receiver's output on the real-kernel fixtures through the
// processor with its default config. The numbers are the fixtures' (testdata/README.md).
//
// On both kernels the workload's divergence is mostly page cache: the 96 MiB file it wrote
// and read twice sits on the active list. The 100,000 temp files it created and deleted left
// ~22 MB of dentries, but neither capture can call them dentries: kernel 6.18's v1
// memory.kmem.slabinfo is empty, so on v1 they are part of other_kernel (kmem); on v2 they
// are part of slab_reclaimable, so other_slab (the golden has no eBPF dentry accountant).
// The UDP receive queue shows up on v2 only, as sock; cgroup v1 does not charge socket
// buffers to usage.
func TestScenarios(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		wants   []want
	}{
		{
			name:    "cgroup v1 hybrid, kernel 6.18",
			fixture: "v1",
			wants: []want{
				{id: workloadID, parts: map[string]int64{
					"page_cache": 100675584, "dentry_slab": 0, "other_slab": 0,
					"other_kernel": 23040000, "socket": 0, "unexplained": 118784,
				}, flagged: map[string]int64{"page_cache": 1}},
				{id: idleID, parts: map[string]int64{
					"page_cache": 0, "dentry_slab": 0, "other_slab": 0,
					"other_kernel": 69632, "socket": 0, "unexplained": 77824,
				}, compact: map[string]int64{}, flagged: map[string]int64{"unexplained": 0}},
				{id: pauseID, flagged: map[string]int64{"unexplained": 0}},
				{id: workloadUID, pod: true, parts: map[string]int64{
					"page_cache": 100675584, "dentry_slab": 0, "other_slab": 0,
					"other_kernel": 23130112, "socket": 0, "unexplained": 696320,
				}, flagged: map[string]int64{"page_cache": 1}},
				{id: idleUID, pod: true, flagged: map[string]int64{"unexplained": 0}},
			},
		},
		{
			name:    "cgroup v2, kernel 6.18",
			fixture: "v2",
			wants: []want{
				{id: workloadID, parts: map[string]int64{
					"page_cache": 101003264, "dentry_slab": 0, "other_slab": 22917624,
					"other_kernel": 224776, "socket": 1716224, "unexplained": 94208,
				}, flagged: map[string]int64{"page_cache": 1}},
				{id: idleID, parts: map[string]int64{
					"page_cache": 0, "dentry_slab": 0, "other_slab": 9120,
					"other_kernel": 60512, "socket": 0, "unexplained": 65536,
				}, compact: map[string]int64{}, flagged: map[string]int64{"unexplained": 0}},
				{id: pauseID, flagged: map[string]int64{"other_kernel": 0}},
				{id: workloadUID, pod: true, parts: map[string]int64{
					// The pod level has no sock input, so the workload's 1.7 MB of socket
					// buffers are in unexplained here.
					"page_cache": 101003264, "dentry_slab": 0, "other_slab": 0,
					"other_kernel": 23289856, "socket": 0, "unexplained": 2314240,
				}, flagged: map[string]int64{"page_cache": 1}},
				{id: idleUID, pod: true, flagged: map[string]int64{"unexplained": 0}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := golden.ReadMetrics(filepath.Join("..", "..", "testdata", "golden", "receiver-"+tt.fixture+".yaml"))
			require.NoError(t, err, "receiver golden missing: run the receiver's golden test with -update")
			for _, detail := range []string{detailCompact, detailFull} {
				cfg := createDefaultConfig().(*Config)
				cfg.Series.Detail = detail
				p, sink := newTestProcessor(t, cfg)
				md := pmetric.NewMetrics()
				in.CopyTo(md)
				require.NoError(t, p.ConsumeMetrics(context.Background(), md))
				require.Len(t, sink.AllMetrics(), 1)
				out := sink.AllMetrics()[0]
				for _, w := range tt.wants {
					if detail == detailCompact && w.compact != nil {
						w.parts = w.compact
					}
					checkResource(t, out, w)
				}
				if detail == detailCompact {
					checkGolden(t, out, filepath.Join("..", "..", "testdata", "golden", "processor-"+tt.fixture+".yaml"))
				}
			}
		})
	}
}

func checkResource(t *testing.T, md pmetric.Metrics, w want) {
	t.Helper()
	key, prefix := "container.id", "container.memory."
	if w.pod {
		key, prefix = "k8s.pod.uid", "k8s.pod.memory."
	}
	rm, ok := findResource(md, key, w.id, prefix+"working_set")
	require.True(t, ok, "no resource with %s=%s", key, w.id)
	if w.parts != nil {
		got := map[string]int64{}
		if div, ok := metricstest.Find(rm, prefix+"divergence.usage"); ok {
			got = metricstest.IntsByAttribute(div, "memdivergence.cause")
		}
		assert.Equal(t, w.parts, got, "%s: divergence by cause", w.id)
	}
	flag, ok := metricstest.Find(rm, prefix+"divergence.flagged")
	require.True(t, ok, "%s: no flag", w.id)
	assert.Equal(t, w.flagged, metricstest.IntsByAttribute(flag, "memdivergence.cause"), "%s: flag", w.id)
	// One scrape: no pressure rate is known yet.
	for _, class := range metricstest.StringsByAttribute(flag, "memdivergence.classification") {
		assert.Equal(t, "unknown", class, "%s: classification", w.id)
	}
}

// findResource returns the resource whose attribute key is value and that carries the
// level's working set (a container resource also carries k8s.pod.uid).
func findResource(md pmetric.Metrics, key, value, wsName string) (pmetric.ResourceMetrics, bool) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		v, ok := rms.At(i).Resource().Attributes().Get(key)
		if _, hasWS := metricstest.Find(rms.At(i), wsName); ok && hasWS && v.AsString() == value {
			return rms.At(i), true
		}
	}
	return pmetric.ResourceMetrics{}, false
}

// checkGolden compares the processor's own scopes (resources keep their attributes; the
// receiver's metrics are left out so that receiver-only changes do not touch this golden).
func checkGolden(t *testing.T, md pmetric.Metrics, path string) {
	t.Helper()
	own := ownScopes(md)
	if *update {
		require.NoError(t, golden.WriteMetrics(t, path, own))
	}
	want, err := golden.ReadMetrics(path)
	require.NoError(t, err, "run go test -run TestScenarios -update to write %s", path)
	require.NoError(t, pmetrictest.CompareMetrics(want, own,
		pmetrictest.IgnoreTimestamp(), pmetrictest.IgnoreStartTimestamp(),
		pmetrictest.IgnoreResourceMetricsOrder(), pmetrictest.IgnoreMetricDataPointsOrder()))
}

// ownScopes copies the resources that got a scope from this processor, with that scope only.
func ownScopes(md pmetric.Metrics) pmetric.Metrics {
	out := pmetric.NewMetrics()
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			if sms.At(j).Scope().Name() != metadata.ScopeName {
				continue
			}
			rm := out.ResourceMetrics().AppendEmpty()
			rms.At(i).Resource().CopyTo(rm.Resource())
			sms.At(j).CopyTo(rm.ScopeMetrics().AppendEmpty())
		}
	}
	return out
}
