package cgroupfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

const (
	fixtureV1 = "../../testdata/v1-hybrid-kernel-6.18"
	fixtureV2 = "../../testdata/v2-kernel-6.18"
	workload  = "aaaaaaaa11111111111111111111111111111111111111111111111111111111"
	pause     = "bbbbbbbb22222222222222222222222222222222222222222222222222222222"
	idle      = "cccccccc33333333333333333333333333333333333333333333333333333333"
	uidApp    = "3f0a9d1e-7c55-4b8e-9a31-2d4be2f1c0aa"
	uidIdle   = "8b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
)

func TestDetectHierarchy(t *testing.T) {
	tests := []struct {
		name     string
		root     string
		wantMode Mode
		wantDir  string
		wantErr  error
	}{
		{name: "v1 hybrid capture", root: fixtureV1, wantMode: ModeHybrid, wantDir: fixtureV1 + "/sys/fs/cgroup/memory"},
		{name: "v2 capture", root: fixtureV2, wantMode: ModeV2, wantDir: fixtureV2 + "/sys/fs/cgroup"},
		{name: "empty root", root: t.TempDir(), wantErr: ErrNoMemoryController},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := DetectHierarchy(tt.root)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantMode, h.Mode)
			require.Equal(t, filepath.Clean(tt.wantDir), filepath.Clean(h.Dir))
		})
	}
}

func TestDetectHierarchyV1WithoutUnified(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "sys/fs/cgroup/memory/memory.stat"), "cache 0\n")
	h, err := DetectHierarchy(root)
	require.NoError(t, err)
	require.Equal(t, ModeV1, h.Mode)
}

func TestDetectHierarchyV2WithoutMemoryController(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "sys/fs/cgroup/cgroup.controllers"), "cpu io pids\n")
	_, err := DetectHierarchy(root)
	require.ErrorIs(t, err, ErrNoMemoryController)
}

