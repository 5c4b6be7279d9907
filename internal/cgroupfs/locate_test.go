package cgroupfs

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestContainerAt(t *testing.T) {
	const id = "aaaaaaaa11111111111111111111111111111111111111111111111111111111"
	const uid = "3f0a9d1e-7c55-4b8e-9a31-2d4be2f1c0aa"
	tests := []struct {
		name    string
		rel     string
		want    Container
		wantPod string
		ok      bool
	}{
		{name: "v1 cgroupfs driver", rel: "/kubepods/burstable/pod" + uid + "/" + id, ok: true, wantPod: "/kubepods/burstable/pod" + uid,
			want: Container{ID: id, Path: "/kubepods/burstable/pod" + uid + "/" + id, PodUID: uid, QoS: QoSBurstable}},
		{name: "v2 systemd driver", ok: true,
			rel:     "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f0a9d1e_7c55_4b8e_9a31_2d4be2f1c0aa.slice/cri-containerd-" + id + ".scope",
			wantPod: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f0a9d1e_7c55_4b8e_9a31_2d4be2f1c0aa.slice",
			want: Container{ID: id, Runtime: RuntimeContainerd, PodUID: uid, QoS: QoSBurstable,
				Path: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f0a9d1e_7c55_4b8e_9a31_2d4be2f1c0aa.slice/cri-containerd-" + id + ".scope"}},
		{name: "crun's container child", rel: "/kubepods/pod" + uid + "/" + id + "/container", ok: true, wantPod: "/kubepods/pod" + uid,
			want: Container{ID: id, Path: "/kubepods/pod" + uid + "/" + id, PodUID: uid, QoS: QoSGuaranteed}},
		{name: "plain docker", rel: "/docker/" + id, ok: true, want: Container{ID: id, Runtime: RuntimeDocker, Path: "/docker/" + id}},
		{name: "the pod itself", rel: "/kubepods/burstable/pod" + uid},
		{name: "a system service", rel: "/system.slice/sshd.service"},
		{name: "root", rel: "/"},
		{name: "not absolute", rel: "kubepods/pod" + uid + "/" + id},
		{name: "empty component", rel: "/kubepods//pod" + uid + "/" + id},
		{name: "too deep", rel: strings.Repeat("/x", 40) + "/" + id},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, pod, ok := ContainerAt(tt.rel)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, c)
			require.Equal(t, tt.wantPod, pod)
		})
	}
}

// TestContainerAtAgreesWithDiscovery: every container discovery finds in the fixture trees is
// found again from its path, the same.
func TestContainerAtAgreesWithDiscovery(t *testing.T) {
	for _, root := range []string{fixtureV1, fixtureV2} {
		h, err := DetectHierarchy(root)
		require.NoError(t, err)
		tree, err := Discover(h)
		require.NoError(t, err)
		n := 0
		for _, p := range tree.Pods {
			for _, c := range p.Containers {
				got, pod, ok := ContainerAt(c.Path)
				require.True(t, ok, c.Path)
				require.Equal(t, c, got)
				require.Equal(t, p.Path, pod)
				n++
			}
		}
		require.Positive(t, n)
	}
}

// TestContainerAtAgreesOnRuntimeLayouts: in the trees real containerd, Docker and Podman made
// (testdata/runtime-layouts), each container discovery finds is found again from its path,
// and no other directory is taken for a container (a Podman pod's 64-hex directory, conmon's)
// unless it lies inside one that discovery found.
func TestContainerAtAgreesOnRuntimeLayouts(t *testing.T) {
	files, err := filepath.Glob("../../testdata/runtime-layouts/*.txt")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			root, dirs, _ := replayRuntimeLayout(t, f)
			tree, err := Discover(Hierarchy{Mode: ModeHybrid, Dir: root})
			require.NoError(t, err)
			found := map[string]Container{}
			pods := map[string]string{}
			for _, p := range tree.Pods {
				for _, c := range p.Containers {
					found[c.Path], pods[c.Path] = c, p.Path
				}
			}
			for _, c := range tree.Standalone {
				found[c.Path] = c
			}
			for _, d := range dirs {
				c, pod, ok := ContainerAt(d)
				want, isContainer := found[d]
				if isContainer {
					require.True(t, ok, d)
					require.Equal(t, want, c, d)
					require.Equal(t, pods[d], pod, d)
					continue
				}
				if ok {
					_, inside := found[c.Path]
					require.True(t, inside, "%s: ContainerAt says container %s at %s, which discovery does not find", d, c.ID, c.Path)
				}
			}
		})
	}
}
