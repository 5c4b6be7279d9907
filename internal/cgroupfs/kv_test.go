package cgroupfs

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func TestParseKV(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]uint64
		wantErr string
	}{
		{name: "memory.stat lines", in: "cache 102137856\nrss 76804096\n", want: map[string]uint64{"cache": 102137856, "rss": 76804096}},
		{name: "no trailing newline", in: "oom_kill 3", want: map[string]uint64{"oom_kill": 3}},
		{name: "empty file", in: "", want: map[string]uint64{}},
		{name: "blank lines skipped", in: "\nanon 1\n\n", want: map[string]uint64{"anon": 1}},
		{name: "max uint64", in: "x 18446744073709551615\n", want: map[string]uint64{"x": 18446744073709551615}},
		{name: "overflow", in: "x 18446744073709551616\n", wantErr: `line "x 18446744073709551616"`},
		{name: "negative", in: "x -1\n", wantErr: `value "-1" is not an unsigned integer`},
		{name: "no value", in: "cache\n", wantErr: `line "cache": want "key value"`},
		{name: "leading space", in: " cache 1\n", wantErr: `line " cache 1"`},
		{name: "empty value", in: "cache \n", wantErr: "empty value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]uint64{}
			err := parseKV([]byte(tt.in), func(k []byte, v uint64) { got[string(k)] = v })
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrMalformed)
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestParseLimit(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    uint64
		wantOK  bool
		wantErr bool
	}{
		{name: "v2 max", in: "max\n"},
		{name: "v1 unlimited", in: "9223372036854771712\n"},
		{name: "v2 bytes", in: "2147483648\n", want: 2147483648, wantOK: true},
		{name: "garbage", in: "lots\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := parseLimit([]byte(tt.in))
			if tt.wantErr {
				require.ErrorIs(t, err, ErrMalformed)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func FuzzParseKV(f *testing.F) {
	f.Add([]byte("cache 102137856\nrss 76804096\ntotal_inactive_file 1462272\n"))
	f.Add([]byte("oom 0\noom_kill 2\n"))
	f.Add([]byte("x 18446744073709551616"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		err := parseKV(b, func(k []byte, _ uint64) {
			if len(k) == 0 {
				t.Fatal("empty key")
			}
			n++
		})
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
		}
	})
}

func FuzzParseLimit(f *testing.F) {
	f.Add([]byte("max\n"))
	f.Add([]byte("9223372036854771712\n"))
	f.Add([]byte("2147483648"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ok, err := parseLimit(b)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		if ok && v >= unlimitedV1 {
			t.Fatalf("limit %d reported although it means unlimited", v)
		}
	})
}