func TestDiscoverFixtures(t *testing.T) {
	tests := []struct {
		name string
		root string
		want Tree
	}{
		{name: "v1 cgroupfs driver", root: fixtureV1, want: Tree{Pods: []Pod{
			{UID: uidApp, QoS: QoSBurstable, Path: "/kubepods/burstable/pod" + uidApp, Containers: []Container{
				{ID: workload, Path: "/kubepods/burstable/pod" + uidApp + "/" + workload, PodUID: uidApp, QoS: QoSBurstable},
				{ID: pause, Path: "/kubepods/burstable/pod" + uidApp + "/" + pause, PodUID: uidApp, QoS: QoSBurstable},
			}},
			{UID: uidIdle, QoS: QoSGuaranteed, Path: "/kubepods/pod" + uidIdle, Containers: []Container{
				{ID: idle, Path: "/kubepods/pod" + uidIdle + "/" + idle, PodUID: uidIdle, QoS: QoSGuaranteed},
			}},
		}}},
		{name: "v2 systemd driver containerd", root: fixtureV2, want: Tree{Pods: []Pod{
			{UID: uidApp, QoS: QoSBurstable, Path: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f0a9d1e_7c55_4b8e_9a31_2d4be2f1c0aa.slice", Containers: []Container{
				{ID: workload, Runtime: RuntimeContainerd, Path: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f0a9d1e_7c55_4b8e_9a31_2d4be2f1c0aa.slice/cri-containerd-" + workload + ".scope", PodUID: uidApp, QoS: QoSBurstable},
				{ID: pause, Runtime: RuntimeContainerd, Path: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f0a9d1e_7c55_4b8e_9a31_2d4be2f1c0aa.slice/cri-containerd-" + pause + ".scope", PodUID: uidApp, QoS: QoSBurstable},
			}},
			{UID: uidIdle, QoS: QoSGuaranteed, Path: "/kubepods.slice/kubepods-pod8b1c2d3e_4f50_4a6b_8c7d_9e0f1a2b3c4d.slice", Containers: []Container{
				{ID: idle, Runtime: RuntimeContainerd, Path: "/kubepods.slice/kubepods-pod8b1c2d3e_4f50_4a6b_8c7d_9e0f1a2b3c4d.slice/cri-containerd-" + idle + ".scope", PodUID: uidIdle, QoS: QoSGuaranteed},
			}},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := DetectHierarchy(tt.root)
			require.NoError(t, err)
			got, err := Discover(h)
			require.NoError(t, err)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Fatalf("Discover (-want +got):\n%s", d)
			}
		})
	}
}

// TestDiscoverLayouts builds each runtime's and driver's layout as empty directories.
func TestDiscoverLayouts(t *testing.T) {
	const uid = "11111111-2222-3333-4444-555555555555"
	const uidU = "11111111_2222_3333_4444_555555555555"
	dirs := []string{
		"kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice/crio-" + id64 + ".scope/container",
		"kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice/crio-conmon-" + id64 + ".scope",
		"system.slice/docker-" + id64 + ".scope",
		"docker/" + id64,
		"machine.slice/libpod-" + id64 + ".scope/container",
		"machine.slice/libpod-conmon-" + id64 + ".scope",
		"system.slice/containerd.service",
	}
	root := t.TempDir()
	for _, d := range dirs {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	got, err := Discover(Hierarchy{Mode: ModeV2, Dir: root})
	require.NoError(t, err)
	pod := "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice"
	want := Tree{
		Pods: []Pod{{UID: uid, QoS: QoSBestEffort, Path: pod, Containers: []Container{
			{ID: id64, Runtime: RuntimeCRIO, Path: pod + "/crio-" + id64 + ".scope", PodUID: uid, QoS: QoSBestEffort},
		}}},
		Standalone: []Container{
			{ID: id64, Runtime: RuntimeDocker, Path: "/docker/" + id64},
			{ID: id64, Runtime: RuntimePodman, Path: "/machine.slice/libpod-" + id64 + ".scope"},
			{ID: id64, Runtime: RuntimeDocker, Path: "/system.slice/docker-" + id64 + ".scope"},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("Discover (-want +got):\n%s", d)
	}
}

func TestDiscoverMissingHierarchyIsQuiet(t *testing.T) {
	got, err := Discover(Hierarchy{Mode: ModeV2, Dir: filepath.Join(t.TempDir(), "gone")})
	require.NoError(t, err)
	require.Empty(t, got.Pods)
}

func TestDiscoverUnreadableDirectoryNamesIt(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads directories whatever their mode")
	}
	root := t.TempDir()
	locked := filepath.Join(root, "locked")
	require.NoError(t, os.Mkdir(locked, 0o000))
	t.Cleanup(func() { _ = os.Chmod(locked, 0o755) })
	_, err := Discover(Hierarchy{Mode: ModeV2, Dir: root})
	require.ErrorContains(t, err, locked)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

// replayRuntimeLayout makes, in a temporary root, the directories of a runtime layout file
// (testdata/runtime-layouts: "dir <path>" lines), and returns the root, those directories
// and the file's "want <line>" lines.
func replayRuntimeLayout(t *testing.T, file string) (root string, dirs, want []string) {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	root = t.TempDir()
	for _, line := range strings.Split(string(b), "\n") {
		if d, ok := strings.CutPrefix(line, "dir "); ok {
			dirs = append(dirs, d)
			require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
		} else if w, ok := strings.CutPrefix(line, "want "); ok {
			want = append(want, w)
		}
	}
	return root, dirs, want
}

// TestDiscoverRuntimeLayouts replays the directory trees that real containerd, Docker and
// Podman made (testdata/runtime-layouts, captured by the receiver's TestLiveRuntime* tests
// with -capture-runtime-layouts): discovery finds exactly the pods and containers the
// runtimes started, not Podman's pod directories (64-hex names too) nor conmon's.
func TestDiscoverRuntimeLayouts(t *testing.T) {
	files, err := filepath.Glob("../../testdata/runtime-layouts/*.txt")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			root, _, want := replayRuntimeLayout(t, f)
			require.NotEmpty(t, want)
			tree, err := Discover(Hierarchy{Mode: ModeHybrid, Dir: root})
			require.NoError(t, err)
			dash := func(s string) string {
				if s == "" {
					return "-"
				}
				return s
			}
			var got []string
			for _, p := range tree.Pods {
				got = append(got, fmt.Sprintf("pod %s %s %s", p.UID, p.QoS, p.Path))
				for _, c := range p.Containers {
					require.Equal(t, p.UID, c.PodUID)
					got = append(got, fmt.Sprintf("container %s %s %s %s", c.ID, dash(c.Runtime), c.PodUID, c.Path))
				}
			}
			for _, c := range tree.Standalone {
				got = append(got, fmt.Sprintf("container %s %s - %s", c.ID, dash(c.Runtime), c.Path))
			}
			require.ElementsMatch(t, want, got)
		})
	}
}

