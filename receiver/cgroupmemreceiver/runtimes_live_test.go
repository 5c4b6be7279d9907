package cgroupmemreceiver

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
	"github.com/cgroupmem/cgroupmem/internal/testruntime"
)

// The runtime tests start real containers with containerd + runc, Docker and Podman (each
// private to the test: see internal/testruntime), each running a memory workload, and hold
// what the receiver discovers and reads against the cgroups the runtimes made. They skip,
// saying why, where a runtime is not installed or cannot start.

var captureLayouts = flag.Bool("capture-runtime-layouts", false,
	"write ../../testdata/runtime-layouts/*.txt (internal/cgroupfs's discovery fixtures) from the real runtimes")

// runtimeWorkload is what every container does: 8 MiB of file in /tmp read back, 4 MiB in
// /dev/shm and 16 MiB of anonymous memory.
var runtimeWorkload = testruntime.Workload{FileMiB: 8, ShmMiB: 4, AnonMiB: 16}

// runtimeContainer is a container a runtime started and what the receiver must say of it.
type runtimeContainer struct {
	name    string
	id      string
	dir     string         // its memory cgroup in the real hierarchy
	attrs   map[string]any // the resource attributes it must have
	remove  func()         // removal by its runtime
	cgroups []string       // cgroup paths (relative to the scrape's root) that must not be containers
}

// checkRuntimeContainers scrapes once with the receiver rooted at root and checks each
// container: discovered with exactly its attributes, values between the kernel's files read
// just before and after, no container at the paths that are not containers. Then each is
// removed by its runtime, and the next two scrapes succeed without it.
func checkRuntimeContainers(t *testing.T, root string, containers []*runtimeContainer) {
	t.Helper()
	s := startScraper(t, fixtureConfig(root))
	var dirs []string
	for _, c := range containers {
		dirs = append(dirs, c.dir)
	}
	// A value the kernel moves up and back down during the scrape (slab freed after an RCU
	// grace period) can fall outside the readings around it: the scrape is taken again, up
	// to three times, until every value lies between them.
	var md pmetric.Metrics
	var before, after map[string]testcgroup.Kernel
	for attempt := 1; ; attempt++ {
		for _, d := range dirs {
			settle(t, d)
		}
		var err error
		before = readKernels(t, dirs)
		md, err = s.scrape(context.Background())
		after = readKernels(t, dirs)
		require.NoError(t, err)
		mismatch := ""
		for _, c := range containers {
			if r, ok := liveResources(md)["container "+c.id]; ok && mismatch == "" {
				mismatch = outsideKernel(r.values, before[c.dir], after[c.dir])
			}
		}
		if mismatch == "" || attempt == 3 {
			break
		}
		t.Logf("scrape %d: %s; again", attempt, mismatch)
	}
	got := liveResources(md)
	for _, c := range containers {
		r, ok := got["container "+c.id]
		require.True(t, ok, "%s: container %s not discovered; resources: %v", c.name, c.id, resourceKeys(md))
		require.Equal(t, c.attrs, r.attrs, "%s: resource attributes", c.name)
		requireMatchesKernel(t, r.values, "container.memory.", containerFields, before[c.dir], after[c.dir])
		require.GreaterOrEqual(t, r.values["container.memory.rss"], int64(runtimeWorkload.AnonMiB*mib), "%s: anonymous memory", c.name)
		require.GreaterOrEqual(t, r.values["container.memory.shmem"], int64(runtimeWorkload.ShmMiB*mib), "%s: /dev/shm", c.name)
		require.Positive(t, r.values["container.memory.active_file"], "%s: the file read back is active", c.name)
		for _, p := range c.cgroups {
			for key, r := range got {
				require.NotEqual(t, p, r.attrs["cgroup.path"], "%s: %s is not a container or a pod, found as %s", c.name, p, key)
			}
		}
	}
	for _, c := range containers {
		c.remove()
	}
	for i := range 2 {
		md, err := s.scrape(context.Background())
		require.NoError(t, err, "scrape %d after the removal", i+1)
		got := liveResources(md)
		for _, c := range containers {
			require.NotContains(t, got, "container "+c.id, "%s: removed by its runtime, still scraped", c.name)
		}
	}
}

