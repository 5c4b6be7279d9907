package k8smeta

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

func TestInclude(t *testing.T) {
	filterCfg := FilterConfig{
		Include: NamePatterns{Namespaces: []string{"^prod-", "^shop$"}},
		Exclude: NamePatterns{Pods: []string{"^canary-"}, Containers: []string{"^istio-proxy$"}},
	}
	tests := []struct {
		name                      string
		sandbox                   string
		namespace, pod, container string
		want                      bool
	}{
		{name: "included namespace", namespace: "prod-eu", pod: "api-1", container: "api", want: true},
		{name: "exact include", namespace: "shop", pod: "cart-1", container: "cart", want: true},
		{name: "namespace not included", namespace: "dev", pod: "api-1", container: "api", want: false},
		{name: "include is unanchored unless anchored", namespace: "shopping", pod: "a", container: "a", want: false},
		{name: "excluded pod", namespace: "shop", pod: "canary-cart", container: "cart", want: false},
		{name: "excluded container", namespace: "shop", pod: "cart-1", container: "istio-proxy", want: false},
		{name: "unknown names pass", want: true},
		{name: "unknown namespace passes the include", pod: "cart-1", container: "cart", want: true},
		{name: "unknown container of a known pod", namespace: "shop", pod: "cart-1", want: true},
		{name: "sandbox labelled", sandbox: SandboxLabel, namespace: "shop", pod: "cart-1", container: SandboxContainerName, want: true},
		{name: "sandbox skipped", sandbox: SandboxSkip, namespace: "shop", pod: "cart-1", container: SandboxContainerName, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewDefaultConfig()
			cfg.Enabled = true
			cfg.AuthType, cfg.Endpoint = AuthNone, "http://127.0.0.1:10255"
			cfg.Filter = filterCfg
			if tt.sandbox != "" {
				cfg.SandboxContainers = tt.sandbox
			}
			p, err := newProvider(cfg, zap.NewNop(), testEnv(""))
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.Include(tt.namespace, tt.pod, tt.container))
		})
	}
}

func TestIncludeWithoutFilters(t *testing.T) {
	f, err := compileFilter(FilterConfig{})
	require.NoError(t, err)
	assert.True(t, f.allows("kube-system", "coredns-1", "coredns"))
}
