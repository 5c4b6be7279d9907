package k8smeta

import (
	"time"

	"go.opentelemetry.io/collector/config/configtls"
)

// Values of auth_type, spelled as the contrib kubeletstats receiver spells them.
const (
	// AuthServiceAccount sends the pod's service-account token and verifies the kubelet with the
	// service-account CA (ca.crt), unless tls.ca_file or tls.ca_pem names another CA.
	AuthServiceAccount = "serviceAccount"
	// AuthTLS authenticates with the client certificate in tls.cert_file/tls.key_file.
	AuthTLS = "tls"
	// AuthKubeConfig reads a kubeconfig and reaches the kubelet through the API server's node
	// proxy (/api/v1/nodes/<node>/proxy/pods); for running off the cluster.
	AuthKubeConfig = "kubeConfig"
	// AuthNone sends no credentials (a kubelet that allows anonymous reads, or a test).
	AuthNone = "none"
)

// Values of sandbox_containers.
const (
	// SandboxLabel keeps the sandbox (pause) container's metrics and names it SandboxContainerName.
	SandboxLabel = "label"
	// SandboxSkip makes Include reject the sandbox container.
	SandboxSkip = "skip"
)

// SandboxContainerName is the k8s.container.name given to a pod's sandbox (pause) container;
// cAdvisor uses the same name. Real container names are lowercase DNS labels, so it cannot clash.
const SandboxContainerName = "POD"

// DefaultEndpoint is the kubelet on the collector's own node. When the configuration keeps it,
// ${env:K8S_NODE_NAME} is expanded at start (a value written in the collector config has already
// been expanded by the collector).
const DefaultEndpoint = "https://${env:K8S_NODE_NAME}:10250"

// Config is the k8s_metadata section of the receiver configuration.
type Config struct {
	// Enabled turns the lookups on. Off by default: the receiver also runs on hosts without a
	// kubelet, where a default-on lookup would only log failures.
	Enabled bool `mapstructure:"enabled"`
	// Endpoint is the kubelet's base URL; /pods is appended. Ignored with auth_type kubeConfig.
	Endpoint string `mapstructure:"endpoint"`
	// AuthType is serviceAccount, tls, kubeConfig or none.
	AuthType string `mapstructure:"auth_type"`
	// TLS configures the connection; the kubelet's certificate is verified unless
	// insecure_skip_verify is set. An http:// endpoint uses no TLS.
	TLS configtls.ClientConfig `mapstructure:"tls"`
	// KubeConfigPath is the kubeconfig of auth_type kubeConfig; empty means $KUBECONFIG (its
	// first path), then ~/.kube/config.
	KubeConfigPath string `mapstructure:"kube_config_path"`
	// KubeConfigContext picks a context of the kubeconfig; empty means its current-context.
	KubeConfigContext string `mapstructure:"kube_config_context"`
	// NodeName is emitted as k8s.node.name; empty means $K8S_NODE_NAME, then the node name of
	// the pods the kubelet lists.
	NodeName string `mapstructure:"node_name"`
	// RefreshInterval is the least time between two pod-list fetches; lookups of unknown pods
	// trigger them. It is also the first retry delay after a failure.
	RefreshInterval time.Duration `mapstructure:"refresh_interval"`
	// MaxBackoff caps the retry delay, which doubles after each failed fetch.
	MaxBackoff time.Duration `mapstructure:"max_backoff"`
	// Timeout bounds one request to the kubelet.
	Timeout time.Duration `mapstructure:"timeout"`
	// SandboxContainers is label (default) or skip.
	SandboxContainers string `mapstructure:"sandbox_containers"`
	// Filter includes or excludes pods and containers by name.
	Filter FilterConfig `mapstructure:"filter"`
}

// FilterConfig selects what Include accepts. A name must match no exclude pattern and, where
// include patterns are given, at least one of them. Patterns are unanchored Go regular
// expressions (write ^name$ for an exact match). A name that is not known (the kubelet has not
// listed the pod yet, or cannot be reached) passes: metrics keep flowing when metadata is missing.
type FilterConfig struct {
	Include NamePatterns `mapstructure:"include"`
	Exclude NamePatterns `mapstructure:"exclude"`
}

// NamePatterns holds regular expressions per kind of name.
type NamePatterns struct {
	Namespaces []string `mapstructure:"namespaces"`
	Pods       []string `mapstructure:"pods"`
	Containers []string `mapstructure:"containers"`
}

// NewDefaultConfig returns the defaults: disabled, the node's kubelet with the service account,
// verified TLS, a 10s refresh interval and sandbox containers labelled.
func NewDefaultConfig() Config {
	return Config{
		Endpoint:          DefaultEndpoint,
		AuthType:          AuthServiceAccount,
		TLS:               configtls.NewDefaultClientConfig(),
		RefreshInterval:   10 * time.Second,
		MaxBackoff:        5 * time.Minute,
		Timeout:           10 * time.Second,
		SandboxContainers: SandboxLabel,
	}
}
