//go:build linux && !noebpf

package dentrybpf

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"go.uber.org/zap/zaptest"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

// The live tests re-execute the test binary as a "container": a child that
// moves itself into a test cgroup and then creates files. These variables
// tell the child what to do.
const (
	envChild  = "DENTRYBPF_TEST_CHILD"  // "churn" or "idle"
	envCgroup = "DENTRYBPF_TEST_CGROUP" // cgroup directory to join
	envDir    = "DENTRYBPF_TEST_DIR"    // where to create files
	envFiles  = "DENTRYBPF_TEST_FILES"  // how many
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envChild); mode != "" {
		if err := runChild(mode); err != nil {
			fmt.Fprintln(os.Stderr, "dentrybpf test child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild joins the cgroup, then (churn) creates and deletes uniquely
// named files, as PHP-FPM does with spooled request bodies: each leaves a
// negative dentry charged to the cgroup.
func runChild(mode string) error {
	procs := filepath.Join(os.Getenv(envCgroup), "cgroup.procs")
	if err := os.WriteFile(procs, []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
		return err
	}
	if mode != "churn" {
		return nil
	}
	n, err := strconv.Atoi(os.Getenv(envFiles))
	if err != nil {
		return err
	}
	dir := os.Getenv(envDir)
	for i := range n {
		name := filepath.Join(dir, fmt.Sprintf("php%08d.tmp", i))
		f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := os.Remove(name); err != nil {
			return err
		}
	}
	return nil
}

// startAccountant starts an accountant or skips the test with the reason.
func startAccountant(tb testing.TB, cfg Config) *Accountant {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("skipping: loading eBPF needs root (CAP_BPF and CAP_PERFMON)")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		tb.Skipf("skipping: no kernel BTF: %v", err)
	}
	a, err := Start(cfg, zaptest.NewLogger(tb))
	if errors.Is(err, ErrNotSupported) || errors.Is(err, ErrNotPermitted) {
		tb.Skipf("skipping: the kernel refused the accountant: %v", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	return a
}

// testRoot is one test's parent cgroup: a testcgroup tree in the host's memory hierarchy
// (v1 or v2), whose cleanup removes the cgroups it made, deepest first; their remaining
// dentries are reparented to the parent by the kernel.
type testRoot struct{ tree *testcgroup.Tree }

// testCgroupRoot creates a unique parent cgroup for one test, or skips.
func testCgroupRoot(t *testing.T) testRoot {
	t.Helper()
	return testRoot{testcgroup.NewAnyVersion(t)}
}

// Dir is the parent cgroup's directory.
func (r testRoot) Dir() string { return r.tree.Dir() }

func newCgroup(t *testing.T, parent testRoot, name string) (string, uint64) {
	t.Helper()
	dir := parent.tree.AddCgroup(name)
	id, err := CgroupID(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, id
}

// runInCgroup runs the test binary as a child in cgroup and waits for it.
func runInCgroup(t *testing.T, cgroup, mode, dir string, files int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(),
		envChild+"="+mode, envCgroup+"="+cgroup, envDir+"="+dir, envFiles+"="+strconv.Itoa(files))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child %s in %s: %v\n%s", mode, cgroup, err, out)
	}
}

func withinPercent(got, want uint64, pct float64) bool {
	d := float64(got) - float64(want)
	return d <= float64(want)*pct/100 && -d <= float64(want)*pct/100
}

// kmemUsage is the kernel memory charged to the cgroup: v1
// memory.kmem.usage_in_bytes, v2 memory.stat "kernel" (5.18+) or "slab".
func kmemUsage(t *testing.T, cgroup string) (uint64, bool) {
	if b, err := os.ReadFile(filepath.Join(cgroup, "memory.kmem.usage_in_bytes")); err == nil {
		n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		return n, err == nil
	}
	b, err := os.ReadFile(filepath.Join(cgroup, "memory.stat"))
	if err != nil {
		return 0, false
	}
	for _, key := range []string{"kernel", "slab"} {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == key {
				n, err := strconv.ParseUint(f[1], 10, 64)
				return n, err == nil
			}
		}
	}
	return 0, false
}

// TestAccuracy is incident 1 in miniature: a container creates and deletes
// 50,000 uniquely named temp files; its dentry count must be 50,000 within
// 10 %, all but a few negative, and within its kmem charge. A container
// without churn shows a small number. Deleting the directory frees the
// dentries from another cgroup's context, and the count must follow.
func TestAccuracy(t *testing.T) {
	for _, hooks := range []string{HooksFentry, HooksTracepoint} {
		t.Run(hooks, func(t *testing.T) { testAccuracy(t, hooks) })
	}
}

func testAccuracy(t *testing.T, hooks string) {
	const files = 50_000
	parent := testCgroupRoot(t)
	a := startAccountant(t, Config{Hooks: hooks})
	churn, churnID := newCgroup(t, parent, "churn")
	idle, idleID := newCgroup(t, parent, "idle")
	if !a.Covers(churnID) || !a.Covers(idleID) {
		t.Errorf("cgroups created after Start must be covered: churn %v idle %v", a.Covers(churnID), a.Covers(idleID))
	}
	parentID, _ := CgroupID(parent.Dir())
	if a.Covers(parentID) {
		t.Errorf("cgroup %d created before Start must be partial", parentID)
	}

	dir := t.TempDir()
	runInCgroup(t, churn, "churn", dir, files)
	runInCgroup(t, idle, "idle", "", 0)

	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	got := snap[churnID]
	bytes := got.Live * a.ObjectSize()
	t.Logf("churn cgroup %d: %d live dentries (%d negative) = %d B; want %d x %d B = %d B",
		churnID, got.Live, got.Negative, bytes, files, a.ObjectSize(), files*a.ObjectSize())
	if !withinPercent(got.Live, files, 10) {
		t.Errorf("churn: %d live dentries, want %d within 10%%", got.Live, files)
	}
	if a.NegativeCounted() && !withinPercent(got.Negative, files, 10) {
		t.Errorf("churn: %d negative dentries, want %d within 10%%", got.Negative, files)
	}
	if kmem, ok := kmemUsage(t, churn); ok {
		t.Logf("churn cgroup kmem charge: %d B", kmem)
		if bytes > kmem {
			t.Errorf("churn: dentry bytes %d exceed the cgroup's kmem charge %d", bytes, kmem)
		}
	}
	t.Logf("idle cgroup %d: %+v", idleID, snap[idleID])
	if snap[idleID].Live > 500 {
		t.Errorf("idle: %d live dentries, want a small number", snap[idleID].Live)
	}

	// rmdir shrinks the directory's dentries; the frees run in this
	// process's (or an RCU callback's) context and must still decrement
	// the churn cgroup.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	var after Counts
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if snap, err = a.Snapshot(); err != nil {
			t.Fatal(err)
		}
		if after = snap[churnID]; after.Live < files/100 {
			break
		}
	}
	t.Logf("churn cgroup after removing the directory: %+v", after)
	if after.Live >= files/100 {
		t.Errorf("churn after rmdir: %d live dentries, want under %d", after.Live, files/100)
	}
	t.Logf("hooks %s, accountant stats: %+v", a.Hooks(), a.Stats())
}

// TestNotCountedBeforeStart: dentries allocated while the accountant is off
// are not attributed, and such a cgroup is not covered.
func TestNotCountedBeforeStart(t *testing.T) {
	parent := testCgroupRoot(t)
	cg, id := newCgroup(t, parent, "before")
	runInCgroup(t, cg, "churn", t.TempDir(), 5_000)

	a := startAccountant(t, Config{})
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := snap[id]; ok {
		t.Errorf("cgroup churned before Start: got %+v, want no entry", c)
	}
	if a.Covers(id) {
		t.Errorf("cgroup created before Start reported as covered")
	}
}

// TestOverflow: with room for few dentries, the rest are counted as
// overflows and never as live.
func TestOverflow(t *testing.T) {
	const room = 1024
	a := startAccountant(t, Config{MaxTrackedObjects: room})
	dir := t.TempDir()
	for i := range 4 * room {
		if _, err := os.Lstat(filepath.Join(dir, "missing"+strconv.Itoa(i))); !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var live uint64
	for _, c := range snap {
		live += c.Live
	}
	if live > room {
		t.Errorf("%d live dentries counted with room for %d", live, room)
	}
	if a.Overflows() < 2*room {
		t.Errorf("Overflows() = %d after %d uncountable lookups", a.Overflows(), 3*room)
	}
	t.Logf("live %d, stats %+v", live, a.Stats())
}

// TestOverflowPerCgroup fills a small map from one cgroup; a second cgroup
// then creates files too. Both have the allocations the map had no room for
// counted under their own id, a third cgroup that allocated nothing meanwhile
// has none, and the per-cgroup counts add up to no more than the total.
func TestOverflowPerCgroup(t *testing.T) {
	const room = 4096
	parent := testCgroupRoot(t)
	filler, fillerID := newCgroup(t, parent, "filler")
	victim, victimID := newCgroup(t, parent, "victim")
	_, quietID := newCgroup(t, parent, "quiet")
	a := startAccountant(t, Config{MaxTrackedObjects: room})

	runInCgroup(t, filler, "churn", t.TempDir(), 4*room) // leaves 4×room negative dentries
	runInCgroup(t, victim, "churn", t.TempDir(), 1000)
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	total := a.Overflows()
	if got := snap[fillerID].Overflows; got < 2*room {
		t.Errorf("filler: %d overflows after %d files with room for %d", got, 4*room, room)
	}
	if got := snap[victimID].Overflows; got < 500 {
		t.Errorf("victim: %d overflows after 1000 files into a full map, want most of them", got)
	}
	if got := snap[quietID].Overflows; got != 0 {
		t.Errorf("quiet cgroup: %d overflows, want 0", got)
	}
	var sum uint64
	for _, c := range snap {
		sum += c.Overflows
	}
	if sum > total {
		t.Errorf("per-cgroup overflows add up to %d, more than the total %d", sum, total)
	}
	t.Logf("filler %+v, victim %+v, total overflows %d", snap[fillerID], snap[victimID], total)
}

// TestPrune: counters at zero for two snapshots are dropped; a counter
// that is not zero when dropped is put back.
func TestPrune(t *testing.T) {
	a := startAccountant(t, Config{})
	const idle, busy = uint64(1) << 62, uint64(1)<<62 + 1 // ids no cgroup has
	for _, id := range []uint64{idle, busy} {
		if err := a.maps.Counts.Put(id, int64(0)); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := a.Snapshot(); err != nil {
			t.Fatal(err)
		}
	}
	var n int64
	if err := a.maps.Counts.Lookup(idle, &n); !errors.Is(err, ebpf.ErrKeyNotExist) {
		t.Errorf("zero counter kept after two snapshots: %d, %v", n, err)
	}

	// As if the kernel charged 3 dentries between the read and the delete.
	if err := a.maps.Counts.Put(busy, int64(3)); err != nil {
		t.Fatal(err)
	}
	if err := a.forget(busy); err != nil {
		t.Fatal(err)
	}
	if err := a.maps.Counts.Lookup(busy, &n); err != nil || n != 3 {
		t.Errorf("counter after forget: %d, %v; want 3 put back", n, err)
	}
}

func TestUnknownHooks(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: loading eBPF needs root")
	}
	if _, err := Start(Config{Hooks: "kprobe"}, zaptest.NewLogger(t)); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("Start with unknown hooks: %v, want ErrNotSupported", err)
	}
}

func TestCloseIdempotent(t *testing.T) {
	a := startAccountant(t, Config{})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := a.Snapshot(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Snapshot after Close: %v, want ErrClosed", err)
	}
	var nilA *Accountant
	if err := nilA.Close(); err != nil {
		t.Fatalf("nil Close: %v", err)
	}
	if _, err := nilA.Snapshot(); !errors.Is(err, ErrClosed) {
		t.Fatalf("nil Snapshot: %v, want ErrClosed", err)
	}
}