// outsideKernel names the first container value outside the kernel's readings around it.
func outsideKernel(values map[string]int64, before, after testcgroup.Kernel) string {
	for _, f := range containerFields {
		v, ok := values["container.memory."+f.metric]
		lo, hi := min(f.kernel(before), f.kernel(after)), max(f.kernel(before), f.kernel(after))
		if ok && (v < 0 || uint64(v) < lo || uint64(v) > hi) {
			return fmt.Sprintf("container.memory.%s = %d, the kernel said %d and %d", f.metric, v, f.kernel(before), f.kernel(after))
		}
	}
	return ""
}

// settle waits, at most 5 s, until a cgroup's memory files read the same twice 100 ms apart.
func settle(t *testing.T, dir string) {
	t.Helper()
	prev := testcgroup.ReadKernel(t, dir)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		k := testcgroup.ReadKernel(t, dir)
		if k.Usage == prev.Usage && k.Kmem == prev.Kmem && maps.Equal(k.Stat, prev.Stat) {
			return
		}
		prev = k
	}
}

func podAttrs(id, uid, rel, runtime string) map[string]any {
	a := map[string]any{"container.id": id, "k8s.pod.uid": uid, "k8s.pod.qos_class": testcgroup.QoSBurstable, "cgroup.path": rel}
	if runtime != "" {
		a["container.runtime.name"] = runtime
	}
	return a
}

func TestLiveRuntimeContainerd(t *testing.T) {
	parent := testruntime.NewParent(t)
	img := testruntime.NewImage(t)
	ctrd := testruntime.StartContainerd(t)
	ref := ctrd.Import(t, img)

	uid := testruntime.NewPodUID()
	podRel := "/kubepods/burstable/pod" + uid
	start := time.Now()
	id := ctrd.Run(t, ref, parent.Path(podRel), 256*mib, runtimeWorkload.Command())
	dir := parent.Dir(podRel + "/" + id)
	runtimeWorkload.WaitReady(t, dir)
	t.Logf("containerd: container started and workload done in %v", time.Since(start).Round(time.Millisecond))
	requireLimitFile(t, dir, 256*mib)
	captureLayout(t, "containerd", parent.Dir(""), nil, []string{
		wantPod(uid, podRel), wantContainer(id, "", uid, podRel+"/"+id),
	}, "containerd", "runc")

	// The cgroupfs layout names the container by its bare id: the path does not tell
	// containerd from Docker, the shim its init runs under does.
	checkRuntimeContainers(t, parent.Root(), []*runtimeContainer{{
		name: "ctr run --cgroup " + podRel + "/<id>", id: id, dir: dir,
		attrs:  podAttrs(id, uid, podRel+"/"+id, "containerd"),
		remove: func() { ctrd.Remove(t, id) },
	}})
	require.NoDirExists(t, dir, "ctr removed the container's cgroup")
	// What ctr leaves: the pod's directory (the kubelet removes it; here Parent's cleanup).
	captureLayout(t, "containerd-removed", parent.Dir(""), nil, []string{wantPod(uid, podRel)}, "containerd", "runc")
}

