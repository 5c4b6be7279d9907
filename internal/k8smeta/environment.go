package k8smeta

import (
	"os"
	"strings"
)

const (
	nodeNameEnv = "K8S_NODE_NAME"
	// defaultServiceAccountDir is where Kubernetes mounts the pod's service-account token and CA.
	defaultServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"
)

// environment is what the provider takes from the process: variables and well-known paths.
// Tests replace it.
type environment struct {
	getenv            func(string) string
	homeDir           func() (string, error)
	serviceAccountDir string
}

func osEnvironment() environment {
	return environment{getenv: os.Getenv, homeDir: os.UserHomeDir, serviceAccountDir: defaultServiceAccountDir}
}

// nodeName is node_name, else $K8S_NODE_NAME; empty when neither is set.
func (e environment) nodeName(cfg Config) string {
	if cfg.NodeName != "" {
		return cfg.NodeName
	}
	return e.getenv(nodeNameEnv)
}

// expand replaces ${env:NAME} and ${NAME} in s. K8S_NODE_NAME expands to the node name, so
// that the default endpoint follows node_name when it is set.
func (e environment) expand(s string, nodeName string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	return os.Expand(s, func(key string) string {
		key = strings.TrimPrefix(key, "env:")
		if key == nodeNameEnv {
			return nodeName
		}
		return e.getenv(key)
	})
}
