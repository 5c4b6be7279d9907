package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestDeployConfig(t *testing.T) {
	b, processors, err := deployConfig(filepath.Join("..", "..", "deploy", "configmap.yaml"), "/tmp/root", time.Second, 18888, nil, changes{})
	require.NoError(t, err)
	require.Contains(t, processors, "memdivergence")
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal(b, &cfg))
	recv, err := section(cfg, "receivers", "cgroupmem")
	require.NoError(t, err)
	require.Equal(t, "/tmp/root", recv["root_path"])
	require.Equal(t, "1s", recv["collection_interval"])
	require.NotContains(t, recv, "k8s_metadata")
	require.Equal(t, map[string]any{"debug": map[string]any{"verbosity": "basic"}}, cfg["exporters"])
	pipe, err := section(cfg, "service", "pipelines", "metrics")
	require.NoError(t, err)
	require.Equal(t, []any{"debug"}, pipe["exporters"])
	require.Contains(t, pipe["processors"], "memdivergence", "the deployed processors stay")
	logs, err := section(cfg, "service", "telemetry", "logs")
	require.NoError(t, err)
	require.Equal(t, map[string]any{"enabled": false}, logs["sampling"])
	trend, err := section(cfg, "processors", "memdivergence", "trend")
	require.NoError(t, err)
	require.Equal(t, "1s", trend["sample_interval"], "one trend sample per scrape, so the run reaches the steady state")
}

func TestDeployConfigErrors(t *testing.T) {
	tests := []struct {
		name, configMap, wantErr string
	}{
		{name: "no config.yaml", configMap: "data: {}\n", wantErr: "no data.config.yaml"},
		{name: "no receiver", configMap: "data:\n  config.yaml: |\n    receivers: {}\n", wantErr: "no map at receivers.cgroupmem"},
		{
			name:      "environment left",
			configMap: "data:\n  config.yaml: |\n    receivers:\n      cgroupmem:\n        root_path: ${env:ROOT}\n    processors:\n      batch:\n        timeout: ${env:T}\n    service:\n      pipelines:\n        metrics: {}\n      telemetry: {}\n",
			wantErr:   "timeout: ${env:T}",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "configmap.yaml")
			require.NoError(t, os.WriteFile(p, []byte(tt.configMap), 0o644))
			_, _, err := deployConfig(p, "/r", time.Second, 1, nil, changes{})
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestDeployConfigWithout(t *testing.T) {
	configMap := filepath.Join("..", "..", "deploy", "configmap.yaml")
	all, _, err := deployConfig(configMap, "/r", time.Second, 1, nil, changes{})
	require.NoError(t, err)
	b, processors, err := deployConfig(configMap, "/r", time.Second, 1, []string{"memdivergence"}, changes{})
	require.NoError(t, err)
	require.NotContains(t, processors, "memdivergence")
	require.NotEmpty(t, processors)
	require.NotEqual(t, all, b)
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal(b, &cfg))
	pipe, err := section(cfg, "service", "pipelines", "metrics")
	require.NoError(t, err)
	require.NotContains(t, pipe["processors"], "memdivergence")

	_, _, err = deployConfig(configMap, "/r", time.Second, 1, []string{"nosuch"}, changes{})
	require.ErrorContains(t, err, `processor "nosuch" is in no pipeline`)
}

func TestDeployConfigSideBySide(t *testing.T) {
	configMap := filepath.Join("..", "..", "deploy", "configmap.yaml")
	b, processors, err := deployConfig(configMap, "/r", 10*time.Second, 1, nil,
		changes{receiverDefaults: true, otlpEndpoint: "127.0.0.1:4317"})
	require.NoError(t, err)
	require.Contains(t, processors, "memdivergence")
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal(b, &cfg))
	recv, err := section(cfg, "receivers", "cgroupmem")
	require.NoError(t, err)
	require.NotContains(t, recv, "metrics", "the receiver's own defaults: socket and dentry metrics on")
	require.Equal(t, "10s", recv["collection_interval"])
	exp, err := section(cfg, "exporters", "otlp_grpc")
	require.NoError(t, err, "the deployed exporter stays")
	require.Equal(t, "127.0.0.1:4317", exp["endpoint"])
	require.Equal(t, map[string]any{"insecure": true}, exp["tls"])
	require.NotContains(t, cfg["exporters"], "debug")
	pipe, err := section(cfg, "service", "pipelines", "metrics")
	require.NoError(t, err)
	require.Equal(t, []any{"otlp_grpc"}, pipe["exporters"])

	deployed, _, err := deployConfig(configMap, "/r", 10*time.Second, 1, nil, changes{})
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(deployed, &cfg))
	recv, err = section(cfg, "receivers", "cgroupmem")
	require.NoError(t, err)
	require.Contains(t, recv, "metrics", "without the change, the deployed metrics section stays")
}
