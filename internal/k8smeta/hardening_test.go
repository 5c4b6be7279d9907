package k8smeta

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

const msgInsecure = "TLS verification of the kubelet is off"

// TestRedirectNotFollowed serves /pods with a redirect, to the same host (https) and to a
// plain-http server on the same address family: the client must follow neither, so that the
// bearer token never reaches the redirect's target, and must say why it failed.
func TestRedirectNotFollowed(t *testing.T) {
	var stolen atomic.Int64
	var sawAuth atomic.Bool
	catch := func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		if r.Header.Get("Authorization") != "" {
			sawAuth.Store(true)
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"kind":"PodList","items":[]}`))
	}
	plain := httptest.NewServer(http.HandlerFunc(catch))
	t.Cleanup(plain.Close)

	for _, tt := range []struct {
		name   string
		code   int
		target func(srv *httptest.Server) string
	}{
		{name: "same host", code: http.StatusFound, target: func(srv *httptest.Server) string { return srv.URL + "/elsewhere" }},
		{name: "https to http", code: http.StatusTemporaryRedirect, target: func(*httptest.Server) string { return plain.URL + "/pods" }},
		{name: "permanent", code: http.StatusPermanentRedirect, target: func(srv *httptest.Server) string { return srv.URL + "/elsewhere" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stolen.Store(0)
			var srv *httptest.Server
			srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/elsewhere" {
					catch(w, r)
					return
				}
				http.Redirect(w, r, tt.target(srv), tt.code)
			}))
			t.Cleanup(srv.Close)
			saDir := t.TempDir()
			writeFile(t, saDir, "ca.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
			writeFile(t, saDir, "token", []byte(testToken))

			p, err := newProvider(fastConfig(srv.URL), zap.NewNop(), testEnv(saDir))
			require.NoError(t, err)
			_, err = p.client.pods(t.Context())
			require.ErrorIs(t, err, ErrRedirect)
			assert.Contains(t, err.Error(), tt.target(srv), "the error names where it pointed")
			assert.Zero(t, stolen.Load(), "the redirect's target was not requested")
			assert.False(t, sawAuth.Load(), "the token went nowhere else")
		})
	}
}

// TestWarnsWhenTLSUnverified checks the one warning when the kubelet's certificate is not
// verified, from the configuration or from the kubeconfig, and none otherwise.
func TestWarnsWhenTLSUnverified(t *testing.T) {
	k := newFakeKubelet(t)
	saDir := k.serviceAccountDir(testToken)
	insecureKubeconfig := []byte(`apiVersion: v1
kind: Config
current-context: test
clusters:
- name: c
  cluster:
    server: ` + k.url() + `
    insecure-skip-tls-verify: true
contexts:
- name: test
  context: {cluster: c, user: u}
users:
- name: u
  user:
    token: ` + testToken + `
`)
	tests := []struct {
		name   string
		modify func(*Config)
		want   int
	}{
		{name: "verified", modify: func(*Config) {}, want: 0},
		{name: "insecure_skip_verify", modify: func(c *Config) { c.TLS.InsecureSkipVerify = true }, want: 1},
		{name: "kubeconfig insecure-skip-tls-verify", modify: func(c *Config) {
			c.AuthType, c.NodeName = AuthKubeConfig, testNode
			c.KubeConfigPath = writeFile(t, t.TempDir(), "config", insecureKubeconfig)
		}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fastConfig(k.url())
			tt.modify(&cfg)
			core, logs := observer.New(zap.InfoLevel)
			p, err := newProvider(cfg, zap.New(core), testEnv(saDir))
			require.NoError(t, err)
			for range 3 {
				_, err = p.client.pods(t.Context())
				require.NoError(t, err, "the fetch itself works")
			}
			assert.Equal(t, tt.want, countLogs(logs, msgInsecure), "warned once, not per fetch")
		})
	}
}

// TestRefusesTokenOverHTTP checks that no bearer token leaves over plain http: a kubeconfig
// pointing at an http server with a token fails at start, and a request that would carry one
// is not sent.
func TestRefusesTokenOverHTTP(t *testing.T) {
	var requests atomic.Int64
	var sawAuth atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		sawAuth.Store(sawAuth.Load() || r.Header.Get("Authorization") != "")
		_, _ = w.Write([]byte(`{"kind":"PodList","items":[]}`))
	}))
	t.Cleanup(srv.Close)

	for _, user := range []string{"token: " + testToken, "tokenFile: " + writeFile(t, t.TempDir(), "token", []byte(testToken))} {
		cfg := fastConfig(srv.URL)
		cfg.AuthType, cfg.NodeName = AuthKubeConfig, testNode
		cfg.KubeConfigPath = writeFile(t, t.TempDir(), "config", kubeconfigYAML(srv.URL, []byte("unused"), user))
		_, err := newProvider(cfg, zap.NewNop(), testEnv(t.TempDir()))
		require.ErrorIs(t, err, ErrTokenOverHTTP, user)
	}

	// Without a token, plain http is allowed (a kubelet read-only port).
	cfg := fastConfig(srv.URL)
	cfg.AuthType = AuthNone
	p, err := newProvider(cfg, zap.NewNop(), testEnv(t.TempDir()))
	require.NoError(t, err)
	_, err = p.client.pods(t.Context())
	require.NoError(t, err)
	require.EqualValues(t, 1, requests.Load())

	// The request itself refuses too, whatever built the connection.
	p.client.conn.token = tokenSource{static: testToken}
	_, err = p.client.pods(t.Context())
	require.ErrorIs(t, err, ErrTokenOverHTTP)
	assert.EqualValues(t, 1, requests.Load(), "nothing sent")
	assert.False(t, sawAuth.Load())
}
