package k8smeta

import (
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.uber.org/zap"
)

// TestFetchOverTLS builds the connection of each auth_type against the test kubelet and fetches
// the pod list once.
func TestFetchOverTLS(t *testing.T) {
	k := newFakeKubelet(t, testPod("shop", "cart-7d9f", uidA, [2]string{"cart", cidA}))
	saDir := k.serviceAccountDir(testToken)
	dir := t.TempDir()
	wrongCA := writeFile(t, dir, "wrong-ca.crt", newTestCA(t).pem)
	clientCert, clientKey := k.ca.issue(t, false)
	otherCert, otherKey := newTestCA(t).issue(t, false)

	tests := []struct {
		name       string
		modify     func(*Config)
		wantErr    error
		wantReason string
	}{
		{name: "serviceAccount: token and CA from the service account", modify: func(*Config) {}},
		{name: "serviceAccount, wrong CA", modify: func(c *Config) { c.TLS.CAFile = wrongCA },
			wantReason: "kubelet certificate not trusted"},
		{name: "serviceAccount, wrong CA, verification disabled", modify: func(c *Config) {
			c.TLS.CAFile, c.TLS.InsecureSkipVerify = wrongCA, true
		}},
		{name: "none: no credentials", modify: func(c *Config) {
			c.AuthType, c.TLS.CAPem = AuthNone, configopaque.String(k.ca.pem)
		}, wantErr: ErrUnauthorized, wantReason: "HTTP 401"},
		{name: "tls: client certificate", modify: func(c *Config) {
			c.AuthType = AuthTLS
			c.TLS.CAPem, c.TLS.CertPem, c.TLS.KeyPem = configopaque.String(k.ca.pem), configopaque.String(clientCert), configopaque.String(clientKey)
		}},
		{name: "tls: client certificate of another CA", modify: func(c *Config) {
			c.AuthType = AuthTLS
			c.TLS.CAPem, c.TLS.CertPem, c.TLS.KeyPem = configopaque.String(k.ca.pem), configopaque.String(otherCert), configopaque.String(otherKey)
		}, wantReason: "TLS handshake refused"},
		{name: "kubeConfig: token", modify: func(c *Config) {
			c.AuthType, c.NodeName = AuthKubeConfig, testNode
			c.KubeConfigPath = writeFile(t, t.TempDir(), "config", kubeconfigYAML(k.url(), k.ca.pem, "token: "+testToken))
		}},
		{name: "kubeConfig: client certificate", modify: func(c *Config) {
			c.AuthType, c.NodeName = AuthKubeConfig, testNode
			c.KubeConfigPath = writeFile(t, t.TempDir(), "config", kubeconfigYAML(k.url(), k.ca.pem, fmt.Sprintf(
				"client-certificate-data: %s\n    client-key-data: %s", b64(clientCert), b64(clientKey))))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fastConfig(k.url())
			tt.modify(&cfg)
			p, err := newProvider(cfg, zap.NewNop(), testEnv(saDir))
			require.NoError(t, err)
			list, err := p.client.pods(t.Context())
			if tt.wantReason != "" {
				require.Error(t, err)
				if tt.wantErr != nil {
					require.ErrorIs(t, err, tt.wantErr)
				}
				assert.Equal(t, tt.wantReason, failureReason(err))
				return
			}
			require.NoError(t, err)
			require.Len(t, list, 1)
			assert.Equal(t, "cart-7d9f", list[0].Metadata.Name)
		})
	}
}

func TestNewConnection(t *testing.T) {
	saDir := t.TempDir()
	writeFile(t, saDir, "ca.crt", newTestCA(t).pem)
	tests := []struct {
		name        string
		modify      func(*Config)
		env         map[string]string
		saDir       string
		wantPodsURL string
		wantErr     error
	}{
		{name: "default endpoint, node from K8S_NODE_NAME", modify: func(*Config) {},
			env: map[string]string{nodeNameEnv: "node-a"}, wantPodsURL: "https://node-a:10250/pods"},
		{name: "default endpoint, node from node_name", modify: func(c *Config) { c.NodeName = "node-b" },
			env: map[string]string{nodeNameEnv: "node-a"}, wantPodsURL: "https://node-b:10250/pods"},
		{name: "default endpoint, node unknown", modify: func(*Config) {}, wantErr: ErrNodeNameUnknown},
		{name: "other variable", modify: func(c *Config) { c.Endpoint = "https://${env:K8S_NODE_IP}:10250/" },
			env: map[string]string{"K8S_NODE_IP": "10.0.0.7"}, wantPodsURL: "https://10.0.0.7:10250/pods"},
		{name: "variable unset", modify: func(c *Config) { c.Endpoint = "https://${env:K8S_NODE_IP}:10250" },
			wantErr: ErrInvalidConfig},
		{name: "plain HTTP, no TLS", modify: func(c *Config) { c.AuthType, c.Endpoint = AuthNone, "http://127.0.0.1:10255" },
			saDir: "/nonexistent", wantPodsURL: "http://127.0.0.1:10255/pods"},
		{name: "service-account CA missing", modify: func(c *Config) { c.Endpoint = "https://127.0.0.1:10250" },
			saDir: "/nonexistent", wantErr: ErrTLS},
		{name: "CA not needed when verification is off", modify: func(c *Config) {
			c.Endpoint, c.TLS.InsecureSkipVerify = "https://127.0.0.1:10250", true
		}, saDir: "/nonexistent", wantPodsURL: "https://127.0.0.1:10250/pods"},
		{name: "kubeConfig needs the node", modify: func(c *Config) { c.AuthType = AuthKubeConfig },
			wantErr: ErrNodeNameUnknown},
		{name: "kubeConfig file missing", modify: func(c *Config) { c.AuthType, c.NodeName = AuthKubeConfig, "node-a" },
			env: map[string]string{"KUBECONFIG": "/nonexistent/a:/nonexistent/b"}, wantErr: ErrKubeconfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewDefaultConfig()
			cfg.Enabled = true
			tt.modify(&cfg)
			env := testEnv(saDir)
			if tt.saDir != "" {
				env.serviceAccountDir = tt.saDir
			}
			env.getenv = func(key string) string { return tt.env[key] }
			conn, err := newConnection(t.Context(), cfg, env)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantPodsURL, conn.podsURL)
		})
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// kubeconfigYAML is a one-context kubeconfig for server, trusting ca, with the user fields given.
func kubeconfigYAML(server string, ca []byte, userFields string) []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
current-context: test
clusters:
- name: test-cluster
  cluster:
    server: %s
    certificate-authority-data: %s
contexts:
- name: test
  context:
    cluster: test-cluster
    user: test-user
users:
- name: test-user
  user:
    %s
`, server, b64(ca), userFields)
}
