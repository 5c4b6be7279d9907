package k8smeta

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
)

const twoContexts = `
current-context: dev
clusters:
- name: dev
  cluster:
    server: https://dev.example:6443
    certificate-authority: certs/ca.crt
- name: prod
  cluster:
    server: https://prod.example:6443
    certificate-authority: /etc/ca.crt
    certificate-authority-data: Q0EtREFUQQ==
    insecure-skip-tls-verify: true
    tls-server-name: kubernetes
contexts:
- name: dev
  context: {cluster: dev, user: dev-user}
- name: prod
  context: {cluster: prod, user: prod-user}
- name: cloud
  context: {cluster: prod, user: cloud-user}
- name: orphan
  context: {cluster: missing, user: dev-user}
users:
- name: dev-user
  user:
    tokenFile: token
    client-certificate: /abs/client.crt
    client-key: client.key
- name: prod-user
  user:
    token: prod-token
- name: cloud-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: gke-gcloud-auth-plugin
`

func TestParseKubeconfig(t *testing.T) {
	tests := []struct {
		name    string
		context string
		check   func(t *testing.T, got apiServerTarget)
		wantErr string
	}{
		{name: "current context, paths relative to the file", check: func(t *testing.T, got apiServerTarget) {
			assert.Equal(t, "https://dev.example:6443", got.server)
			assert.Equal(t, "/home/u/.kube/certs/ca.crt", got.tls.CAFile)
			assert.Equal(t, "/abs/client.crt", got.tls.CertFile)
			assert.Equal(t, "/home/u/.kube/client.key", got.tls.KeyFile)
			assert.Equal(t, tokenSource{file: "/home/u/.kube/token"}, got.token)
			assert.False(t, got.tls.InsecureSkipVerify)
		}},
		{name: "named context, inline data wins over the file", context: "prod", check: func(t *testing.T, got apiServerTarget) {
			assert.Equal(t, "https://prod.example:6443", got.server)
			assert.Empty(t, got.tls.CAFile)
			assert.Equal(t, configopaque.String("CA-DATA"), got.tls.CAPem)
			assert.True(t, got.tls.InsecureSkipVerify)
			assert.Equal(t, "kubernetes", got.tls.ServerName)
			assert.Equal(t, tokenSource{static: "prod-token"}, got.token)
		}},
		{name: "exec plugin", context: "cloud", wantErr: `user "cloud-user": exec plugins, auth providers and basic auth are not supported`},
		{name: "unknown context", context: "staging", wantErr: `context "staging" not found`},
		{name: "unknown cluster", context: "orphan", wantErr: `cluster "missing" of context "orphan" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseKubeconfig([]byte(twoContexts), tt.context, "/home/u/.kube")
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrKubeconfig)
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, got)
		})
	}
}

func TestParseKubeconfigMalformed(t *testing.T) {
	_, err := parseKubeconfig([]byte("clusters: {"), "", "/")
	require.ErrorIs(t, err, ErrKubeconfig)
}

func TestKubeconfigPath(t *testing.T) {
	tests := []struct {
		name       string
		configured string
		kubeconfig string
		homeErr    error
		want       string
		wantErr    bool
	}{
		{name: "configured", configured: "/etc/kubeconfig", kubeconfig: "/x", want: "/etc/kubeconfig"},
		{name: "first of KUBECONFIG", kubeconfig: ":/a/config:/b/config", want: "/a/config"},
		{name: "home", want: "/home/u/.kube/config"},
		{name: "no home", homeErr: errors.New("$HOME is not defined"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv("")
			env.getenv = func(key string) string { return map[string]string{"KUBECONFIG": tt.kubeconfig}[key] }
			env.homeDir = func() (string, error) { return "/home/u", tt.homeErr }
			got, err := kubeconfigPath(Config{KubeConfigPath: tt.configured}, env)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrKubeconfig)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
