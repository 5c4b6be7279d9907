package deploy_test

import (
	"maps"
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
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

const (
	namespace = "cgroupmem"
	name      = "otelcol-cgroupmem"
	// collectorUID is the collector's own uid and gid: not distroless's nonroot 65532, which
	// many tenant images share.
	collectorUID = 17117
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
		{file: "base/namespace.yaml", into: &corev1.Namespace{}, apiVersion: "v1", kind: "Namespace"},
		{file: "base/serviceaccount.yaml", into: &corev1.ServiceAccount{}, apiVersion: "v1", kind: "ServiceAccount"},
		{file: "base/clusterrole.yaml", into: &rbacv1.ClusterRole{}, apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole"},
		{file: "base/clusterrolebinding.yaml", into: &rbacv1.ClusterRoleBinding{}, apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding"},
		{file: "base/configmap.yaml", into: &corev1.ConfigMap{}, apiVersion: "v1", kind: "ConfigMap"},
		{file: "base/daemonset.yaml", into: &appsv1.DaemonSet{}, apiVersion: "apps/v1", kind: "DaemonSet"},
	}
	overlays, err := filepath.Glob("overlays/*/daemonset-patch.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, overlays)
	for _, f := range overlays {
		tests = append(tests, struct {
			file       string
			into       runtime.Object
			apiVersion string
			kind       string
		}{file: f, into: &appsv1.DaemonSet{}, apiVersion: "apps/v1", kind: "DaemonSet"})
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
	k := decodeStrict[kustomization](t, "base/kustomization.yaml")
	var decoded []string
	for _, tt := range tests {
		if rest, ok := strings.CutPrefix(tt.file, "base/"); ok {
			decoded = append(decoded, rest)
		}
	}
	onDisk, err := filepath.Glob("base/*.yaml")
	require.NoError(t, err)
	onDisk = slices.DeleteFunc(onDisk, func(f string) bool { return f == "base/kustomization.yaml" })
	for i := range onDisk {
		onDisk[i] = filepath.Base(onDisk[i])
	}
	assert.ElementsMatch(t, decoded, k.Resources, "base/kustomization.yaml lists the decoded manifests")
	assert.ElementsMatch(t, decoded, onDisk, "no manifest escapes the test")
	root := decodeStrict[kustomization](t, "kustomization.yaml")
	assert.Equal(t, []string{"base"}, root.Resources, "kubectl apply -k deploy/ applies the base")
	link, err := os.Readlink("configmap.yaml")
	require.NoError(t, err)
	assert.Equal(t, "base/configmap.yaml", link, "deploy/configmap.yaml, read by the benchmarks, is the base's")
}

func TestDefaultDaemonSetHasLeastPrivilege(t *testing.T) {
	ds := decodeStrict[appsv1.DaemonSet](t, "base/daemonset.yaml")
	pod := ds.Spec.Template.Spec
	assert.False(t, pod.HostPID || pod.HostNetwork || pod.HostIPC, "no host namespace")
	require.NotNil(t, pod.SecurityContext)
	assert.Equal(t, ptr(true), pod.SecurityContext.RunAsNonRoot)
	assert.Equal(t, ptr(int64(collectorUID)), pod.SecurityContext.RunAsUser, "a uid of its own")
	assert.Equal(t, ptr(int64(collectorUID)), pod.SecurityContext.RunAsGroup, "a gid of its own")
	assert.NotEqual(t, ptr(int64(65532)), pod.SecurityContext.RunAsUser, "not the uid many tenant images use")
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
	ds := decodeStrict[appsv1.DaemonSet](t, "base/daemonset.yaml")
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
	sa := decodeStrict[corev1.ServiceAccount](t, "base/serviceaccount.yaml")
	role := decodeStrict[rbacv1.ClusterRole](t, "base/clusterrole.yaml")
	binding := decodeStrict[rbacv1.ClusterRoleBinding](t, "base/clusterrolebinding.yaml")
	ds := decodeStrict[appsv1.DaemonSet](t, "base/daemonset.yaml")

	assert.Equal(t, []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes/pods"}, Verbs: []string{"get"}}}, role.Rules)
	assert.Equal(t, rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name}, binding.RoleRef)
	assert.Equal(t, []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: sa.Namespace}}, binding.Subjects)
	assert.Equal(t, sa.Name, ds.Spec.Template.Spec.ServiceAccountName)
	assert.NotEqual(t, ptr(false), sa.AutomountServiceAccountToken, "the token authenticates to the kubelet")
	assert.NotEqual(t, ptr(false), ds.Spec.Template.Spec.AutomountServiceAccountToken)
}

func TestNamesAndNamespaceAgree(t *testing.T) {
	ns := decodeStrict[corev1.Namespace](t, "base/namespace.yaml")
	assert.Equal(t, namespace, ns.Name)
	for _, meta := range []struct{ file, name, namespace string }{
		{"base/serviceaccount.yaml", decodeStrict[corev1.ServiceAccount](t, "base/serviceaccount.yaml").Name, decodeStrict[corev1.ServiceAccount](t, "base/serviceaccount.yaml").Namespace},
		{"base/configmap.yaml", decodeStrict[corev1.ConfigMap](t, "base/configmap.yaml").Name, decodeStrict[corev1.ConfigMap](t, "base/configmap.yaml").Namespace},
		{"base/daemonset.yaml", decodeStrict[appsv1.DaemonSet](t, "base/daemonset.yaml").Name, decodeStrict[appsv1.DaemonSet](t, "base/daemonset.yaml").Namespace},
	} {
		assert.Equal(t, name, meta.name, meta.file)
		assert.Equal(t, namespace, meta.namespace, meta.file)
	}
}

func TestDaemonSetMountsTheConfigMap(t *testing.T) {
	ds := decodeStrict[appsv1.DaemonSet](t, "base/daemonset.yaml")
	cm := decodeStrict[corev1.ConfigMap](t, "base/configmap.yaml")
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

// overlay is what a feature's overlay must change in the base DaemonSet, and nothing else.
type overlay struct {
	hostPID     bool
	root        bool                // uid and gid 0 (capabilities need them)
	add         []corev1.Capability // exactly these on top of drop ALL
	memoryLimit string              // "" keeps the base's
	// allNodes removes the base's node affinity that keeps off control-plane nodes.
	allNodes bool
}

var overlays = map[string]overlay{
	"node-slab":         {root: true},
	"sockets":           {hostPID: true, root: true, add: []corev1.Capability{"DAC_READ_SEARCH", "SYS_PTRACE"}},
	"sockets-sock-diag": {hostPID: true, root: true, add: []corev1.Capability{"DAC_READ_SEARCH", "SYS_PTRACE", "SYS_ADMIN"}},
	"ebpf-dentry":       {root: true, add: []corev1.Capability{"BPF", "PERFMON"}, memoryLimit: "512Mi"},
	"control-plane":     {allNodes: true},
	"all-features": {hostPID: true, root: true, memoryLimit: "512Mi",
		add: []corev1.Capability{"SYS_PTRACE", "DAC_READ_SEARCH", "SYS_ADMIN", "BPF", "PERFMON"}},
}

// TestOverlaysAddExactlyTheirFeaturesPrivileges decodes each overlay's patch and checks that it
// changes what its feature needs and nothing more: the capabilities added, the host pid
// namespace, uid 0, the memory limit, the control-plane opt-in. Every overlay on disk is
// in the table.
func TestOverlaysAddExactlyTheirFeaturesPrivileges(t *testing.T) {
	dirs, err := filepath.Glob("overlays/*")
	require.NoError(t, err)
	var onDisk []string
	for _, d := range dirs {
		onDisk = append(onDisk, filepath.Base(d))
	}
	want := slices.Collect(maps.Keys(overlays))
	assert.ElementsMatch(t, want, onDisk, "every overlay is checked")

	for dir, o := range overlays {
		t.Run(dir, func(t *testing.T) {
			k := decodeStrict[kustomization](t, filepath.Join("overlays", dir, "kustomization.yaml"))
			assert.Equal(t, []string{"../../base"}, k.Resources, "outside the base: kustomize refuses a base containing its overlay")
			require.Len(t, k.Patches, 1)
			patchFile := filepath.Join("overlays", dir, k.Patches[0].Path)
			patch := decodeStrict[appsv1.DaemonSet](t, patchFile)
			assert.Equal(t, name, patch.Name)
			assert.Equal(t, namespace, patch.Namespace)
			pod := patch.Spec.Template.Spec

			assert.Equal(t, o.hostPID, pod.HostPID, "hostPID")
			assert.False(t, pod.HostNetwork || pod.HostIPC)
			if o.root {
				require.NotNil(t, pod.SecurityContext)
				assert.Equal(t, ptr(int64(0)), pod.SecurityContext.RunAsUser, "capabilities need uid 0")
				assert.Equal(t, ptr(int64(0)), pod.SecurityContext.RunAsGroup)
				assert.Equal(t, ptr(false), pod.SecurityContext.RunAsNonRoot)
			} else {
				assert.Nil(t, pod.SecurityContext, "the base's uid and gid are kept")
			}
			var raw map[string]any
			data, err := os.ReadFile(patchFile)
			require.NoError(t, err)
			require.NoError(t, yaml.Unmarshal(data, &raw))
			podRaw := raw["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
			affinity, hasAffinity := podRaw["affinity"]
			assert.Equal(t, o.allNodes, hasAffinity && affinity == nil, "affinity: null deletes the base's control-plane exclusion")
			if !o.allNodes {
				assert.False(t, hasAffinity, "the control-plane exclusion is kept")
			}

			var add []corev1.Capability
			var limit string
			if len(pod.Containers) > 0 {
				require.Len(t, pod.Containers, 1)
				c := pod.Containers[0]
				assert.Equal(t, "otelcol", c.Name, "the patch must name the base container")
				if sc := c.SecurityContext; sc != nil {
					assert.Nil(t, sc.Privileged)
					assert.Nil(t, sc.AllowPrivilegeEscalation, "left to the base: false")
					assert.Nil(t, sc.ReadOnlyRootFilesystem, "left to the base: true")
					require.NotNil(t, sc.Capabilities)
					assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
					add = sc.Capabilities.Add
				}
				if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
					limit = q.String()
				}
				assert.Empty(t, c.Resources.Requests, "the request is GOMEMLIMIT: the base's")
			}
			assert.ElementsMatch(t, o.add, add, "capabilities added")
			assert.Equal(t, o.memoryLimit, limit, "memory limit")
		})
	}
}

// TestControlPlaneIsOptIn: the base tolerates every taint (dedicated pools) but requires
// nodes without the control-plane role labels.
func TestControlPlaneIsOptIn(t *testing.T) {
	ds := decodeStrict[appsv1.DaemonSet](t, "base/daemonset.yaml")
	pod := ds.Spec.Template.Spec
	assert.Equal(t, []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, pod.Tolerations)
	require.NotNil(t, pod.Affinity)
	require.NotNil(t, pod.Affinity.NodeAffinity)
	required := pod.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	require.NotNil(t, required)
	assert.Equal(t, []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
		{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.NodeSelectorOpDoesNotExist},
		{Key: "node-role.kubernetes.io/master", Operator: corev1.NodeSelectorOpDoesNotExist},
	}}}, required.NodeSelectorTerms, "one term: both labels absent")
}

