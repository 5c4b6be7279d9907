package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// deployConfig is the DaemonSet's collector config, the config.yaml of deploy/configmap.yaml,
// made to run on this host: root_path is the bench tree and collection_interval the
// harness's; there is no kubelet here, so k8s_metadata goes; the debug exporter at basic
// verbosity replaces the exporters; the logs are JSON and unsampled, so the harness sees every
// export (the default sampling drops the 11th line of a message in each 10 s); and the
// self-telemetry is served on 127.0.0.1:metricsPort. The processors named in without leave
// the pipelines; receiver settings and the other processors stay as deployed, unless ch
// says otherwise (see changes). It returns the config and the processors of the metrics
// pipeline, in order.
func deployConfig(configMap, root string, interval time.Duration, metricsPort int, without []string, ch changes) ([]byte, []string, error) {
	b, err := os.ReadFile(configMap)
	if err != nil {
		return nil, nil, err
	}
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(b, &cm); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", configMap, err)
	}
	raw, ok := cm.Data["config.yaml"]
	if !ok {
		return nil, nil, fmt.Errorf("%s: no data.config.yaml", configMap)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(raw), &cfg); err != nil {
		return nil, nil, fmt.Errorf("%s: config.yaml: %w", configMap, err)
	}
	processors, err := override(cfg, root, interval, metricsPort, without, ch)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: config.yaml: %w", configMap, err)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, nil, err
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "${env:") {
			return nil, nil, fmt.Errorf("%s: config.yaml still refers to the environment after the harness's changes: %q", configMap, strings.TrimSpace(line))
		}
	}
	return out, processors, nil
}

// changes are what the side-by-side run with cAdvisor changes beyond the rest.
type changes struct {
	// receiverDefaults drops the deployed receiver's metrics section: every metric as the
	// receiver enables it by default (socket receive-queue and slab dentry metrics on).
	receiverDefaults bool
	// otlpEndpoint, when set, keeps the deployed exporters, pointed at this plaintext
	// loopback endpoint, instead of the debug exporter.
	otlpEndpoint string
}

func override(cfg map[string]any, root string, interval time.Duration, metricsPort int, without []string, ch changes) ([]string, error) {
	recv, err := section(cfg, "receivers", "cgroupmem")
	if err != nil {
		return nil, err
	}
	recv["root_path"] = root
	recv["collection_interval"] = interval.String()
	delete(recv, "k8s_metadata")
	if ch.receiverDefaults {
		delete(recv, "metrics")
	}

	compressTrend(cfg, interval)

	exporters := []any{"debug"}
	if ch.otlpEndpoint == "" {
		cfg["exporters"] = map[string]any{"debug": map[string]any{"verbosity": "basic"}}
	} else {
		exps, _ := cfg["exporters"].(map[string]any)
		if len(exps) == 0 {
			return nil, errors.New("no exporters to point at the harness's OTLP endpoint")
		}
		exporters = nil
		for name, e := range exps {
			em, ok := e.(map[string]any)
			if !ok || !strings.HasPrefix(name, "otlp") {
				return nil, fmt.Errorf("exporters.%s: only OTLP exporters can be pointed at the harness", name)
			}
			em["endpoint"] = ch.otlpEndpoint
			em["tls"] = map[string]any{"insecure": true}
			exporters = append(exporters, name)
		}
		slices.SortFunc(exporters, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
	}
	pipelines, err := section(cfg, "service", "pipelines")
	if err != nil {
		return nil, err
	}
	removed := map[string]bool{}
	var metricsProcessors []string
	for name, p := range pipelines {
		pm, ok := p.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("service.pipelines.%s is not a map", name)
		}
		pm["exporters"] = exporters
		procs, _ := pm["processors"].([]any)
		var kept []any
		for _, p := range procs {
			if slices.Contains(without, fmt.Sprint(p)) {
				removed[fmt.Sprint(p)] = true
				continue
			}
			kept = append(kept, p)
			if name == "metrics" {
				metricsProcessors = append(metricsProcessors, fmt.Sprint(p))
			}
		}
		pm["processors"] = kept
	}
	for _, w := range without {
		if !removed[w] {
			return nil, fmt.Errorf("processor %q is in no pipeline", w)
		}
	}
	tel, err := section(cfg, "service", "telemetry")
	if err != nil {
		return nil, err
	}
	tel["logs"] = map[string]any{"level": "info", "encoding": "json", "sampling": map[string]any{"enabled": false}}
	metrics, _ := tel["metrics"].(map[string]any)
	if metrics == nil {
		metrics = map[string]any{}
		tel["metrics"] = metrics
	}
	metrics["readers"] = []any{map[string]any{"pull": map[string]any{"exporter": map[string]any{
		"prometheus": map[string]any{"host": "127.0.0.1", "port": metricsPort}}}}}
	return metricsProcessors, nil
}

// compressTrend scales the memdivergence processor's clock to the harness's: its trend keeps
// one sample per trend.sample_interval (a minute by default) and emits the growth metrics only
// once it holds trend.min_samples, so a run of a few dozen scrapes would never reach the
// steady state a node reaches after ten minutes. With the sample interval set to the
// collection interval, every scrape is a trend sample: the growth metrics are emitted from
// the min_samples-th scrape on and the windows fill, as on a node that has run for an hour.
// A config without the processor is left as it is.
func compressTrend(cfg map[string]any, interval time.Duration) {
	procs, _ := cfg["processors"].(map[string]any)
	if _, ok := procs["memdivergence"]; !ok {
		return
	}
	p, _ := procs["memdivergence"].(map[string]any)
	if p == nil {
		p = map[string]any{}
		procs["memdivergence"] = p
	}
	trend, _ := p["trend"].(map[string]any)
	if trend == nil {
		trend = map[string]any{}
		p["trend"] = trend
	}
	trend["sample_interval"] = interval.String()
}

// section returns the map at path in cfg.
func section(cfg map[string]any, path ...string) (map[string]any, error) {
	m := cfg
	for i, k := range path {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil, errors.New("no map at " + strings.Join(path[:i+1], "."))
		}
		m = next
	}
	return m, nil
}
