package cgroupfs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cgroupmem/cgroupmem/internal/cgroupfs"
	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

// TestLiveProcsOfChildCgroups: on real cgroupfs (kernfs), where a directory's link count is
// what tells Procs whether to list it, the pids of a container's child cgroup (crun's
// "container") are found, and a leaf container's own pid too.
func TestLiveProcsOfChildCgroups(t *testing.T) {
	tree := testcgroup.New(t)
	uid := testcgroup.NewPodUID()
	parent := tree.AddContainer(testcgroup.QoSBurstable, uid, testcgroup.NewContainerID())
	leaf := tree.AddContainer(testcgroup.QoSBurstable, uid, testcgroup.NewContainerID())
	child := filepath.Join(parent, "container")
	for _, d := range []string{child, tree.Unified(child)} { // the tree's processes join both
		if d == "" {
			continue
		}
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := os.Remove(d); err != nil {
				t.Errorf("removing %s: %v", d, err)
			}
		})
	}
	inParent := tree.Start(t, parent, exec.Command("sleep", "infinity"))
	inChild := tree.Start(t, child, exec.Command("sleep", "infinity"))
	inLeaf := tree.Start(t, leaf, exec.Command("sleep", "infinity"))
	got, err := cgroupfs.Procs(parent)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []int{inParent.Pid, inChild.Pid}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Procs(parent) = %v, want %v (its own and its child's)", got, want)
	}
	if got, err := cgroupfs.Procs(leaf); err != nil || !slices.Equal(got, []int{inLeaf.Pid}) {
		t.Errorf("Procs(leaf) = %v, %v, want [%d]", got, err, inLeaf.Pid)
	}
}
