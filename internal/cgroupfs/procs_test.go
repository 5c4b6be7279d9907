package cgroupfs

import (
	"path/filepath"
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

func FuzzParseProcs(f *testing.F) {
	f.Add([]byte("359\n360\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pids, err := parseProcs(b, nil)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
		}
		for _, p := range pids {
			require.Positive(t, p)
		}
	})
}