func TestLiveRuntimeDocker(t *testing.T) {
	parent := testruntime.NewParent(t)
	img := testruntime.NewImage(t)
	removeIfMade(t, "docker") // before the daemons: its cleanup runs after theirs
	ctrd := testruntime.StartContainerd(t)
	docker := testruntime.StartDocker(t, ctrd)
	ref := docker.Import(t, img)

	uid := testruntime.NewPodUID()
	podRel := "/kubepods/burstable/pod" + uid
	runArgs := func(extra ...string) []string {
		args := append([]string{"run", "--detach", "--network", "none", "--memory", "256m"}, extra...)
		return append(append(args, ref), runtimeWorkload.Command()...)
	}
	inPod := docker.Docker(t, runArgs("--cgroup-parent", parent.Path(podRel))...)
	plain := docker.Docker(t, runArgs()...)
	inPodDir := parent.Dir(podRel + "/" + inPod)
	plainDir := filepath.Join("/sys/fs/cgroup/memory/docker", plain)
	runtimeWorkload.WaitReady(t, inPodDir)
	runtimeWorkload.WaitReady(t, plainDir)
	captureLayout(t, "docker-cgroup-parent", parent.Dir(""), nil, []string{
		wantPod(uid, podRel), wantContainer(inPod, "", uid, podRel+"/"+inPod),
	}, "dockerd", "runc")
	captureLayout(t, "docker-default", "/sys/fs/cgroup/memory", func(rel string) bool {
		return rel == "/docker" || rel == "/docker/"+plain
	}, []string{wantContainer(plain, "docker", "", "/docker/"+plain)}, "dockerd", "runc")

	t.Run("--cgroup-parent kubelet-shaped", func(t *testing.T) {
		checkRuntimeContainers(t, parent.Root(), []*runtimeContainer{{
			name: "docker run --cgroup-parent " + podRel, id: inPod, dir: inPodDir,
			attrs:  podAttrs(inPod, uid, podRel+"/"+inPod, "docker"),
			remove: func() { docker.Docker(t, "rm", "--force", inPod) },
		}})
	})
	// Docker's own /docker/<id> is at the top of the host's hierarchy: the receiver reads the
	// whole host, and the checks look only at this test's container.
	t.Run("default /docker/<id>", func(t *testing.T) {
		checkRuntimeContainers(t, "/", []*runtimeContainer{{
			name: "docker run", id: plain, dir: plainDir,
			attrs:  map[string]any{"container.id": plain, "container.runtime.name": "docker", "cgroup.path": "/docker/" + plain},
			remove: func() { docker.Docker(t, "rm", "--force", plain) },
		}})
	})
}

func TestLiveRuntimePodman(t *testing.T) {
	parent := testruntime.NewParent(t)
	img := testruntime.NewImage(t)
	podman := testruntime.NewPodman(t)
	ref := podman.Import(t, img)

	uid := testruntime.NewPodUID()
	podRel := "/kubepods/burstable/pod" + uid
	runArgs := func(extra ...string) []string {
		args := append([]string{"run", "--detach", "--network", "none", "--memory", "256m"}, extra...)
		return append(append(args, ref), runtimeWorkload.Command()...)
	}
	plain := podman.Podman(t, runArgs("--cgroup-parent", parent.Path(podRel))...)
	plainDir := parent.Dir(podRel + "/libpod-" + plain)

	// A Podman pod: its directory is a 64-hex name holding libpod-<id> for the infra
	// container and for ours, and conmon.
	podID := podman.Podman(t, "pod", "create", "--network", "none", "--cgroup-parent", parent.Path("/libpod_parent"))
	inPod := podman.Podman(t, runArgs("--pod", podID)...)
	infra := podman.Podman(t, "pod", "inspect", "--format", "{{.InfraContainerID}}", podID)
	podDirRel := "/libpod_parent/" + podID
	inPodDir := parent.Dir(podDirRel + "/libpod-" + inPod)
	runtimeWorkload.WaitReady(t, plainDir)
	runtimeWorkload.WaitReady(t, inPodDir)
	require.DirExists(t, parent.Dir(podRel+"/conmon"), "conmon's cgroup beside the container's")
	require.DirExists(t, parent.Dir(podDirRel+"/libpod-"+infra), "the infra container's cgroup")
	captureLayout(t, "podman", parent.Dir(""), nil, []string{
		wantPod(uid, podRel), wantContainer(plain, "podman", uid, podRel+"/libpod-"+plain),
		wantContainer(inPod, "podman", "", podDirRel+"/libpod-"+inPod),
		wantContainer(infra, "podman", "", podDirRel+"/libpod-"+infra),
	}, "podman", "runc", "conmon")

	checkRuntimeContainers(t, parent.Root(), []*runtimeContainer{
		{
			name: "podman run --cgroup-parent " + podRel, id: plain, dir: plainDir,
			attrs:   podAttrs(plain, uid, podRel+"/libpod-"+plain, "podman"),
			remove:  func() { podman.Podman(t, "rm", "--force", "--time", "0", plain) },
			cgroups: []string{podRel + "/conmon"},
		},
		{
			name: "podman run --pod", id: inPod, dir: inPodDir,
			attrs: map[string]any{"container.id": inPod, "container.runtime.name": "podman", "cgroup.path": podDirRel + "/libpod-" + inPod},
			remove: func() {
				podman.Podman(t, "rm", "--force", "--time", "0", inPod)
			},
			cgroups: []string{podDirRel, podDirRel + "/conmon"},
		},
	})
	// What podman rm leaves: conmon's directory in the kubelet-shaped parent; the pod's
	// infra container runs on.
	require.DirExists(t, parent.Dir(podRel+"/conmon"), "podman rm leaves conmon's cgroup")
	captureLayout(t, "podman-removed", parent.Dir(""), nil, []string{
		wantPod(uid, podRel), wantContainer(infra, "podman", "", podDirRel+"/libpod-"+infra),
	}, "podman", "runc", "conmon")
}

