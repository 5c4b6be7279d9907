package cgroupfs

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseVMStatOOMKills(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		want      uint64
		wantFound bool
		wantErr   string
	}{
		{name: "kernel 6.18", in: "nr_free_pages 123\npgmajfault 2045\noom_kill 3\nnuma_hit 9\n", want: 3, wantFound: true},
		{name: "last line without newline", in: "pgfault 1\noom_kill 17", want: 17, wantFound: true},
		{name: "kernel before 4.13", in: "nr_free_pages 123\npgmajfault 2045\n"},
		{name: "a longer name is another counter", in: "oom_killer_disabled 1\n"},
		{name: "malformed", in: "oom_kill lots\n", wantErr: `"oom_kill lots"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := parseVMStatOOMKills([]byte(tt.in))
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrMalformed)
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantFound, found)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestReadNodeOOMKills(t *testing.T) {
	root := t.TempDir()
	_, _, err := readNodeOOMKills(root)
	require.ErrorContains(t, err, filepath.Join(root, "vmstat"))
	require.NoError(t, os.WriteFile(filepath.Join(root, "vmstat"), []byte("pgfault 1\noom_kill 2\n"), 0o644))
	got, found, err := readNodeOOMKills(root)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, uint64(2), got)
	if _, err := os.Stat("/proc/vmstat"); err == nil { // this host's kernel (4.13+ here)
		_, found, err := readNodeOOMKills("/proc")
		require.NoError(t, err)
		require.True(t, found)
	}
}

// FuzzParseVMStatOOMKills checks that the oom_kill line is found among any other lines and
// its count read back, and that arbitrary text found to hold one has it on an oom_kill line.
func FuzzParseVMStatOOMKills(f *testing.F) {
	f.Add([]byte("pgfault 1\noom_kill 3\n"), "pgmajfault 2\noom_kill_x 9", uint64(3))
	f.Add([]byte("oom_kill \n"), "", uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, other string, n uint64) {
		_, found, err := parseVMStatOOMKills(b)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
		}
		if found {
			require.Contains(t, "\n"+string(b)+"\n", "\noom_kill ")
		}
		var lines []string
		for _, l := range strings.Split(other, "\n") {
			if !strings.HasPrefix(l, "oom_kill ") {
				lines = append(lines, l)
			}
		}
		text := strings.Join(lines, "\n") + "\noom_kill " + strconv.FormatUint(n, 10) + "\nnuma_hit 5\n"
		v, found, err := parseVMStatOOMKills([]byte(text))
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, n, v)
	})
}

// TestTrackNodeOOMKills: the reader learns the node's count from vmstat, and without it
// (no file) the count is unknown, so every cgroup's count is read again.
func TestTrackNodeOOMKills(t *testing.T) {
	root := t.TempDir()
	r := NewMemoryReader(ModeV2)
	known, err := r.TrackNodeOOMKills(root)
	require.Error(t, err)
	require.False(t, known)
	require.False(t, r.oom.tracked)
	require.NoError(t, os.WriteFile(filepath.Join(root, "vmstat"), []byte("oom_kill 4\n"), 0o644))
	known, err = r.TrackNodeOOMKills(root)
	require.NoError(t, err)
	require.True(t, known)
	epoch := r.oom.epoch
	_, err = r.TrackNodeOOMKills(root)
	require.NoError(t, err)
	require.Equal(t, epoch, r.oom.epoch, "the same count keeps the epoch")
	require.NoError(t, os.WriteFile(filepath.Join(root, "vmstat"), []byte("oom_kill 5\n"), 0o644))
	_, err = r.TrackNodeOOMKills(root)
	require.NoError(t, err)
	require.Equal(t, epoch+1, r.oom.epoch, "a new count starts an epoch")
}
