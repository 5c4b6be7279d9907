package k8smeta

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configtls"
	"sigs.k8s.io/yaml"
)

// kubeconfig is the part of a kubeconfig file (clientcmd v1 Config) that auth_type kubeConfig
// uses. Byte fields hold the base64 *-data values, decoded by encoding/json.
type kubeconfig struct {
	CurrentContext string `json:"current-context"`
	Clusters       []struct {
		Name    string      `json:"name"`
		Cluster kubeCluster `json:"cluster"`
	} `json:"clusters"`
	Contexts []struct {
		Name    string `json:"name"`
		Context struct {
			Cluster string `json:"cluster"`
			User    string `json:"user"`
		} `json:"context"`
	} `json:"contexts"`
	Users []struct {
		Name string   `json:"name"`
		User kubeUser `json:"user"`
	} `json:"users"`
}

type kubeCluster struct {
	Server                   string `json:"server"`
	CertificateAuthority     string `json:"certificate-authority"`
	CertificateAuthorityData []byte `json:"certificate-authority-data"`
	InsecureSkipTLSVerify    bool   `json:"insecure-skip-tls-verify"`
	TLSServerName            string `json:"tls-server-name"`
}

type kubeUser struct {
	Token                 string          `json:"token"`
	TokenFile             string          `json:"tokenFile"`
	ClientCertificate     string          `json:"client-certificate"`
	ClientCertificateData []byte          `json:"client-certificate-data"`
	ClientKey             string          `json:"client-key"`
	ClientKeyData         []byte          `json:"client-key-data"`
	Exec                  json.RawMessage `json:"exec"`
	AuthProvider          json.RawMessage `json:"auth-provider"`
	Username              string          `json:"username"`
}

// apiServerTarget is where a kubeconfig context points and how it authenticates.
type apiServerTarget struct {
	server string
	tls    configtls.ClientConfig
	token  tokenSource
}

// kubeconfigConnection reaches the kubelet's /pods through the API server's node proxy.
func kubeconfigConnection(ctx context.Context, cfg Config, env environment) (connection, error) {
	nodeName := env.nodeName(cfg)
	if nodeName == "" {
		return connection{}, fmt.Errorf("%w: auth_type kubeConfig proxies through the node", ErrNodeNameUnknown)
	}
	path, err := kubeconfigPath(cfg, env)
	if err != nil {
		return connection{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return connection{}, fmt.Errorf("%w: %w", ErrKubeconfig, err)
	}
	target, err := parseKubeconfig(data, cfg.KubeConfigContext, filepath.Dir(path))
	if err != nil {
		return connection{}, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	conn := connection{
		podsURL:  strings.TrimSuffix(target.server, "/") + "/api/v1/nodes/" + url.PathEscape(nodeName) + "/proxy/pods",
		token:    target.token,
		viaProxy: true,
	}
	if strings.HasPrefix(target.server, "https://") {
		if conn.tls, err = loadTLS(ctx, target.tls); err != nil {
			return connection{}, err
		}
	}
	return conn, nil
}

// kubeconfigPath is kube_config_path, else the first path of $KUBECONFIG, else ~/.kube/config.
func kubeconfigPath(cfg Config, env environment) (string, error) {
	if cfg.KubeConfigPath != "" {
		return cfg.KubeConfigPath, nil
	}
	for _, p := range filepath.SplitList(env.getenv("KUBECONFIG")) {
		if p != "" {
			return p, nil
		}
	}
	home, err := env.homeDir()
	if err != nil {
		return "", fmt.Errorf("%w: no kube_config_path, no KUBECONFIG and no home directory: %w", ErrKubeconfig, err)
	}
	return filepath.Join(home, ".kube", "config"), nil
}

// parseKubeconfig resolves a context (current-context when name is empty). Relative file paths
// are taken from dir, as kubectl does. Exec plugins and auth providers are not supported.
func parseKubeconfig(data []byte, name, dir string) (apiServerTarget, error) {
	var kc kubeconfig
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return apiServerTarget{}, fmt.Errorf("%w: %w", ErrKubeconfig, err)
	}
	if name == "" {
		name = kc.CurrentContext
	}
	var clusterName, userName string
	found := false
	for _, c := range kc.Contexts {
		if c.Name == name {
			clusterName, userName, found = c.Context.Cluster, c.Context.User, true
		}
	}
	if !found {
		return apiServerTarget{}, fmt.Errorf("%w: context %q not found", ErrKubeconfig, name)
	}
	var cluster *kubeCluster
	for i := range kc.Clusters {
		if kc.Clusters[i].Name == clusterName {
			cluster = &kc.Clusters[i].Cluster
		}
	}
	if cluster == nil || cluster.Server == "" {
		return apiServerTarget{}, fmt.Errorf("%w: cluster %q of context %q not found or has no server", ErrKubeconfig, clusterName, name)
	}
	var user kubeUser
	for _, u := range kc.Users {
		if u.Name == userName {
			user = u.User
		}
	}
	if len(user.Exec) > 0 || len(user.AuthProvider) > 0 || user.Username != "" {
		return apiServerTarget{}, fmt.Errorf("%w: user %q: exec plugins, auth providers and basic auth are not supported; use a token, tokenFile or client certificate",
			ErrKubeconfig, userName)
	}
	return apiServerTarget{
		server: cluster.Server,
		tls:    kubeconfigTLS(*cluster, user, dir),
		token:  tokenSource{static: user.Token, file: relativeTo(dir, user.TokenFile)},
	}, nil
}

func kubeconfigTLS(cluster kubeCluster, user kubeUser, dir string) configtls.ClientConfig {
	tlsCfg := configtls.NewDefaultClientConfig()
	tlsCfg.CAFile, tlsCfg.CAPem = fileOrData(dir, cluster.CertificateAuthority, cluster.CertificateAuthorityData)
	tlsCfg.CertFile, tlsCfg.CertPem = fileOrData(dir, user.ClientCertificate, user.ClientCertificateData)
	tlsCfg.KeyFile, tlsCfg.KeyPem = fileOrData(dir, user.ClientKey, user.ClientKeyData)
	tlsCfg.InsecureSkipVerify = cluster.InsecureSkipTLSVerify
	tlsCfg.ServerName = cluster.TLSServerName
	return tlsCfg
}

// fileOrData prefers inline *-data over a file, as kubectl does.
func fileOrData(dir, file string, data []byte) (string, configopaque.String) {
	if len(data) > 0 {
		return "", configopaque.String(data)
	}
	return relativeTo(dir, file), ""
}

func relativeTo(dir, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}
