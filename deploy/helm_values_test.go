package deploy_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// chartValues are the keys deploy/helm/values.yaml sets in the open-telemetry/opentelemetry-collector
// chart, typed with the Kubernetes API types the chart copies them into.
type chartValues struct {
	Mode  string `json:"mode"`
	Image struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
	} `json:"image"`
	Command struct {
		Name string `json:"name"`
	} `json:"command"`
	ServiceAccount struct {
		Create bool `json:"create"`
	} `json:"serviceAccount"`
	ClusterRole struct {
		Create bool                `json:"create"`
		Rules  []rbacv1.PolicyRule `json:"rules"`
	} `json:"clusterRole"`
	PodSecurityContext corev1.PodSecurityContext   `json:"podSecurityContext"`
	SecurityContext    corev1.SecurityContext      `json:"securityContext"`
	Tolerations        []corev1.Toleration         `json:"tolerations"`
	Affinity           corev1.Affinity             `json:"affinity"`
	UseGOMEMLIMIT      *bool                       `json:"useGOMEMLIMIT"`
	ExtraEnvs          []corev1.EnvVar             `json:"extraEnvs"`
	ExtraVolumes       []corev1.Volume             `json:"extraVolumes"`
	ExtraVolumeMounts  []corev1.VolumeMount        `json:"extraVolumeMounts"`
	Resources          corev1.ResourceRequirements `json:"resources"`
	Ports              map[string]struct {
		Enabled bool `json:"enabled"`
	} `json:"ports"`
	LivenessProbe  corev1.Probe   `json:"livenessProbe"`
	ReadinessProbe corev1.Probe   `json:"readinessProbe"`
	Config         map[string]any `json:"config"`
}

func helmValues(t *testing.T) chartValues {
	t.Helper()
	return decodeStrict[chartValues](t, "helm/values.yaml")
}

func TestHelmValuesMatchTheManifests(t *testing.T) {
	v := helmValues(t)
	ds := decodeStrict[appsv1.DaemonSet](t, "base/daemonset.yaml")
	role := decodeStrict[rbacv1.ClusterRole](t, "base/clusterrole.yaml")
	pod := ds.Spec.Template.Spec
	container := pod.Containers[0]

	assert.Equal(t, "daemonset", v.Mode)
	assert.Equal(t, container.Image, v.Image.Repository+":"+v.Image.Tag)
	assert.True(t, v.ServiceAccount.Create)
	assert.True(t, v.ClusterRole.Create)
	assert.Equal(t, role.Rules, v.ClusterRole.Rules)
	assert.Equal(t, *pod.SecurityContext, v.PodSecurityContext)
	assert.Equal(t, *container.SecurityContext, v.SecurityContext)
	assert.Equal(t, pod.Tolerations, v.Tolerations)
	require.NotNil(t, pod.Affinity)
	assert.Equal(t, *pod.Affinity, v.Affinity, "control-plane nodes opt-in in the chart too")
	assert.Equal(t, ptr(false), v.UseGOMEMLIMIT, "the chart's GOMEMLIMIT (80 % of the limit) is replaced by extraEnvs'")
	assert.Equal(t, container.Resources, v.Resources)

	if diff := cmp.Diff(hostMounts(t, pod.Volumes, container.VolumeMounts), hostMounts(t, v.ExtraVolumes, v.ExtraVolumeMounts)); diff != "" {
		t.Errorf("host mounts (-daemonset +values):\n%s", diff)
	}
	for _, env := range container.Env {
		if env.Name == "MY_POD_IP" { // set by the chart
			continue
		}
		i := slices.IndexFunc(v.ExtraEnvs, func(e corev1.EnvVar) bool { return e.Name == env.Name })
		if assert.GreaterOrEqual(t, i, 0, "env %s", env.Name) {
			assert.Equal(t, env, v.ExtraEnvs[i])
		}
	}
	assert.Equal(t, "OTLP_ENDPOINT", v.ExtraEnvs[3].Name, "README and values.yaml set it as extraEnvs[3]")
}

func TestHelmValuesProbesAndPorts(t *testing.T) {
	v := helmValues(t)
	for _, probe := range []corev1.Probe{v.LivenessProbe, v.ReadinessProbe} {
		require.NotNil(t, probe.HTTPGet)
		assert.Equal(t, intstr.FromInt32(8888), probe.HTTPGet.Port)
		assert.Equal(t, "/metrics", probe.HTTPGet.Path)
	}
	var enabled []string
	for name, p := range v.Ports {
		if p.Enabled {
			enabled = append(enabled, name)
		}
	}
	assert.Equal(t, []string{"metrics"}, enabled, "the chart's default receivers' ports are off")
}

func TestHelmValuesCollectorConfigMatchesTheConfigMap(t *testing.T) {
	values := withoutNulls(helmValues(t).Config).(map[string]any)
	manifest := configMapCollectorConfig(t)
	for _, path := range [][]string{
		{"receivers", "cgroupmem"},
		{"processors"},
		{"exporters"},
		{"service", "pipelines"},
		{"service", "telemetry", "metrics"},
	} {
		t.Run(strings.Join(path, "."), func(t *testing.T) {
			if diff := cmp.Diff(section(t, manifest, path...), section(t, values, path...)); diff != "" {
				t.Errorf("(-configmap +values):\n%s", diff)
			}
		})
	}
}
