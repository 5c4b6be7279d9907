package testruntime

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

// commandTimeout bounds one runtime command (ctr, docker, podman).
const commandTimeout = 90 * time.Second

// daemonTimeout bounds how long a daemon may take to answer its first request.
const daemonTimeout = 20 * time.Second

// requireRoot skips the test unless it runs as root and every binary is installed.
func requireRoot(tb testing.TB, what string, binaries ...string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skipf("testruntime: %s needs root (euid %d)", what, os.Geteuid())
	}
	for _, b := range binaries {
		if _, err := exec.LookPath(b); err != nil {
			tb.Skipf("testruntime: %s is not installed (%s: %v); .ci/run installs it from Debian", what, b, err)
		}
	}
}

// workDir makes a short private directory under /tmp (unix socket paths are limited to 108
// bytes, too short for t.TempDir's) and registers its removal, after unmounting whatever a
// runtime left mounted under it.
func workDir(tb testing.TB, prefix string) string {
	tb.Helper()
	dir, err := os.MkdirTemp("/tmp", prefix)
	if err != nil {
		tb.Fatalf("testruntime: %v", err)
	}
	tb.Cleanup(func() {
		unmountUnder(dir)
		if err := os.RemoveAll(dir); err != nil {
			tb.Logf("testruntime: removing %s: %v", dir, err)
		}
	})
	return dir
}

// unmountUnder lazily unmounts every mount point under dir, deepest first.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		_ = syscall.Unmount(points[i], syscall.MNT_DETACH)
	}
}

// daemon is a runtime daemon the test started.
type daemon struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startDaemon(tb testing.TB, name, log string, args ...string) *daemon {
	tb.Helper()
	f, err := os.Create(log)
	if err != nil {
		tb.Fatalf("testruntime: %v", err)
	}
	defer f.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Skipf("testruntime: %s cannot start: %v", name, err)
	}
	d := &daemon{name: name, cmd: cmd, log: log, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(d.done) }()
	return d
}

