package deploy_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/cgroupmem/cgroupmem/internal/k8smeta"
)

// collectorPath is the ocb-built collector: $CGROUPMEM_COLLECTOR, else make build's output.
func collectorPath() string {
	if p := os.Getenv("CGROUPMEM_COLLECTOR"); p != "" {
		return p
	}
	return filepath.Join("..", "_build", "otelcol-cgroupmem")
}

func configMapCollectorConfig(t *testing.T) map[string]any {
	t.Helper()
	cm := decodeStrict[corev1.ConfigMap](t, "base/configmap.yaml")
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(cm.Data["config.yaml"]), &cfg))
	return cfg
}

func section(t *testing.T, m map[string]any, keys ...string) map[string]any {
	t.Helper()
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		require.True(t, ok, "%s is a map in %v", k, keys)
		m = next
	}
	return m
}

func cgroupmemReceiver(t *testing.T, cfg map[string]any) map[string]any {
	t.Helper()
	return section(t, cfg, "receivers", "cgroupmem")
}

func TestCollectorConfigNamesTheComponents(t *testing.T) {
	cfg := configMapCollectorConfig(t)
	assert.Equal(t, "/hostfs", cgroupmemReceiver(t, cfg)["root_path"])
	assert.Equal(t, "${env:OTLP_ENDPOINT}", section(t, cfg, "exporters", "otlp_grpc")["endpoint"])
	assert.Equal(t, "snappy", section(t, cfg, "exporters", "otlp_grpc")["compression"],
		"snappy: gzip was a fifth of the collector's CPU at 1,000 containers (README.md, performance)")
	assert.NotContains(t, section(t, cfg, "processors"), "batch",
		"no batch processor: the receiver's batches go out as they are, with less of a scrape in memory (README.md, performance)")
	pipeline := section(t, cfg, "service", "pipelines", "metrics")
	want := map[string][]any{
		"receivers":  {"cgroupmem"},
		"processors": {"memory_limiter", "memdivergence"},
		"exporters":  {"otlp_grpc"},
	}
	for kind, names := range want {
		assert.Equal(t, names, pipeline[kind], kind)
		for _, n := range names {
			assert.Contains(t, section(t, cfg, kind), n, "%s %s is configured", kind, n)
		}
	}
}

// TestK8sMetadataSectionDecodes decodes k8s_metadata as the collector would, into the
// receiver's k8smeta.Config with its defaults, rejecting unknown keys.
func TestK8sMetadataSectionDecodes(t *testing.T) {
	tests := []struct {
		name   string
		config func(t *testing.T) map[string]any
	}{
		{name: "configmap", config: configMapCollectorConfig},
		{name: "helm values", config: func(t *testing.T) map[string]any { return helmValues(t).Config }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := section(t, cgroupmemReceiver(t, tt.config(t)), "k8s_metadata")
			cfg := k8smeta.NewDefaultConfig()
			require.NoError(t, confmap.NewFromStringMap(raw).Unmarshal(&cfg))
			require.NoError(t, cfg.Validate())
			assert.True(t, cfg.Enabled)
			assert.Equal(t, k8smeta.AuthServiceAccount, cfg.AuthType)
			assert.Equal(t, "https://${env:K8S_NODE_IP}:10250", cfg.Endpoint)
			assert.False(t, cfg.TLS.InsecureSkipVerify, "the kubelet's certificate is verified")
		})
	}
}

// TestCollectorValidatesTheConfig runs the built collector's `validate` on the shipped configs.
func TestCollectorValidatesTheConfig(t *testing.T) {
	collector := collectorPath()
	bin, err := os.Stat(collector)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s not built: run `make build` (make test builds it first)", collector)
	}
	require.NoError(t, err)
	if manifest, err := os.Stat(filepath.Join("..", "builder-config.yaml")); err == nil && bin.ModTime().Before(manifest.ModTime()) {
		t.Skipf("%s is older than builder-config.yaml: run `make build`", collector)
	}
	tests := []struct {
		name   string
		config map[string]any
	}{
		{name: "configmap", config: configMapCollectorConfig(t)},
		{name: "helm values", config: withoutNulls(helmValues(t).Config).(map[string]any)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := yaml.Marshal(tt.config)
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(path, data, 0o600))

			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, collector, "validate", "--config=file:"+path)
			cmd.Env = append(os.Environ(),
				"K8S_NODE_NAME=node-a", "K8S_NODE_IP=10.0.0.7", "MY_POD_IP=10.244.0.5",
				"OTLP_ENDPOINT=otel-gateway.observability.svc.cluster.local:4317")
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s validate:\n%s", collector, out)
		})
	}
}

// withoutNulls drops the keys Helm deletes: those whose value is null.
func withoutNulls(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for k, child := range m {
		if child != nil {
			out[k] = withoutNulls(child)
		}
	}
	return out
}
