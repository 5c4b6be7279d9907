package cgroupfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseEvents(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Events
		wantErr string
	}{
		{name: "kernel 6.18", in: "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n",
			want: Events{Low: some(0), High: some(0), Max: some(12), OOM: some(2), OOMKill: some(1), OOMGroupKill: some(0)}},
		{name: "kernel 4.19: no oom_group_kill", in: "low 0\nhigh 0\nmax 0\noom 0\noom_kill 3\n",
			want: Events{Low: some(0), High: some(0), Max: some(0), OOM: some(0), OOMKill: some(3)}},
		{name: "unknown key skipped", in: "sock_throttled 4\nmax 1\n", want: Events{Max: some(1)}},
		{name: "empty: an error, the kernel never writes one", in: "", wantErr: `no "key value" line`},
		{name: "key twice", in: "max 1\nmax 2\n", wantErr: `key "max" given twice`},
		{name: "not a number", in: "oom x\n", wantErr: `line "oom x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEvents([]byte(tt.in))
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

func TestParseOOMControl(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    OOMControl
		wantErr string
	}{
		{name: "kernel 6.18", in: "oom_kill_disable 0\nunder_oom 1\noom_kill 4\n",
			want: OOMControl{KillDisable: some(0), UnderOOM: some(1), OOMKill: some(4)}},
		{name: "kernel 4.9: no oom_kill", in: "oom_kill_disable 0\nunder_oom 0\n",
			want: OOMControl{KillDisable: some(0), UnderOOM: some(0)}},
		{name: "under_oom is a flag", in: "under_oom 2\n", wantErr: "under_oom 2: want 0 or 1"},
		{name: "oom_kill_disable is a flag", in: "oom_kill_disable 7\n", wantErr: "oom_kill_disable 7"},
		{name: "key twice", in: "oom_kill 1\noom_kill 1\n", wantErr: `key "oom_kill" given twice`},
		{name: "bad line", in: "under_oom\n", wantErr: `line "under_oom"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseOOMControl([]byte(tt.in))
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

// TestParseEventFixtures parses the files captured from real kernels.
func TestParseEventFixtures(t *testing.T) {
	v2 := "../../testdata/v2-kernel-6.18/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f0a9d1e_7c55_4b8e_9a31_2d4be2f1c0aa.slice"
	b, err := os.ReadFile(filepath.Join(v2, "memory.events"))
	require.NoError(t, err)
	e, err := parseEvents(b)
	require.NoError(t, err)
	require.Equal(t, Events{Low: some(0), High: some(0), Max: some(0), OOM: some(0), OOMKill: some(0), OOMGroupKill: some(0)}, e)

	v1 := "../../testdata/v1-hybrid-kernel-6.18/sys/fs/cgroup/memory/kubepods/burstable/pod3f0a9d1e-7c55-4b8e-9a31-2d4be2f1c0aa/aaaaaaaa11111111111111111111111111111111111111111111111111111111"
	b, err = os.ReadFile(filepath.Join(v1, "memory.oom_control"))
	require.NoError(t, err)
	o, err := parseOOMControl(b)
	require.NoError(t, err)
	require.Equal(t, OOMControl{KillDisable: some(0), UnderOOM: some(0), OOMKill: some(0)}, o)
	for _, f := range []string{"memory.failcnt", "memory.max_usage_in_bytes"} {
		b, err = os.ReadFile(filepath.Join(v1, f))
		require.NoError(t, err)
		_, err = parseUint(b)
		require.NoError(t, err, f)
	}
	b, err = os.ReadFile(filepath.Join(v2, "memory.peak"))
	require.NoError(t, err)
	peak, err := parseUint(b)
	require.NoError(t, err)
	require.Equal(t, uint64(207290368), peak)
}

func formatEvents(e Events) []byte {
	var out []byte
	for _, kv := range []struct {
		k string
		v Value
	}{{"low", e.Low}, {"high", e.High}, {"max", e.Max}, {"oom", e.OOM}, {"oom_kill", e.OOMKill}, {"oom_group_kill", e.OOMGroupKill}} {
		if kv.v.OK {
			out = fmt.Appendf(out, "%s %d\n", kv.k, kv.v.V)
		}
	}
	return out
}

// FuzzParseEvents: the counters of what parseEvents accepts print back to text that parses to the same
// counters, and kernel-shaped text built from the fuzzer's numbers parses to those numbers.
func FuzzParseEvents(f *testing.F) {
	f.Add([]byte("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"), uint64(1), uint64(2), uint64(3))
	f.Add([]byte("max 1\nmax 2"), uint64(0), ^uint64(0), uint64(7))
	f.Fuzz(func(t *testing.T, b []byte, high, max, oomKill uint64) {
		// A file of unknown keys alone is accepted and prints back empty, which is no file.
		if got, err := parseEvents(b); err == nil && got != (Events{}) {
			again, err := parseEvents(formatEvents(got))
			require.NoError(t, err)
			require.Equal(t, got, again)
		}
		want := Events{Low: some(0), High: some(high), Max: some(max), OOM: some(oomKill / 2), OOMKill: some(oomKill), OOMGroupKill: some(0)}
		got, err := parseEvents(formatEvents(want))
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
}

// FuzzParseOOMControl: accepted flags are 0 or 1, and a key never takes another key's value.
func FuzzParseOOMControl(f *testing.F) {
	f.Add([]byte("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"), uint64(1), uint64(9))
	f.Add([]byte("under_oom 3\n"), uint64(0), uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, under, kills uint64) {
		if got, err := parseOOMControl(b); err == nil {
			for _, v := range []Value{got.KillDisable, got.UnderOOM} {
				if v.OK && v.V > 1 {
					t.Fatalf("accepted flag %d from %q", v.V, b)
				}
			}
		}
		in := fmt.Sprintf("oom_kill_disable 0\nunder_oom %d\noom_kill %d\n", under, kills)
		got, err := parseOOMControl([]byte(in))
		if under > 1 {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		require.NoError(t, err)
		require.Equal(t, OOMControl{KillDisable: some(0), UnderOOM: some(under), OOMKill: some(kills)}, got)
	})
}

// FuzzParseUint covers the one-number files (memory.failcnt, memory.peak,
// memory.max_usage_in_bytes): an accepted value is what strconv reads in the trimmed text,
// and every uint64 printed as the kernel prints it parses back to itself.
func FuzzParseUint(f *testing.F) {
	f.Add([]byte("207290368\n"), uint64(0))
	f.Add([]byte(" 18446744073709551616"), ^uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, n uint64) {
		if v, err := parseUint(b); err == nil {
			want, serr := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
			require.NoError(t, serr, "parseUint accepted %q", b)
			require.Equal(t, want, v)
		}
		v, err := parseUint(strconv.AppendUint(nil, n, 10))
		require.NoError(t, err)
		require.Equal(t, n, v)
	})
}
