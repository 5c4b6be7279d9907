package cgroupmemreceiver

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCgroup2IDsAreKeptUntilTheNextWalk: a container's cgroup2 id (the inode of its
// directory) is read once and kept until discovery walks the tree again; a directory made
// again at the same path between two walks has its new id from the walk that follows.
func TestCgroup2IDsAreKeptUntilTheNextWalk(t *testing.T) {
	root := worldCopy(t, "v2-kernel-6.18")
	s := startScraper(t, fixtureConfig(root))
	tree, err := s.catalog.Refresh(time.Now())
	require.NoError(t, err)
	require.NotEmpty(t, tree.Pods)
	ct := tree.Pods[0].Containers[0]
	dir := filepath.Join(s.hier.Dir, ct.Path)
	inode := func() uint64 {
		var st syscall.Stat_t
		require.NoError(t, syscall.Stat(dir, &st))
		return st.Ino
	}
	first := inode()
	require.Equal(t, first, s.cgroup2ID(ct.Path))

	// The directory made again (a fixture copy: its files moved over) before a walk.
	moved := dir + ".old"
	require.NoError(t, os.Rename(dir, moved))
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NotEqual(t, first, inode())
	require.Equal(t, first, s.cgroup2ID(ct.Path), "kept until the next walk")

	s.catalog.Forget(ct.Path) // the next Refresh walks
	_, err = s.catalog.Refresh(time.Now())
	require.NoError(t, err)
	require.Equal(t, inode(), s.cgroup2ID(ct.Path), "read again after the walk")
}