// TestDiscoverSkipsMisplacedPods builds, beside a real pod of each driver, directories named
// like pods where no kubelet puts them: only the real ones are pods.
func TestDiscoverSkipsMisplacedPods(t *testing.T) {
	const uid = "11111111-2222-3333-4444-555555555555"
	const victim = "99999999-8888-4777-8666-555555555555"
	const victimU = "99999999_8888_4777_8666_555555555555"
	dirs := []string{
		"kubepods/burstable/pod" + uid + "/" + id64,
		// A delegated user's subtree, named after another tenant's pod (cgroupfs and systemd).
		"user.slice/user-1000.slice/user@1000.service/kubepods/pod" + victim + "/" + id64,
		"user.slice/user-1000.slice/user@1000.service/kubepods.slice/kubepods-pod" + victimU + ".slice/cri-containerd-" + id64 + ".scope",
		// pod<uid> anywhere else, a QoS directory outside kubepods, a kubepods too deep.
		"tenant/a/b/pod" + victim + "/" + id64,
		"tenant/burstable/pod" + victim + "/" + id64,
		"a/b/c/kubepods/pod" + victim + "/" + id64,
		// A systemd pod slice whose slices do not chain from the top.
		"tenant.slice/kubepods.slice/kubepods-pod" + victimU + ".slice/cri-containerd-" + id64 + ".scope",
		"kubepods.slice/kubepods-besteffort.slice/kubepods-burstable-pod" + victimU + ".slice/cri-containerd-" + id64 + ".scope",
	}
	root := t.TempDir()
	for _, d := range dirs {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	got, err := Discover(Hierarchy{Mode: ModeV1, Dir: root})
	require.NoError(t, err)
	pod := "/kubepods/burstable/pod" + uid
	want := []Pod{{UID: uid, QoS: QoSBurstable, Path: pod, Containers: []Container{
		{ID: id64, Path: pod + "/" + id64, PodUID: uid, QoS: QoSBurstable},
	}}}
	if d := cmp.Diff(want, got.Pods); d != "" {
		t.Fatalf("pods (-want +got):\n%s", d)
	}
	require.Empty(t, got.Standalone, "a bare container ID outside a pod and /docker is no container")
}

// TestDiscoverSkipsDirectoriesOfOtherOwners chowns a pod, a container of a real pod and a
// standalone container to another uid, as a delegated or rootless user's would be: none is
// reported, nor anything under them.
func TestDiscoverSkipsDirectoriesOfOtherOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	const uid = "11111111-2222-3333-4444-555555555555"
	const victim = "99999999-8888-4777-8666-555555555555"
	const other = "abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd"
	root := t.TempDir()
	mk := func(rel string, owner int) {
		dir := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.Chown(dir, owner, owner))
	}
	mk("kubepods/burstable/pod"+uid+"/"+id64, 0)
	mk("kubepods/burstable/pod"+uid+"/"+other, 54321)   // a forged container in a real pod
	mk("kubepods/burstable/pod"+victim, 54321)          // a forged pod
	mk("kubepods/burstable/pod"+victim+"/"+id64, 54321) // and its container
	mk("system.slice/docker-"+other+".scope", 54321)    // a forged standalone container
	mk("delegated", 54321)                              // a delegated subtree,
	mk("delegated/kubepods/pod"+victim+"/"+id64, 0)     // root-owned inside: not descended into

	got, err := Discover(Hierarchy{Mode: ModeV1, Dir: root})
	require.NoError(t, err)
	pod := "/kubepods/burstable/pod" + uid
	want := Tree{Pods: []Pod{{UID: uid, QoS: QoSBurstable, Path: pod, Containers: []Container{
		{ID: id64, Path: pod + "/" + id64, PodUID: uid, QoS: QoSBurstable},
	}}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("Discover (-want +got):\n%s", d)
	}
}
