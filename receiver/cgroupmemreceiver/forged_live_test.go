package cgroupmemreceiver

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

// forgedOwner is the uid the forged cgroups are given: a tenant's, not root's.
const forgedOwner = 54321

// TestLiveForgedPodsIgnored builds, beside a real pod, real cgroups named after another pod's
// UID and container ID, each with a process using memory: one tree owned by another uid (as a
// delegated or rootless user's cgroups are), and one owned by root but where no kubelet puts
// pods. A scrape reports the real pod and container only, with the kernel's usage, and nothing
// under the victim's UID.
func TestLiveForgedPodsIgnored(t *testing.T) {
	tree := testcgroup.New(t)
	uid, id := testcgroup.NewPodUID(), testcgroup.NewContainerID()
	dir := tree.AddContainer(testcgroup.QoSBurstable, uid, id)
	victim, victimID := testcgroup.NewPodUID(), testcgroup.NewContainerID()

	var made []string // created here (each after its parent), removed here after their processes stopped
	t.Cleanup(func() {
		for i := len(made) - 1; i >= 0; i-- {
			if err := syscall.Rmdir(made[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("removing %s: %v", made[i], err)
			}
		}
	})
	mkdirs := func(owner int, parts ...string) string {
		d := tree.Dir()
		for _, p := range parts {
			d = filepath.Join(d, p)
			err := os.Mkdir(d, 0o755)
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			require.NoError(t, err)
			made = append(made, d)
			require.NoError(t, os.Chown(d, owner, owner))
			if u := tree.Unified(d); u != "" { // the twin its processes join on a hybrid host
				require.NoError(t, os.Mkdir(u, 0o755))
				made = append(made, u)
			}
		}
		return d
	}
	// In the real kubepods/burstable, owned by the tenant.
	owned := mkdirs(forgedOwner, "kubepods", "burstable", "pod"+victim, victimID)
	// Owned by root, in a tenant's subtree named like the cgroupfs layout but not at its place.
	misplaced := mkdirs(0, "tenant", "workloads", "burstable", "pod"+victim, victimID)
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(owned, &st))
	require.EqualValues(t, forgedOwner, st.Uid, "the kernel keeps the cgroup's owner")

	tree.Start(t, dir, testcgroup.Command(t, testcgroup.Workload{AnonMiB: 8}))
	tree.Start(t, owned, testcgroup.Command(t, testcgroup.Workload{AnonMiB: 8}))
	tree.Start(t, misplaced, testcgroup.Command(t, testcgroup.Workload{AnonMiB: 8}))

	s := startLiveScraper(t, tree)
	before := testcgroup.ReadKernel(t, dir)
	md, err := s.scrape(t.Context())
	require.NoError(t, err)
	after := testcgroup.ReadKernel(t, dir)

	got := liveResources(md)
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	require.ElementsMatch(t, []string{"node", "pod " + uid, "container " + id}, keys)
	require.Equal(t, uid, got["container "+id].attrs["k8s.pod.uid"])
	require.GreaterOrEqual(t, before.Usage, uint64(8*mib), "the real container's workload runs")
	requireBetween(t, "container.memory.usage", got["container "+id].values["container.memory.usage"], before.Usage, after.Usage)
	for _, forged := range []string{owned, misplaced} {
		k := testcgroup.ReadKernel(t, forged)
		require.GreaterOrEqual(t, k.Usage, uint64(8*mib), "the forged cgroup %s is charged for real", forged)
	}
}
