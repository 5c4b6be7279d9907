package cgroupfs

import (
	"bytes"
	"io/fs"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseProcs(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []int
		wantErr string
	}{
		{name: "pids", in: "359\n360\n", want: []int{359, 360}},
		{name: "empty", in: ""},
		{name: "not a pid", in: "359\nx\n", want: []int{359}, wantErr: `pid "x"`},
		{name: "zero", in: "0\n", wantErr: `pid "0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcs([]byte(tt.in), nil)
			require.Equal(t, tt.want, got)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrMalformed)
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestProcsIncludesChildCgroups(t *testing.T) {
	dir := cgroupDir(t, map[string]string{
		"cgroup.procs":           "10\n",
		"container/cgroup.procs": "11\n12\n",
		"container/x/other":      "",
	})
	got, err := Procs(dir)
	require.NoError(t, err)
	require.ElementsMatch(t, []int{10, 11, 12}, got)

	got, err = Procs(filepath.Join(dir, "gone"))
	require.NoError(t, err, "a vanished cgroup is no error")
	require.Empty(t, got)
}

func TestProcsFixture(t *testing.T) {
	got, err := Procs(fixtureV1 + "/sys/fs/cgroup/memory/kubepods/burstable/pod" + uidApp + "/" + workload)
	require.NoError(t, err)
	require.Equal(t, []int{359}, got)
}

// FuzzParseProcs checks that any list of pids, written one a line as cgroup.procs does,
// reads back as itself after the pids already held, and that arbitrary text either fails
// or gives one positive pid per field.
func FuzzParseProcs(f *testing.F) {
	f.Add([]byte("359\n360\n"), []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte, raw []byte) {
		pids, err := parseProcs(b, nil)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
		} else {
			require.Len(t, pids, len(bytes.Fields(b)))
			for _, p := range pids {
				require.Positive(t, p)
			}
		}

		want := []int{7}
		var text []byte
		for i := 0; i+1 < len(raw); i += 2 {
			pid := int(raw[i])<<8 | int(raw[i+1]) + 1
			want = append(want, pid)
			text = strconv.AppendInt(text, int64(pid), 10)
			text = append(text, '\n')
		}
		got, err := parseProcs(text, []int{7})
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
}

// TestProcsGone: a cgroup removed while its processes are read is gone, whether the open
// (ENOENT) or the read of a file opened just before the removal (ENODEV) says so; any other
// error is not.
func TestProcsGone(t *testing.T) {
	for _, c := range []struct {
		err  error
		gone bool
	}{
		{&fs.PathError{Op: "open", Path: "/x/cgroup.procs", Err: syscall.ENOENT}, true},
		{&fs.PathError{Op: "read", Path: "/x/cgroup.procs", Err: syscall.ENODEV}, true},
		{&fs.PathError{Op: "open", Path: "/x/cgroup.procs", Err: syscall.EACCES}, false},
		{&fs.PathError{Op: "read", Path: "/x/cgroup.procs", Err: syscall.EIO}, false},
	} {
		if got := procsGone(c.err); got != c.gone {
			t.Errorf("procsGone(%v) = %v, want %v", c.err, got, c.gone)
		}
	}
}
