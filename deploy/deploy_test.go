package deploy_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

const (
	namespace = "cgroupmem"
	name      = "otelcol-cgroupmem"
)

// decodeStrict reads a one-document YAML file into T, failing on unknown or duplicate fields.
func decodeStrict[T any](t *testing.T, path string) T {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NotContains(t, string(data), "\n---", "%s: one document per file", path)
	var obj T
	require.NoError(t, yaml.UnmarshalStrict(data, &obj), path)
	return obj
}

// kustomization is the part of a kustomize Kustomization these files use.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Patches    []struct {
		Path string `json:"path"`
	} `json:"patches"`
}

func TestManifestsDecodeStrictly(t *testing.T) {
	tests := []struct {
		file       string
		into       runtime.Object
		apiVersion string
		kind       string
	}{
		{file: "namespace.yaml", into: &corev1.Namespace{}, apiVersion: "v1", kind: "Namespace"},
		{file: "serviceaccount.yaml", into: &corev1.ServiceAccount{}, apiVersion: "v1", kind: "ServiceAccount"},
		{file: "clusterrole.yaml", into: &rbacv1.ClusterRole{}, apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole"},
		{file: "clusterrolebinding.yaml", into: &rbacv1.ClusterRoleBinding{}, apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding"},
		{file: "configmap.yaml", into: &corev1.ConfigMap{}, apiVersion: "v1", kind: "ConfigMap"},
		{file: "daemonset.yaml", into: &appsv1.DaemonSet{}, apiVersion: "apps/v1", kind: "DaemonSet"},
		{file: "overlays/all-features/daemonset-patch.yaml", into: &appsv1.DaemonSet{}, apiVersion: "apps/v1", kind: "DaemonSet"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(tt.file)
			require.NoError(t, err)
			require.NoError(t, yaml.UnmarshalStrict(data, tt.into))
			gvk := tt.into.GetObjectKind().GroupVersionKind()
			assert.Equal(t, tt.apiVersion, gvk.GroupVersion().String())
			assert.Equal(t, tt.kind, gvk.Kind)
		})
	}

	// Every manifest is both listed by kustomize and decoded above.
	k := decodeStrict[kustomization](t, "kustomization.yaml")
	var decoded []string
	for _, tt := range tests {
		if !strings.Contains(tt.file, "/") {
			decoded = append(decoded, tt.file)
		}
	}
	onDisk, err := filepath.Glob("*.yaml")
	require.NoError(t, err)
	onDisk = slices.DeleteFunc(onDisk, func(f string) bool { return f == "kustomization.yaml" })
	assert.ElementsMatch(t, decoded, k.Resources, "kustomization.yaml lists the decoded manifests")
	assert.ElementsMatch(t, decoded, onDisk, "no manifest escapes the test")
}

func TestDefaultDaemonSetHasLeastPrivilege(t *testing.T) {
	ds := decodeStrict[appsv1.DaemonSet](t, "daemonset.yaml")
	pod := ds.Spec.Template.Spec
	assert.False(t, pod.HostPID || pod.HostNetwork || pod.HostIPC, "no host namespace")
	require.NotNil(t, pod.SecurityContext)
	assert.Equal(t, ptr(true), pod.SecurityContext.RunAsNonRoot)
	assert.Equal(t, ptr(int64(65532)), pod.SecurityContext.RunAsUser)
	assert.Equal(t, &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}, pod.SecurityContext.SeccompProfile)

	require.Len(t, pod.Containers, 1)
	sc := pod.Containers[0].SecurityContext
	require.NotNil(t, sc)
	assert.Nil(t, sc.Privileged)
	assert.Equal(t, ptr(false), sc.AllowPrivilegeEscalation)
	assert.Equal(t, ptr(true), sc.ReadOnlyRootFilesystem)
	assert.Equal(t, &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}, sc.Capabilities)
}

func TestHostMountsAreReadOnlyUnderRootPath(t *testing.T) {
	ds := decodeStrict[appsv1.DaemonSet](t, "daemonset.yaml")
	rootPath := cgroupmemReceiver(t, configMapCollectorConfig(t))["root_path"].(string)
	got := hostMounts(t, ds.Spec.Template.Spec.Volumes, ds.Spec.Template.Spec.Containers[0].VolumeMounts)
	want := map[string]string{
		"/sys/fs/cgroup": rootPath + "/sys/fs/cgroup",
		"/proc":          rootPath + "/proc",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("host path → mount path (-want +got):\n%s", diff)
	}
}

// hostMounts maps each hostPath volume to where it is mounted, checking that it is read-only.
func hostMounts(t *testing.T, volumes []corev1.Volume, mounts []corev1.VolumeMount) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range mounts {
		i := slices.IndexFunc(volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		require.GreaterOrEqual(t, i, 0, "volume of mount %s", m.Name)
		if hp := volumes[i].HostPath; hp != nil {
			assert.True(t, m.ReadOnly, "host mount %s must be readOnly", m.MountPath)
			assert.Equal(t, ptr(corev1.HostPathDirectory), hp.Type, "host path %s", hp.Path)
			out[hp.Path] = m.MountPath
		}
	}
	return out
}

