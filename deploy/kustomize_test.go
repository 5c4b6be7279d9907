package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestOverlaysRender renders the base and every overlay with `kubectl kustomize` (skipped
// without kubectl) and checks the DaemonSet each one deploys, as the API server would get it:
// exactly the feature's capabilities on top of the base's drop ALL, the base's hardening kept
// (no privilege escalation, read-only root filesystem, RuntimeDefault seccomp), GOMEMLIMIT,
// and control-plane nodes only with the control-plane overlay.
func TestOverlaysRender(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if errors.Is(err, exec.ErrNotFound) {
		t.Skip("kubectl not installed: the overlays are checked as patches only")
	}
	require.NoError(t, err)
	cases := map[string]overlay{".": {}}
	for dir, o := range overlays {
		cases[filepath.Join("overlays", dir)] = o
	}
	for dir, o := range cases {
		t.Run(dir, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			var stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, kubectl, "kustomize", dir)
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			require.NoError(t, err, "kubectl kustomize %s: %s", dir, stderr.String())

			var ds *appsv1.DaemonSet
			kinds := map[string]int{}
			for _, doc := range strings.Split(string(out), "\n---\n") {
				var meta struct{ Kind string }
				require.NoError(t, yaml.Unmarshal([]byte(doc), &meta))
				kinds[meta.Kind]++
				if meta.Kind == "DaemonSet" {
					ds = new(appsv1.DaemonSet)
					require.NoError(t, yaml.UnmarshalStrict([]byte(doc), ds))
				}
			}
			assert.Equal(t, map[string]int{"Namespace": 1, "ServiceAccount": 1, "ClusterRole": 1, "ClusterRoleBinding": 1,
				"ConfigMap": 1, "DaemonSet": 1}, kinds)
			require.NotNil(t, ds)
			pod := ds.Spec.Template.Spec
			require.Len(t, pod.Containers, 1)
			c := pod.Containers[0]

			assert.Equal(t, o.hostPID, pod.HostPID)
			wantUID := int64(collectorUID)
			if o.root {
				wantUID = 0
			}
			assert.Equal(t, ptr(wantUID), pod.SecurityContext.RunAsUser)
			assert.Equal(t, ptr(wantUID), pod.SecurityContext.RunAsGroup)
			assert.Equal(t, ptr(!o.root), pod.SecurityContext.RunAsNonRoot)
			assert.Equal(t, &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}, pod.SecurityContext.SeccompProfile)
			assert.Equal(t, o.allNodes, pod.Affinity == nil, "control-plane nodes only when asked for")

			sc := c.SecurityContext
			assert.Nil(t, sc.Privileged)
			assert.Equal(t, ptr(false), sc.AllowPrivilegeEscalation)
			assert.Equal(t, ptr(true), sc.ReadOnlyRootFilesystem)
			assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
			assert.ElementsMatch(t, o.add, sc.Capabilities.Add)

			limit := c.Resources.Limits[corev1.ResourceMemory]
			want := "256Mi"
			if o.memoryLimit != "" {
				want = o.memoryLimit
			}
			assert.Equal(t, want, limit.String())
			request := c.Resources.Requests[corev1.ResourceMemory]
			assert.Equal(t, "96Mi", request.String())
			var gomemlimit *corev1.EnvVar
			for i := range c.Env {
				if c.Env[i].Name == "GOMEMLIMIT" {
					gomemlimit = &c.Env[i]
				}
			}
			require.NotNil(t, gomemlimit)
			assert.Equal(t, "requests.memory", gomemlimit.ValueFrom.ResourceFieldRef.Resource)
		})
	}
}
