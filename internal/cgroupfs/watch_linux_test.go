//go:build linux

package cgroupfs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWatchDirRemovedSinceListed: a directory that went away between its parent's listing and
// its watch leaves the walk's watch on, and the parent's watch reports the removal, so the
// next Refresh walks again; another failure to watch still turns the watch off.
func TestWatchDirRemovedSinceListed(t *testing.T) {
	parent := t.TempDir()
	child := filepath.Join(parent, "pod-gone")
	require.NoError(t, os.Mkdir(child, 0o755))

	watch, err := newDirWatch()
	require.NoError(t, err)
	t.Cleanup(func() { _ = watch.close() })
	w := newWalker(parent)
	w.watch = watch
	w.watchDir(parent)
	require.NoError(t, w.watchErr)
	require.NoError(t, os.Remove(child)) // after the listing, before the watch
	w.watchDir(child)
	require.NoError(t, w.watchErr, "a removed directory is no watch failure")
	changed, err := watch.changed()
	require.NoError(t, err)
	require.True(t, changed, "the parent's watch saw the removal")

	w.watchDir(filepath.Join(parent, "file"))
	require.NoError(t, w.watchErr, "nothing there either")
	require.NoError(t, os.WriteFile(filepath.Join(parent, "file"), nil, 0o644))
	w.watchDir(filepath.Join(parent, "file"))
	require.Error(t, w.watchErr, "a file is not a directory (IN_ONLYDIR): the watch is off")
}