// TestGoMemoryLimitAndSizing: GOMEMLIMIT is the container's memory request, read with the
// downward API, and every deployment's memory limit leaves room above it for what the kernel
// charges the collector's memory cgroup: the kept-open cgroup files (max_open_files of the
// ConfigMap, 6 KiB each: internal/cgroupfs's TestLiveKeptOpenFilesKernelMemory measures about
// 5.3 KiB on kernel 6.18) and, with eBPF, the map of live dentries (80 B a slot).
func TestGoMemoryLimitAndSizing(t *testing.T) {
	ds := decodeStrict[appsv1.DaemonSet](t, "base/daemonset.yaml")
	c := ds.Spec.Template.Spec.Containers[0]
	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "GOMEMLIMIT" })
	require.GreaterOrEqual(t, i, 0, "GOMEMLIMIT is set")
	require.NotNil(t, c.Env[i].ValueFrom)
	assert.Equal(t, &corev1.ResourceFieldSelector{Resource: "requests.memory"}, c.Env[i].ValueFrom.ResourceFieldRef)

	request := c.Resources.Requests[corev1.ResourceMemory]
	baseLimit := c.Resources.Limits[corev1.ResourceMemory]
	maxOpenFiles, ok := cgroupmemReceiver(t, configMapCollectorConfig(t))["max_open_files"].(float64)
	require.True(t, ok, "the ConfigMap bounds the kept-open files")
	const fileBytes, slotBytes, defaultSlots = 6 << 10, 80, 1 << 20
	files := int64(maxOpenFiles) * fileBytes
	const spikes = 32 << 20 // room for a scrape's garbage over GOMEMLIMIT, and the rest
	for dir, o := range overlays {
		limit := baseLimit.Value()
		if o.memoryLimit != "" {
			q := resourceQuantity(t, o.memoryLimit)
			limit = q
		}
		kernel := files
		if slices.Contains(o.add, "BPF") {
			kernel += defaultSlots * slotBytes
		}
		assert.GreaterOrEqual(t, limit, request.Value()+kernel+spikes,
			"%s: limit %d ≥ GOMEMLIMIT %d + kernel %d + %d", dir, limit, request.Value(), kernel, spikes)
	}
	assert.GreaterOrEqual(t, baseLimit.Value(), request.Value()+files+spikes, "base")
	assert.GreaterOrEqual(t, request.Value(), int64(58<<20), "GOMEMLIMIT above the peak RSS measured at 1,000 containers with the deployed OTLP exporter (README.md, side by side with cAdvisor: 57.7 MiB)")
}

func resourceQuantity(t *testing.T, s string) int64 {
	t.Helper()
	q, err := resource.ParseQuantity(s)
	require.NoError(t, err)
	return q.Value()
}

func ptr[T any](v T) *T { return &v }
