package k8smeta

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configtls"
)

// connection is how to fetch the pod list: the URL, the TLS settings and the credentials.
type connection struct {
	podsURL string
	tls     *tls.Config // nil for http://
	token   tokenSource
	// viaProxy is true when the request goes to the API server, which may sit behind the
	// HTTP(S)_PROXY of the environment; the kubelet on the node never does.
	viaProxy bool
}

// newConnection resolves the configuration into a connection. It reads the CA and client
// certificate files, and the kubeconfig for auth_type kubeConfig.
func newConnection(ctx context.Context, cfg Config, env environment) (connection, error) {
	if cfg.AuthType == AuthKubeConfig {
		conn, err := kubeconfigConnection(ctx, cfg, env)
		if err == nil {
			err = conn.refuseTokenOverHTTP()
		}
		return conn, err
	}
	nodeName := env.nodeName(cfg)
	podsURL, err := kubeletPodsURL(env.expand(cfg.Endpoint, nodeName), cfg.Endpoint)
	if err != nil {
		return connection{}, err
	}
	tlsCfg := cfg.TLS
	var token tokenSource
	if cfg.AuthType == AuthServiceAccount {
		token.file = filepath.Join(env.serviceAccountDir, "token")
		if tlsCfg.CAFile == "" && tlsCfg.CAPem == "" && !tlsCfg.InsecureSkipVerify {
			tlsCfg.CAFile = filepath.Join(env.serviceAccountDir, "ca.crt")
		}
	}
	conn := connection{podsURL: podsURL, token: token}
	if strings.HasPrefix(podsURL, "https://") {
		if conn.tls, err = loadTLS(ctx, tlsCfg); err != nil {
			return connection{}, err
		}
	}
	return conn, nil
}

// kubeletPodsURL appends /pods to the expanded endpoint. A host left empty by the expansion
// means the node name was needed and is unknown.
func kubeletPodsURL(expanded, configured string) (string, error) {
	u, err := url.Parse(expanded)
	if err != nil {
		return "", fmt.Errorf("%w: endpoint %q: %w", ErrInvalidConfig, expanded, err)
	}
	if u.Hostname() == "" {
		if strings.Contains(configured, nodeNameEnv) {
			return "", fmt.Errorf("%w: endpoint %q", ErrNodeNameUnknown, configured)
		}
		return "", fmt.Errorf("%w: endpoint %q expands to %q, which has no host", ErrInvalidConfig, configured, expanded)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/pods"
	return u.String(), nil
}

func loadTLS(ctx context.Context, cfg configtls.ClientConfig) (*tls.Config, error) {
	tlsCfg, err := cfg.LoadTLSConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTLS, err)
	}
	return tlsCfg, nil
}

// httpClient returns a client of its own: its idle connections are closed at shutdown. It
// follows no redirect: Go's client sends the Authorization header on to a redirect's target on
// the same host, https to http included, so a redirect is returned as the answer (an error).
func (c connection) httpClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = c.tls
	if !c.viaProxy {
		tr.Proxy = nil
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// verifiesTLS reports whether the kubelet's (or API server's) certificate is verified: false
// for https with verification turned off (tls.insecure_skip_verify, or the kubeconfig's
// insecure-skip-tls-verify). Plain http is refused a token elsewhere.
func (c connection) verifiesTLS() bool {
	return c.tls == nil || !c.tls.InsecureSkipVerify
}

// refuseTokenOverHTTP fails a connection that would send a bearer token without TLS.
func (c connection) refuseTokenOverHTTP() error {
	if c.token.static == "" && c.token.file == "" || strings.HasPrefix(c.podsURL, "https://") {
		return nil
	}
	return fmt.Errorf("%w: %s (use https, or a user without a token)", ErrTokenOverHTTP, c.podsURL)
}
