package k8smeta

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Validate checks the configuration without touching files or the network. Every problem is
// reported, each wrapping ErrInvalidConfig.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	switch c.AuthType {
	case AuthServiceAccount, AuthTLS, AuthKubeConfig, AuthNone:
	default:
		add("auth_type must be %s, %s, %s or %s, got %q",
			AuthServiceAccount, AuthTLS, AuthKubeConfig, AuthNone, c.AuthType)
	}
	if c.AuthType != AuthKubeConfig {
		if err := validateEndpoint(c.Endpoint, c.AuthType); err != nil {
			add("endpoint %q: %w", c.Endpoint, err)
		}
	}
	if c.AuthType == AuthTLS && (c.TLS.CertFile == "" && c.TLS.CertPem == "" ||
		c.TLS.KeyFile == "" && c.TLS.KeyPem == "") {
		add("auth_type tls needs tls.cert_file and tls.key_file (or their _pem forms)")
	}
	if c.TLS.Insecure {
		add("tls.insecure is not used: write an http:// endpoint for plain HTTP, or set tls.insecure_skip_verify")
	}
	if c.RefreshInterval <= 0 {
		add("refresh_interval must be positive, got %s", c.RefreshInterval)
	}
	if c.MaxBackoff < c.RefreshInterval {
		add("max_backoff (%s) must be at least refresh_interval (%s)", c.MaxBackoff, c.RefreshInterval)
	}
	if c.Timeout <= 0 {
		add("timeout must be positive, got %s", c.Timeout)
	}
	if c.SandboxContainers != SandboxLabel && c.SandboxContainers != SandboxSkip {
		add("sandbox_containers must be %s or %s, got %q", SandboxLabel, SandboxSkip, c.SandboxContainers)
	}
	if _, err := compileFilter(c.Filter); err != nil {
		add("filter: %w", err)
	}
	if !c.Enabled && c.Filter.hasPatterns() {
		add("filter needs the names from the kubelet: set enabled: true")
	}
	return errors.Join(errs...)
}

var errEndpoint = errors.New("must be an http:// or https:// URL with a host")

// validateEndpoint checks the scheme, and the host when no ${env:...} is left to expand.
func validateEndpoint(endpoint, authType string) error {
	scheme, _, ok := strings.Cut(endpoint, "://")
	if !ok || scheme != "http" && scheme != "https" {
		return errEndpoint
	}
	if scheme == "http" && (authType == AuthServiceAccount || authType == AuthTLS) {
		return fmt.Errorf("auth_type %s needs https", authType)
	}
	if strings.Contains(endpoint, "${") {
		return nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return err
	}
	if u.Hostname() == "" {
		return errEndpoint
	}
	return nil
}
