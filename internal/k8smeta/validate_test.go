package k8smeta

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		modify  func(*Config)
		wantErr []string // substrings; nil means valid
	}{
		{name: "defaults", modify: func(*Config) {}},
		{name: "defaults enabled", modify: func(c *Config) { c.Enabled = true }},
		{name: "read-only port without auth", modify: func(c *Config) {
			c.Endpoint, c.AuthType = "http://10.0.0.1:10255", AuthNone
		}},
		{name: "kubeConfig ignores endpoint", modify: func(c *Config) {
			c.AuthType, c.Endpoint = AuthKubeConfig, ""
		}},
		{name: "tls with client certificate", modify: func(c *Config) {
			c.AuthType, c.TLS.CertFile, c.TLS.KeyFile = AuthTLS, "/c.pem", "/k.pem"
		}},
		{name: "filters", modify: func(c *Config) {
			c.Enabled = true
			c.Filter.Include.Namespaces = []string{"^prod-"}
			c.Filter.Exclude.Containers = []string{"^istio-proxy$"}
		}},
		{name: "unknown auth type", modify: func(c *Config) { c.AuthType = "serviceaccount" },
			wantErr: []string{`auth_type must be serviceAccount, tls, kubeConfig or none, got "serviceaccount"`}},
		{name: "endpoint without scheme", modify: func(c *Config) { c.Endpoint = "node-a:10250" },
			wantErr: []string{`endpoint "node-a:10250": must be an http:// or https:// URL with a host`}},
		{name: "endpoint without host", modify: func(c *Config) { c.Endpoint = "https://:10250" },
			wantErr: []string{"must be an http:// or https:// URL with a host"}},
		{name: "token over plain HTTP", modify: func(c *Config) { c.Endpoint = "http://node-a:10255" },
			wantErr: []string{"auth_type serviceAccount needs https"}},
		{name: "tls without certificate", modify: func(c *Config) { c.AuthType = AuthTLS },
			wantErr: []string{"auth_type tls needs tls.cert_file and tls.key_file"}},
		{name: "tls.insecure", modify: func(c *Config) { c.TLS.Insecure = true },
			wantErr: []string{"tls.insecure is not used"}},
		{name: "intervals", modify: func(c *Config) { c.RefreshInterval, c.MaxBackoff, c.Timeout = 0, -time.Second, 0 },
			wantErr: []string{"refresh_interval must be positive", "max_backoff (-1s) must be at least", "timeout must be positive"}},
		{name: "sandbox mode", modify: func(c *Config) { c.SandboxContainers = "drop" },
			wantErr: []string{`sandbox_containers must be label or skip, got "drop"`}},
		{name: "bad regexp", modify: func(c *Config) { c.Enabled = true; c.Filter.Exclude.Pods = []string{"["} },
			wantErr: []string{"filter: exclude.pods: error parsing regexp"}},
		{name: "filter while disabled", modify: func(c *Config) { c.Filter.Include.Namespaces = []string{"prod"} },
			wantErr: []string{"filter needs the names from the kubelet: set enabled: true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewDefaultConfig()
			tt.modify(&cfg)
			err := cfg.Validate()
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidConfig)
			for _, want := range tt.wantErr {
				assert.ErrorContains(t, err, want)
			}
		})
	}
}