// requireLimitFile checks that the runtime set the container's limit.
func requireLimitFile(t *testing.T, dir string, want uint64) {
	t.Helper()
	k := testcgroup.ReadKernel(t, dir)
	require.Equal(t, want, k.Limit, "memory.limit_in_bytes of %s", dir)
}

// removeIfMade removes name at the top of every hierarchy at the end of the test if it did
// not exist before and is empty then (Docker's /docker parent, left behind by dockerd).
func removeIfMade(t *testing.T, name string) {
	t.Helper()
	hs, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return
	}
	var made []string
	for _, h := range hs {
		dir := filepath.Join("/sys/fs/cgroup", h.Name(), name)
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			made = append(made, dir)
		}
	}
	t.Cleanup(func() {
		for _, dir := range made {
			if err := os.Remove(dir); err != nil && !os.IsNotExist(err) && !strings.Contains(err.Error(), "busy") {
				t.Logf("leaving %s: %v", dir, err)
			}
		}
	})
}

func wantPod(uid, rel string) string {
	return fmt.Sprintf("want pod %s %s %s", uid, testcgroup.QoSBurstable, rel)
}

func wantContainer(id, runtime, podUID, rel string) string {
	return fmt.Sprintf("want container %s %s %s %s", id, orDash(runtime), orDash(podUID), rel)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// captureLayout writes, with -capture-runtime-layouts, the directories under memDir (those
// include accepts, when it is not nil) as a fixture of internal/cgroupfs's discovery tests,
// with what discovery must find in them: the ids the runtimes returned and the paths the
// test gave them.
func captureLayout(t *testing.T, name, memDir string, include func(rel string) bool, want []string, versionOf ...string) {
	t.Helper()
	if !*captureLayouts {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: the cgroup v1 memory hierarchy as real runtimes laid it out, captured by\n", name)
	fmt.Fprintf(&b, "# go test ./receiver/cgroupmemreceiver -run %s -capture-runtime-layouts\n", t.Name())
	for _, bin := range versionOf {
		out, _ := exec.Command(bin, "--version").CombinedOutput()
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		fmt.Fprintf(&b, "# %s\n", line)
	}
	b.WriteString("# \"dir\" lines are directories (relative to the hierarchy); \"want\" lines what discovery must find:\n")
	b.WriteString("# pod <uid> <qos> <path>, container <id> <runtime|-> <pod uid|-> <path>.\n")
	require.NoError(t, filepath.WalkDir(memDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || path == memDir {
			return err
		}
		rel := "/" + strings.TrimPrefix(path, memDir+"/")
		if include != nil && !include(rel) {
			if d.Name() != "docker" || path != filepath.Join(memDir, "docker") {
				return fs.SkipDir
			}
			return nil
		}
		fmt.Fprintf(&b, "dir %s\n", rel)
		return nil
	}))
	for _, w := range want {
		b.WriteString(w + "\n")
	}
	out := filepath.Join("..", "..", "testdata", "runtime-layouts", name+".txt")
	require.NoError(t, os.MkdirAll(filepath.Dir(out), 0o755))
	require.NoError(t, os.WriteFile(out, []byte(b.String()), 0o644))
}
