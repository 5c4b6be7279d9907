package nodemem

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cgroupmem/cgroupmem/internal/psi"
	"github.com/cgroupmem/cgroupmem/internal/slabinfo"
)

func TestParseDentryState(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		hasNegative bool
		want        DentryState
		wantErr     string
	}{
		{name: "kernel 6.18", in: "235124\t233655\t45\t0\t111385\t0\n", hasNegative: true,
			want: DentryState{Total: 235124, Unused: 233655, Negative: 111385, HasNegative: true}},
		{name: "kernel before 5.0 prints a dummy", in: "100\t50\t45\t0\t0\t0\n",
			want: DentryState{Total: 100, Unused: 50}},
		{name: "too few fields", in: "1 2 3\n", wantErr: "3 fields, want 6"},
		{name: "not a number", in: "1 2 3 4 five 6\n", wantErr: `field 4 "five"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDentryState([]byte(tt.in), tt.hasNegative)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrMalformed)
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestReadFixtures(t *testing.T) {
	proc := "../../testdata/v2-kernel-6.18/proc"
	st, err := ReadDentryState(proc)
	require.NoError(t, err)
	require.Equal(t, DentryState{Total: 104419, Unused: 102647, Negative: 100565, HasNegative: true}, st)
	c, found, err := ReadDentrySlab(proc)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, slabinfo.Cache{ActiveObjects: 104790, Objects: 104790, ObjectSize: 192}, c)
}

func TestReadOldKernelHasNoNegative(t *testing.T) {
	proc := t.TempDir()
	write(t, filepath.Join(proc, "sys/fs/dentry-state"), "100\t50\t45\t0\t0\t0\n")
	write(t, filepath.Join(proc, "sys/kernel/osrelease"), "4.19.0-26-amd64\n")
	st, err := ReadDentryState(proc)
	require.NoError(t, err)
	require.False(t, st.HasNegative)
}

func TestReadMissingNamesTheFile(t *testing.T) {
	proc := t.TempDir()
	_, err := ReadDentryState(proc)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, filepath.Join(proc, "sys/fs/dentry-state"))
	_, _, err = ReadDentrySlab(proc)
	require.ErrorContains(t, err, filepath.Join(proc, "slabinfo"))
}

// FuzzParseDentryState checks that any six numbers read back in their places, and that a
// parse of arbitrary text that succeeds took the first, second and fifth fields.
func FuzzParseDentryState(f *testing.F) {
	f.Add([]byte("235124\t233655\t45\t0\t111385\t0\n"), uint64(1), uint64(2), uint64(3))
	f.Add([]byte("1 2"), uint64(0), uint64(0), uint64(1<<63))
	f.Fuzz(func(t *testing.T, b []byte, total, unused, negative uint64) {
		st, err := parseDentryState(b, true)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
		} else {
			fields := bytes.Fields(b)
			for i, v := range map[int]uint64{0: st.Total, 1: st.Unused, 4: st.Negative} {
				want, perr := strconv.ParseUint(string(fields[i]), 10, 64)
				require.NoError(t, perr)
				require.Equal(t, want, v, "field %d", i)
			}
		}
		text := fmt.Sprintf("%d\t%d\t45\t0\t%d\t0\n", total, unused, negative)
		st, err = parseDentryState([]byte(text), false)
		require.NoError(t, err)
		require.Equal(t, DentryState{Total: total, Unused: unused, Negative: negative}, st)
	})
}

func write(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func TestReadMemoryPressure(t *testing.T) {
	p, found, err := ReadMemoryPressure(filepath.Join("..", "..", "testdata", "v1-hybrid-kernel-6.18", "proc"))
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, psi.Line{Total: 764, OK: true}, p.Some)
	require.Equal(t, psi.Line{Total: 493, OK: true}, p.Full)

	_, found, err = ReadMemoryPressure(t.TempDir())
	require.NoError(t, err, "no /proc/pressure: not an error")
	require.False(t, found)

	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "pressure"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pressure", "memory"), []byte("some total=x\n"), 0o644))
	_, _, err = ReadMemoryPressure(dir)
	require.ErrorIs(t, err, psi.ErrMalformed)
	require.ErrorContains(t, err, filepath.Join(dir, "pressure", "memory"))
}
