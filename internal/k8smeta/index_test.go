package k8smeta

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNewSnapshot(t *testing.T) {
	restarted := testPod("shop", "cart-7d9f", uidA, [2]string{"cart", cidA})
	restarted.Status.ContainerStatuses[0].RestartCount = 1
	restarted.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{
		ContainerID: "containerd://" + sandboxID, ExitCode: 137,
	}
	initAndEphemeral := testPod("shop", "db-0", uidB, [2]string{"db", cidB})
	initAndEphemeral.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "migrate", ContainerID: "cri-o://AAA111"}}
	initAndEphemeral.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{{Name: "debugger", ContainerID: "docker://bbb222"}}
	waiting := testPod("shop", "new-1", uidA, [2]string{"app", ""})

	tests := []struct {
		name string
		pod  corev1.Pod
		want podEntry
	}{
		{name: "running container", pod: testPod("shop", "cart-7d9f", uidA, [2]string{"cart", cidA}),
			want: podEntry{info: PodInfo{Name: "cart-7d9f", Namespace: "shop", UID: uidA}, containers: map[string]string{cidA: "cart"}}},
		{name: "previous instance of a restarted container", pod: restarted,
			want: podEntry{info: PodInfo{Name: "cart-7d9f", Namespace: "shop", UID: uidA}, containers: map[string]string{cidA: "cart", sandboxID: "cart"}}},
		{name: "init and ephemeral containers, other runtimes", pod: initAndEphemeral,
			want: podEntry{info: PodInfo{Name: "db-0", Namespace: "shop", UID: uidB}, containers: map[string]string{cidB: "db", "aaa111": "migrate", "bbb222": "debugger"}}},
		{name: "container not created yet", pod: waiting,
			want: podEntry{info: PodInfo{Name: "new-1", Namespace: "shop", UID: uidA}, containers: map[string]string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := newSnapshot(listed(t, tt.pod), time.Time{})
			got, ok := snap.pod(string(tt.pod.UID))
			assert.True(t, ok)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(podEntry{})); diff != "" {
				t.Errorf("pod entry (-want +got):\n%s", diff)
			}
			assert.Equal(t, testNode, snap.nodeName)
		})
	}
}

// listed is what decodePodList makes of the kubelet's JSON of these pods.
func listed(t *testing.T, pods ...corev1.Pod) []kubeletPod {
	t.Helper()
	b, err := json.Marshal(corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, Items: pods})
	require.NoError(t, err)
	list, err := decodePodList(bytes.NewReader(b))
	require.NoError(t, err)
	return list
}

// TestSnapshotBoundsContainersPerPod: a pod listing more container statuses than any real
// pod has indexes maxIndexedContainers of them.
func TestSnapshotBoundsContainersPerPod(t *testing.T) {
	var many [][2]string
	for i := range 3 * maxIndexedContainers {
		many = append(many, [2]string{fmt.Sprintf("c%d", i), fmt.Sprintf("%064x", i)})
	}
	snap := newSnapshot(listed(t, testPod("tenant", "huge", uidA, many...)), time.Time{})
	e, ok := snap.pod(uidA)
	require.True(t, ok)
	assert.Len(t, e.containers, maxIndexedContainers)
	assert.Equal(t, "c0", e.containers[fmt.Sprintf("%064x", 0)], "the first ones are named")
}

func TestNilSnapshot(t *testing.T) {
	var snap *snapshot
	_, ok := snap.pod(uidA)
	assert.False(t, ok)
	assert.True(t, snap.time().IsZero())
}

func TestNormalizeIDs(t *testing.T) {
	tests := []struct {
		name, in, want string
		normalize      func(string) string
	}{
		{name: "containerd", in: "containerd://" + cidA, want: cidA, normalize: normalizeContainerID},
		{name: "cri-o", in: "cri-o://" + cidB, want: cidB, normalize: normalizeContainerID},
		{name: "docker", in: "docker://ABC", want: "abc", normalize: normalizeContainerID},
		{name: "bare", in: cidA, want: cidA, normalize: normalizeContainerID},
		{name: "empty", in: "", want: "", normalize: normalizeContainerID},
		{name: "dashed UID", in: uidA, want: uidA, normalize: normalizePodUID},
		{name: "systemd UID", in: "0f0e1a2b_3c4d_4e5f_8a9b_0c1d2e3f4a5b", want: uidA, normalize: normalizePodUID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.normalize(tt.in))
		})
	}
}
