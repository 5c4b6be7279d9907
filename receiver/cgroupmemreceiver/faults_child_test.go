package cgroupmemreceiver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap/zapcore"
)

// faultChildEnv runs TestFaultChild as the child of a fault test: its value is the child's
// faultSpec in JSON.
const faultChildEnv = "CGROUPMEM_FAULT_CHILD"

// faultSpec is what a fault test's child scrapes, and how.
type faultSpec struct {
	Root    string `json:"root"`
	Scrapes int    `json:"scrapes"`
	// EMFILE: the child's open-file limit is lowered to the descriptors it has open before
	// its scrapes, plus FreeFDs, and raised again before one more.
	EMFILE  bool `json:"emfile"`
	FreeFDs int  `json:"free_fds"`
	// EBPF turns eBPF dentry accounting on.
	EBPF bool `json:"ebpf"`
	// NoSysAdmin runs the child as root without CAP_SYS_ADMIN (setpriv): setns is refused.
	NoSysAdmin bool `json:"no_sys_admin"`
	// Sockets turns the socket receive-queue metrics on (fixtureConfig has them off).
	Sockets bool `json:"sockets"`
}

// faultResult is what the child saw in each scrape: the error, and each container's values.
type faultResult struct {
	Errors     []string                      `json:"errors"`
	Containers []map[string]map[string]int64 `json:"containers"`
	Warnings   []string                      `json:"warnings"` // the messages logged at warn level or above
	// Infos are the info-level messages, with their "kind" field where they have one.
	Infos []string `json:"infos"`
	// Sources are, per scrape, each container's container.memory.socket.source.
	Sources []map[string]string `json:"sources"`
}

// TestFaultChild is the child process of the fault tests; it is skipped otherwise.
func TestFaultChild(t *testing.T) {
	raw := os.Getenv(faultChildEnv)
	if raw == "" {
		t.Skip("the child of the fault tests")
	}
	var spec faultSpec
	require.NoError(t, json.Unmarshal([]byte(raw), &spec))
	cfg := fixtureConfig(spec.Root)
	if spec.EBPF {
		cfg.DentryAccounting.Mode = dentryAccountingEBPF
	}
	if spec.Sockets {
		cfg.Metrics.ContainerMemorySockRcvq.Enabled = true
		cfg.Metrics.ContainerMemorySockRcvqPayload.Enabled = true
		cfg.Metrics.ContainerMemorySockRcvqSockets.Enabled = true
	}
	s, logs := startScraperLogging(t, cfg, zapcore.InfoLevel)
	var res faultResult
	scrape := func() {
		md, err := s.scrape(context.Background())
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		res.Errors = append(res.Errors, msg)
		res.Containers = append(res.Containers, allContainerValues(md))
		sources := map[string]string{}
		for id := range res.Containers[len(res.Containers)-1] {
			if p, ok := socketPoints(md, id)["container.memory.sock_rcvq"]; ok {
				sources[id] = p.source
			}
		}
		res.Sources = append(res.Sources, sources)
	}
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if spec.EMFILE {
		low := lim
		low.Cur = uint64(fdLimitLeaving(t, spec.FreeFDs))
		require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low))
	}
	for range spec.Scrapes {
		scrape()
	}
	if spec.EMFILE {
		require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
		scrape()
	}
	for _, l := range logs.All() {
		if l.Level >= zapcore.WarnLevel {
			res.Warnings = append(res.Warnings, l.Message)
			continue
		}
		msg := l.Message
		if kind, ok := l.ContextMap()["kind"]; ok {
			msg += " " + fmt.Sprint(kind)
		}
		res.Infos = append(res.Infos, msg)
	}
	b, err := json.Marshal(res)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(os.Getenv(faultChildEnv+"_OUT"), b, 0o644))
}

// fdLimitLeaving is the open-file limit under which exactly free more descriptors can be
// opened. The limit caps descriptor numbers, not their count: the descriptors a process
// inherits need not be contiguous (a test run from a shell that keeps 10 and 255 open leaves
// holes below them), so the limit is the number below which exactly free numbers are unused.
func fdLimitLeaving(t *testing.T, free int) int {
	t.Helper()
	f, err := os.Open("/proc/self/fd")
	require.NoError(t, err)
	names, err := f.Readdirnames(-1)
	own := int(f.Fd())
	require.NoError(t, f.Close())
	require.NoError(t, err)
	used := map[int]bool{}
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		require.NoError(t, err)
		used[fd] = fd != own // the directory's own descriptor is closed again
	}
	limit := 0
	for unused := 0; ; limit++ {
		if !used[limit] {
			if unused == free {
				return limit
			}
			unused++
		}
	}
}

// allContainerValues is containerValues of every container of a scrape, by ID.
func allContainerValues(md pmetric.Metrics) map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	for _, rm := range md.ResourceMetrics().All() {
		if id, ok := rm.Resource().Attributes().Get("container.id"); ok {
			out[id.Str()] = containerValues(md, id.Str())
		}
	}
	return out
}