func TestRBACGrantsOnlyTheKubeletPodList(t *testing.T) {
	sa := decodeStrict[corev1.ServiceAccount](t, "serviceaccount.yaml")
	role := decodeStrict[rbacv1.ClusterRole](t, "clusterrole.yaml")
	binding := decodeStrict[rbacv1.ClusterRoleBinding](t, "clusterrolebinding.yaml")
	ds := decodeStrict[appsv1.DaemonSet](t, "daemonset.yaml")

	assert.Equal(t, []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes/pods"}, Verbs: []string{"get"}}}, role.Rules)
	assert.Equal(t, rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name}, binding.RoleRef)
	assert.Equal(t, []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: sa.Namespace}}, binding.Subjects)
	assert.Equal(t, sa.Name, ds.Spec.Template.Spec.ServiceAccountName)
	assert.NotEqual(t, ptr(false), sa.AutomountServiceAccountToken, "the token authenticates to the kubelet")
	assert.NotEqual(t, ptr(false), ds.Spec.Template.Spec.AutomountServiceAccountToken)
}

func TestNamesAndNamespaceAgree(t *testing.T) {
	ns := decodeStrict[corev1.Namespace](t, "namespace.yaml")
	assert.Equal(t, namespace, ns.Name)
	for _, meta := range []struct{ file, name, namespace string }{
		{"serviceaccount.yaml", decodeStrict[corev1.ServiceAccount](t, "serviceaccount.yaml").Name, decodeStrict[corev1.ServiceAccount](t, "serviceaccount.yaml").Namespace},
		{"configmap.yaml", decodeStrict[corev1.ConfigMap](t, "configmap.yaml").Name, decodeStrict[corev1.ConfigMap](t, "configmap.yaml").Namespace},
		{"daemonset.yaml", decodeStrict[appsv1.DaemonSet](t, "daemonset.yaml").Name, decodeStrict[appsv1.DaemonSet](t, "daemonset.yaml").Namespace},
	} {
		assert.Equal(t, name, meta.name, meta.file)
		assert.Equal(t, namespace, meta.namespace, meta.file)
	}
}

func TestDaemonSetMountsTheConfigMap(t *testing.T) {
	ds := decodeStrict[appsv1.DaemonSet](t, "daemonset.yaml")
	cm := decodeStrict[corev1.ConfigMap](t, "configmap.yaml")
	pod := ds.Spec.Template.Spec
	i := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.ConfigMap != nil })
	require.GreaterOrEqual(t, i, 0)
	assert.Equal(t, cm.Name, pod.Volumes[i].ConfigMap.Name)
	j := slices.IndexFunc(pod.Containers[0].VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == pod.Volumes[i].Name })
	require.GreaterOrEqual(t, j, 0)
	mount := pod.Containers[0].VolumeMounts[j]
	assert.True(t, mount.ReadOnly)
	assert.Equal(t, []string{"--config=" + mount.MountPath + "/config.yaml"}, pod.Containers[0].Args)
	assert.Contains(t, cm.Data, "config.yaml")
	assert.Equal(t, ds.Spec.Selector.MatchLabels, selectorSubset(ds.Spec.Template.Labels, ds.Spec.Selector.MatchLabels))
}

func selectorSubset(labels, selector map[string]string) map[string]string {
	out := map[string]string{}
	for k := range selector {
		if v, ok := labels[k]; ok {
			out[k] = v
		}
	}
	return out
}

func TestOverlayAddsOnlyTheFeatureCapabilities(t *testing.T) {
	k := decodeStrict[kustomization](t, "overlays/all-features/kustomization.yaml")
	assert.Equal(t, []string{"../.."}, k.Resources)
	require.Len(t, k.Patches, 1)
	patch := decodeStrict[appsv1.DaemonSet](t, filepath.Join("overlays/all-features", k.Patches[0].Path))
	assert.Equal(t, name, patch.Name)
	assert.Equal(t, namespace, patch.Namespace)

	pod := patch.Spec.Template.Spec
	assert.True(t, pod.HostPID, "socket attribution reads host pids from cgroup.procs")
	assert.False(t, pod.HostNetwork)
	assert.Equal(t, ptr(int64(0)), pod.SecurityContext.RunAsUser, "capabilities need uid 0")
	require.Len(t, pod.Containers, 1)
	assert.Equal(t, "otelcol", pod.Containers[0].Name, "the patch must name the base container")
	sc := pod.Containers[0].SecurityContext
	assert.Nil(t, sc.Privileged)
	assert.Nil(t, sc.AllowPrivilegeEscalation, "left to the base: false")
	assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	assert.ElementsMatch(t, []corev1.Capability{"SYS_PTRACE", "DAC_READ_SEARCH", "SYS_ADMIN", "BPF", "PERFMON"}, sc.Capabilities.Add)
}

func ptr[T any](v T) *T { return &v }
