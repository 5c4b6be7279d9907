package cgroupmemreceiver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// namedComponents are the metadata.yaml files whose metrics end up on the same resources:
// the receiver's, and the memdivergence processor's, which appends its own.
var namedComponents = []string{
	"metadata.yaml",
	filepath.Join("..", "..", "processor", "memdivergenceprocessor", "metadata.yaml"),
}

type namesMetadata struct {
	Attributes map[string]struct {
		NameOverride string `yaml:"name_override"`
	} `yaml:"attributes"`
	Metrics map[string]any `yaml:"metrics"`
}

// TestMetricNamesFollowTheNamingRules checks the semantic conventions' naming rules the
// README's renamed-metrics table follows, across the receiver and the processor: no metric
// name is also the namespace of another metric (container.memory.slab beside
// container.memory.slab.dentry was one), and every data point attribute has a namespaced
// name (container.memory.slab.state, not state).
func TestMetricNamesFollowTheNamingRules(t *testing.T) {
	var metrics []string
	for _, path := range namedComponents {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		var md namesMetadata
		require.NoError(t, yaml.Unmarshal(b, &md), path)
		require.NotEmpty(t, md.Metrics, path)
		for name := range md.Metrics {
			metrics = append(metrics, name)
		}
		for key, a := range md.Attributes {
			name := key
			if a.NameOverride != "" {
				name = a.NameOverride
			}
			require.Contains(t, name, ".", "%s: attribute %s is not namespaced", path, key)
		}
	}
	checkNotNamespaces(t, metrics)
}

func checkNotNamespaces(t require.TestingT, metrics []string) {
	for _, a := range metrics {
		for _, b := range metrics {
			require.False(t, strings.HasPrefix(b, a+"."), "metric %s is also the namespace of %s", a, b)
		}
	}
}

// TestCheckNotNamespacesFails shows that the check catches the old names.
func TestCheckNotNamespacesFails(t *testing.T) {
	ft := &failRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		checkNotNamespaces(ft, []string{"container.memory.slab", "container.memory.slab.dentry"})
	}()
	require.True(t, ft.failed, "container.memory.slab beside container.memory.slab.dentry must fail")
}

// failRecorder records a failure instead of ending the test; FailNow panics to stop the
// check, as testing.T's Goexit would.
type failRecorder struct {
	testing.TB
	failed bool
}

func (f *failRecorder) Helper()               {}
func (f *failRecorder) Errorf(string, ...any) { f.failed = true }
func (f *failRecorder) FailNow()              { f.failed = true; panic("failnow") }
func (f *failRecorder) Fatalf(string, ...any) { f.FailNow() }