// runFaultChild runs TestFaultChild in a copy of the test binary, with cred when set, and
// returns what it saw. The binary and the output go to a directory anyone may enter, so
// that an unprivileged child can run and write.
func runFaultChild(t *testing.T, spec faultSpec, cred *syscall.Credential) faultResult {
	t.Helper()
	dir := worldDir(t)
	self, err := os.Executable()
	require.NoError(t, err)
	bin := filepath.Join(dir, "receiver.test")
	src, err := os.Open(self)
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, err)
	require.NoError(t, dst.Close())
	out := filepath.Join(dir, "result.json")
	require.NoError(t, os.WriteFile(out, nil, 0o666))
	require.NoError(t, os.Chmod(out, 0o666))

	b, err := json.Marshal(spec)
	require.NoError(t, err)
	cmd := exec.Command(bin, "-test.run=^TestFaultChild$", "-test.count=1")
	if spec.NoSysAdmin {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Skip("no setpriv to drop CAP_SYS_ADMIN")
		}
		cmd = exec.Command(setpriv, "--inh-caps=-sys_admin", "--bounding-set=-sys_admin", "--",
			bin, "-test.run=^TestFaultChild$", "-test.count=1")
	}
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), faultChildEnv+"="+string(b), faultChildEnv+"_OUT="+out, "GOCOVERDIR=")
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	output, err := cmd.CombinedOutput()
	require.NoError(t, err, "the child failed or panicked:\n%s", output)
	require.NotContains(t, string(output), "panic")
	var res faultResult
	rb, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(rb, &res), "child output:\n%s", output)
	return res
}

// worldDir is a temporary directory that any user may enter and read.
func worldDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cgroupmem-fault-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	return dir
}

// worldCopy copies a fixture root into a worldDir, every directory 0755 and file 0644.
func worldCopy(t *testing.T, fixture string) string {
	t.Helper()
	root := filepath.Join(worldDir(t), "root")
	require.NoError(t, os.CopyFS(root, os.DirFS(fixtureRoot(fixture))))
	require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return os.Chmod(p, 0o644)
	}))
	return root
}

// TestFaultNonRoot runs the scraper as nobody, without capabilities, on a host root where one
// container's memory.stat and /proc/slabinfo are root's alone (0600, as /proc/slabinfo is on
// a real host), and eBPF dentry accounting asked for: loading it is refused, which is said
// once at start; each scrape names the two files with "permission denied", and every other
// metric is the same as root's scrape of the same root.
func TestFaultNonRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a child as nobody")
	}
	root := worldCopy(t, "v1-hybrid-kernel-6.18")
	stat := filepath.Join(root, "sys/fs/cgroup/memory/kubepods/burstable/pod3f0a9d1e-7c55-4b8e-9a31-2d4be2f1c0aa", fixtureWorkload, "memory.stat")
	slabinfo := filepath.Join(root, "proc/slabinfo")
	for _, f := range []string{stat, slabinfo} {
		require.NoError(t, os.Chmod(f, 0o600))
	}
	asRoot := runFaultChild(t, faultSpec{Root: root, Scrapes: 1}, nil)
	require.Equal(t, []string{""}, asRoot.Errors, "root reads everything")
	nobody := runFaultChild(t, faultSpec{Root: root, Scrapes: 2, EBPF: true}, &syscall.Credential{Uid: 65534, Gid: 65534})
	require.Equal(t, []string{"eBPF dentry accounting is not available: container.memory.slab.dentry from ebpf is not emitted"},
		nobody.Warnings, "the refused accountant, once; nothing else warns")

	for i, msg := range nobody.Errors {
		require.Contains(t, msg, stat+": permission denied", "scrape %d", i)
		require.Contains(t, msg, slabinfo, "scrape %d", i)
		require.Equal(t, 2, strings.Count(msg, "permission denied"), "only the two files: %s", msg)
		for id, want := range asRoot.Containers[0] {
			got := nobody.Containers[i][id]
			if id == fixtureWorkload { // less what memory.stat feeds
				for _, m := range []string{"container.memory.rss", "container.memory.cache", "container.memory.active_file",
					"container.memory.inactive_file", "container.memory.swap", "container.memory.working_set",
					"container.memory.rss_huge", "container.memory.mapped_file", "container.memory.shmem",
					"container.memory.available"} {
					delete(want, m)
				}
				require.Contains(t, got, "container.memory.usage")
			}
			require.Equal(t, want, got, "scrape %d, container %s", i, id)
		}
	}
}

// TestFaultFileDescriptorsExhausted runs the scraper with its open-file limit at the
// descriptors already open (EMFILE on every open), and at a few more than that (the first
// opens of a scrape succeed, the later ones fail: a discovery walk that gets its inotify
// descriptor but cannot list the tree): the scrapes fail file by file with "too many open
// files", without a panic and without taking a cgroup for vanished; once the limit is back,
// the next scrape is complete again.
func TestFaultFileDescriptorsExhausted(t *testing.T) {
	root := worldCopy(t, "v2-kernel-6.18")
	clean := runFaultChild(t, faultSpec{Root: root, Scrapes: 1}, nil)
	require.Equal(t, []string{""}, clean.Errors)
	for free := range 3 {
		t.Run(fmt.Sprintf("free=%d", free), func(t *testing.T) {
			res := runFaultChild(t, faultSpec{Root: root, Scrapes: 2, EMFILE: true, FreeFDs: free}, nil)
			require.Len(t, res.Errors, 3)
			for i := range 2 {
				require.Contains(t, res.Errors[i], "too many open files", "scrape %d", i)
			}
			require.Empty(t, res.Errors[2], "the limit is back")
			require.Equal(t, clean.Containers[0], res.Containers[2], "every container again, none forgotten as vanished")
		})
	}
}