// waitReady polls ready until it succeeds; a daemon that exits or does not answer in time
// skips the test with the end of its log.
func (d *daemon) waitReady(tb testing.TB, ready func() error) {
	tb.Helper()
	deadline := time.Now().Add(daemonTimeout)
	for {
		err := ready()
		if err == nil {
			return
		}
		select {
		case <-d.done:
			tb.Skipf("testruntime: %s exited at start (%v): %s", d.name, d.cmd.ProcessState, d.logTail())
		default:
		}
		if time.Now().After(deadline) {
			d.stop(tb)
			tb.Skipf("testruntime: %s not ready after %s (%v): %s", d.name, daemonTimeout, err, d.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *daemon) logTail() string {
	b, _ := os.ReadFile(d.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// stop sends SIGTERM and waits, then SIGKILL: only to the daemon's own process.
func (d *daemon) stop(tb testing.TB) {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return
	case <-time.After(15 * time.Second):
	}
	tb.Logf("testruntime: %s ignored SIGTERM for 15 s; killing it", d.name)
	_ = d.cmd.Process.Kill()
	<-d.done
}

// run runs a runtime command and returns its standard output, trimmed.
func run(env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Containerd is a private containerd daemon.
type Containerd struct {
	Address   string
	Namespace string
	dir       string
	d         *daemon
}

// StartContainerd starts containerd with its own socket, root and state (its CRI plugin off)
// and registers the removal of every container in its namespace and its stop.
func StartContainerd(tb testing.TB) *Containerd {
	tb.Helper()
	requireRoot(tb, "containerd", "containerd", "ctr", "runc", "containerd-shim-runc-v2")
	dir := workDir(tb, "cgm-ctrd-")
	c := &Containerd{Address: filepath.Join(dir, "c.sock"), Namespace: "cgroupmem-test", dir: dir}
	config := fmt.Sprintf("version = 2\nroot = %q\nstate = %q\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"+
		"[grpc]\n  address = %q\n[ttrpc]\n  address = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.Address, c.Address+".ttrpc")
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o644); err != nil {
		tb.Fatalf("testruntime: %v", err)
	}
	c.d = startDaemon(tb, "containerd", filepath.Join(dir, "containerd.log"), "containerd", "--config", filepath.Join(dir, "config.toml"))
	tb.Cleanup(func() { c.d.stop(tb) })
	c.d.waitReady(tb, func() error { _, err := c.ctr("version"); return err })
	tb.Cleanup(func() { c.removeAll(tb) })
	return c
}

func (c *Containerd) ctr(args ...string) (string, error) {
	return run(nil, "ctr", append([]string{"--address", c.Address, "--namespace", c.Namespace}, args...)...)
}

// Ctr runs ctr on this containerd, in the test's namespace, and fails the test on an error.
func (c *Containerd) Ctr(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := c.ctr(args...)
	if err != nil {
		tb.Fatalf("testruntime: %v", err)
	}
	return out
}

// Import imports the image's docker-archive and returns its reference.
func (c *Containerd) Import(tb testing.TB, img *Image) string {
	tb.Helper()
	c.Ctr(tb, "images", "import", img.DockerArchive)
	return img.Ref
}

// Run starts a detached container whose cgroup is cgroupPath (absolute, in every
// hierarchy), with a memory limit when limit > 0, and returns its id (64 hex).
func (c *Containerd) Run(tb testing.TB, ref, cgroupPath string, limit uint64, command []string) string {
	tb.Helper()
	id := NewID()
	args := []string{"run", "--detach", "--cgroup", cgroupPath + "/" + id}
	if limit > 0 {
		args = append(args, "--memory-limit", strconv.FormatUint(limit, 10))
	}
	c.Ctr(tb, append(append(args, ref, id), command...)...)
	return id
}

// Remove kills a container's task and deletes the task and the container, as a kubelet's
// container removal does; the runtime removes the container's cgroup.
func (c *Containerd) Remove(tb testing.TB, id string) {
	tb.Helper()
	if err := c.remove(id); err != nil {
		tb.Fatalf("testruntime: %v", err)
	}
}

func (c *Containerd) remove(id string) error {
	_, _ = c.ctr("tasks", "kill", "--signal", "SIGKILL", id)
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err = c.ctr("tasks", "delete", id); err == nil || strings.Contains(err.Error(), "not found") {
			err = nil
			break
		}
	}
	if err != nil {
		return err
	}
	_, err = c.ctr("containers", "delete", id)
	return err
}

func (c *Containerd) removeAll(tb testing.TB) {
	out, err := c.ctr("containers", "list", "--quiet")
	if err != nil {
		tb.Logf("testruntime: listing containerd's containers: %v", err)
		return
	}
	for _, id := range strings.Fields(out) {
		if err := c.remove(id); err != nil {
			tb.Errorf("testruntime: cleanup: %v", err)
		}
	}
}

// Docker is a private dockerd on a private containerd.
type Docker struct {
	env []string
	dir string
	d   *daemon
	cli string
}

// StartDocker starts dockerd on c with its own data root, exec root and socket, no bridge
// and no iptables rules, and registers the removal of every container and its stop.
func StartDocker(tb testing.TB, c *Containerd) *Docker {
	tb.Helper()
	requireRoot(tb, "Docker", "dockerd")
	dir := workDir(tb, "cgm-dkr-")
	d := &Docker{dir: dir, cli: "docker"}
	// Debian's client matches Debian's daemon; another docker earlier in PATH may not.
	if _, err := os.Stat("/usr/bin/docker"); err == nil {
		d.cli = "/usr/bin/docker"
	} else if _, err := exec.LookPath("docker"); err != nil {
		tb.Skipf("testruntime: Docker's client is not installed: %v", err)
	}
	sock := filepath.Join(dir, "d.sock")
	d.env = []string{"DOCKER_HOST=unix://" + sock, "DOCKER_CONFIG=" + filepath.Join(dir, "cli")}
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		tb.Fatalf("testruntime: %v", err)
	}
	d.d = startDaemon(tb, "dockerd", filepath.Join(dir, "dockerd.log"), "dockerd",
		"--containerd="+c.Address, "--data-root="+filepath.Join(dir, "data"), "--exec-root="+filepath.Join(dir, "x"),
		"--pidfile="+filepath.Join(dir, "docker.pid"), "--config-file="+filepath.Join(dir, "daemon.json"),
		"-H", "unix://"+sock, "--bridge=none", "--iptables=false", "--ip-masq=false", "--userland-proxy=false",
		"--exec-opt", "native.cgroupdriver=cgroupfs")
	tb.Cleanup(func() { d.d.stop(tb) })
	d.d.waitReady(tb, func() error { _, err := d.docker("version"); return err })
	tb.Cleanup(func() {
		out, err := d.docker("ps", "--all", "--quiet", "--no-trunc")
		if err != nil {
			tb.Logf("testruntime: listing Docker's containers: %v", err)
			return
		}
		for _, id := range strings.Fields(out) {
			if _, err := d.docker("rm", "--force", id); err != nil {
				tb.Errorf("testruntime: cleanup: %v", err)
			}
		}
	})
	return d
}

func (d *Docker) docker(args ...string) (string, error) { return run(d.env, d.cli, args...) }

// Docker runs the docker client on this daemon and fails the test on an error.
func (d *Docker) Docker(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := d.docker(args...)
	if err != nil {
		tb.Fatalf("testruntime: %v", err)
	}
	return out
}

// Import imports the image's root filesystem and returns its reference.
func (d *Docker) Import(tb testing.TB, img *Image) string {
	tb.Helper()
	const ref = "cgroupmem.test/busybox:docker"
	d.Docker(tb, "import", "--change", "ENV PATH=/bin", "--change", `CMD ["/bin/sh"]`, img.Rootfs, ref)
	return ref
}

// Podman runs podman with its own storage, run root and containers.conf (runc, cgroupfs,
// file events, ulimits this host allows).
type Podman struct {
	args []string
	env  []string
}

// NewPodman prepares podman and registers the removal of every pod and container it made.
func NewPodman(tb testing.TB) *Podman {
	tb.Helper()
	requireRoot(tb, "Podman", "podman", "runc", "conmon")
	dir := workDir(tb, "cgm-pdm-")
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		tb.Fatalf("testruntime: %v", err)
	}
	// Podman asks for 1,048,576 open files by default, above this host's hard limit; crun
	// refuses a hybrid hierarchy with a controller on the v2 side, so runc.
	conf := fmt.Sprintf("[containers]\ndefault_ulimits = [\"nofile=%d:%d\", \"nproc=4096:4096\"]\n"+
		"[engine]\nevents_logger = \"file\"\ncgroup_manager = \"cgroupfs\"\nruntime = \"runc\"\n", rl.Max, rl.Max)
	confPath := filepath.Join(dir, "containers.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		tb.Fatalf("testruntime: %v", err)
	}
	p := &Podman{
		args: []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
			"--tmpdir", filepath.Join(dir, "tmp"), "--storage-driver", "overlay"},
		env: []string{"CONTAINERS_CONF=" + confPath},
	}
	tb.Cleanup(func() {
		if _, err := p.podman("rm", "--all", "--force", "--time", "0"); err != nil {
			tb.Errorf("testruntime: cleanup: %v", err)
		}
		if _, err := p.podman("pod", "rm", "--all", "--force"); err != nil {
			tb.Errorf("testruntime: cleanup: %v", err)
		}
	})
	if _, err := p.podman("version"); err != nil {
		tb.Skipf("testruntime: podman cannot run: %v", err)
	}
	return p
}

func (p *Podman) podman(args ...string) (string, error) {
	return run(p.env, "podman", append(append([]string{}, p.args...), args...)...)
}

// Podman runs podman and fails the test on an error.
func (p *Podman) Podman(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := p.podman(args...)
	if err != nil {
		tb.Fatalf("testruntime: %v", err)
	}
	return out
}

// Import imports the image's root filesystem and returns its reference.
func (p *Podman) Import(tb testing.TB, img *Image) string {
	tb.Helper()
	const ref = "cgroupmem.test/busybox:podman"
	p.Podman(tb, "import", "--change", "ENV PATH=/bin", img.Rootfs, ref)
	return ref
}

// Parent is a unique cgroup directory, cgroupmem-rt-<random>, created at the top of the
// memory and unified hierarchies, under which the test's runtimes put their containers.
// Root is a host root for the receiver whose hierarchies are those directories, so
// discovery sees paths exactly as a node would (/kubepods/burstable/pod<uid>/<id>) and no
// one else's cgroups. Its cleanup removes the directory and everything under it in every
// hierarchy, after killing any process left there.
type Parent struct {
	Name string // cgroupmem-rt-<random>
	root string
}

// hierarchies is where the host mounts its cgroup hierarchies.
const hierarchies = "/sys/fs/cgroup"

// NewParent creates the parent; register it before starting the runtimes, so that its
// cleanup runs after theirs.
func NewParent(tb testing.TB) *Parent {
	tb.Helper()
	requireRoot(tb, "a cgroup parent")
	p := &Parent{Name: "cgroupmem-rt-" + testcgroup.NewContainerID()[:12]}
	memory := filepath.Join(hierarchies, "memory")
	if _, err := os.Stat(filepath.Join(memory, "memory.stat")); err != nil {
		tb.Skipf("testruntime: no cgroup v1 memory controller at %s: %v", memory, err)
	}
	tb.Cleanup(func() { p.remove(tb) })
	links := [][2]string{{"/proc", "proc"}}
	for _, h := range []string{"memory", "unified"} {
		if _, err := os.Stat(filepath.Join(hierarchies, h)); err != nil {
			continue
		}
		if err := os.Mkdir(filepath.Join(hierarchies, h, p.Name), 0o755); err != nil {
			tb.Fatalf("testruntime: %v", err)
		}
		links = append(links, [2]string{filepath.Join(hierarchies, h, p.Name), filepath.Join("sys/fs/cgroup", h)})
	}
	p.root = tb.TempDir()
	if err := os.MkdirAll(filepath.Join(p.root, "sys/fs/cgroup"), 0o755); err != nil {
		tb.Fatalf("testruntime: %v", err)
	}
	for _, l := range links {
		if err := os.Symlink(l[0], filepath.Join(p.root, l[1])); err != nil {
			tb.Fatalf("testruntime: %v", err)
		}
	}
	return p
}

// Root is the host root for the receiver's root_path.
func (p *Parent) Root() string { return p.root }

// Path is the absolute cgroup path, as a runtime's --cgroup-parent takes it, of rel (a path
// under the parent such as /kubepods/burstable/pod<uid>).
func (p *Parent) Path(rel string) string { return "/" + p.Name + rel }

// Dir is rel's directory in the real memory hierarchy.
func (p *Parent) Dir(rel string) string { return filepath.Join(hierarchies, "memory", p.Name, rel) }

func (p *Parent) remove(tb testing.TB) {
	entries, err := os.ReadDir(hierarchies)
	if err != nil {
		tb.Errorf("testruntime: %v", err)
		return
	}
	for _, e := range entries {
		if err := RemoveTree(filepath.Join(hierarchies, e.Name(), p.Name)); err != nil {
			tb.Errorf("testruntime: cleanup: %v", err)
		}
	}
}

// RemoveTree removes a cgroup directory and the cgroups under it, children first, killing
// the processes left in each (testcgroup.RemoveTree). Use it only on a tree the test made.
func RemoveTree(dir string) error { return testcgroup.RemoveTree(dir) }

// NewPodUID returns a random RFC 4122-shaped pod UID.
func NewPodUID() string { return testcgroup.NewPodUID() }

// NewID returns a random 64-hex container id.
func NewID() string { return testcgroup.NewContainerID() }
