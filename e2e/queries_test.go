package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// query is a PromQL expression of a dashboard panel or an alert rule.
type query struct {
	source string // "dashboards/x.json: panel title [refId]" or "alerts/x.yaml: alert name"
	expr   string // with the dashboard variables substituted
}

// variableValues are what the dashboard variables take in the checks: All, which the
// dashboards' matchers write as .* (a label the series lack matches it too).
var variableValues = strings.NewReplacer(
	"${cluster}", ".*", "$cluster", ".*",
	"${namespace}", ".*", "$namespace", ".*",
	"${pod}", ".*", "$pod", ".*",
	"${container}", ".*", "$container", ".*",
	"$__rate_interval", "1m", "$__interval", "15s", "$__range", "5m",
)

// dashboardAndAlertQueries reads every expression of deploy/dashboards/*.json and
// deploy/alerts/*.yaml.
func dashboardAndAlertQueries(t *testing.T) []query {
	t.Helper()
	var out []query
	dashboards, err := filepath.Glob("../deploy/dashboards/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, dashboards, "deploy/dashboards/*.json")
	for _, f := range dashboards {
		var d dashboard
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &d), f)
		for _, p := range d.allPanels() {
			for _, tg := range p.Targets {
				if tg.Expr == "" {
					continue
				}
				out = append(out, query{
					source: fmt.Sprintf("dashboards/%s: %s [%s]", filepath.Base(f), p.Title, tg.RefID),
					expr:   variableValues.Replace(tg.Expr),
				})
			}
		}
	}
	for _, f := range alertFiles(t) {
		rules := readRules(t, f)
		for _, r := range rules {
			out = append(out, query{source: fmt.Sprintf("alerts/%s: %s", filepath.Base(f), r.Alert+r.Record), expr: r.Expr})
		}
	}
	return out
}

// dashboard is the part of a Grafana dashboard's JSON the checks read.
type dashboard struct {
	Panels []panel `json:"panels"`
}

type panel struct {
	Title   string   `json:"title"`
	Type    string   `json:"type"`
	Panels  []panel  `json:"panels"` // a collapsed row's
	Targets []target `json:"targets"`
}

type target struct {
	Expr  string `json:"expr"`
	RefID string `json:"refId"`
}

func (d dashboard) allPanels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// rule is an alerting or recording rule of a PrometheusRule.
type rule struct {
	Alert       string            `yaml:"alert,omitempty"`
	Record      string            `yaml:"record,omitempty"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

func alertFiles(t *testing.T) []string {
	t.Helper()
	alerts, err := filepath.Glob("../deploy/alerts/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, alerts, "deploy/alerts/*.yaml")
	return alerts
}

type ruleGroup struct {
	Name  string `yaml:"name"`
	Rules []rule `yaml:"rules"`
}

func readGroups(t *testing.T, path string) []ruleGroup {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var pr struct {
		Kind string `yaml:"kind"`
		Spec struct {
			Groups []ruleGroup `yaml:"groups"`
		} `yaml:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(b, &pr), path)
	require.Equal(t, "PrometheusRule", pr.Kind, path)
	return pr.Spec.Groups
}

func readRules(t *testing.T, path string) []rule {
	t.Helper()
	var out []rule
	for _, g := range readGroups(t, path) {
		out = append(out, g.Rules...)
	}
	return out
}

// writeRuleGroups writes a PrometheusRule's groups as a Prometheus rule file (what the
// Prometheus operator hands Prometheus), for promtool check rules.
func writeRuleGroups(t *testing.T, path, out string) {
	t.Helper()
	b, err := yaml.Marshal(map[string]any{"groups": readGroups(t, path)})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(out, b, 0o644))
}
