package cgroupfs

import (
	"strconv"
	"strings"
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
		{name: "empty file", in: "", wantErr: `no "key value" line`},
		{name: "blank lines only", in: "\n\n", wantErr: `no "key value" line`},
		{name: "a bad line costs only its key", in: "anon 1\nfile lots\nshmem 3\n", wantErr: `line "file lots"`,
			want: map[string]uint64{"anon": 1, "shmem": 3}},
		{name: "more bad lines counted", in: "a x\nb y\nc 1\n", wantErr: `line "a x": cgroupfs: malformed file: value "x" is not an unsigned integer (and 1 more bad lines)`,
			want: map[string]uint64{"c": 1}},
		{name: "binary quoted short", in: strings.Repeat("\x00\xff", 100), wantErr: `"\x00\xff\x00\xff`},
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
				require.Less(t, len(err.Error()), 4*maxQuoted+100, "a bad token is quoted short")
				if tt.want == nil {
					tt.want = map[string]uint64{}
				}
			} else {
				require.NoError(t, err)
			}
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

// refParseKV is parseKV written the obvious way, with the standard library: the fuzz
// targets check parseKV against it.
func refParseKV(s string) (pairs []kvPair, ok bool) {
	ok = true
	for _, line := range strings.Split(s, "\n") {
		if line == "" {
			continue
		}
		k, v, found := strings.Cut(line, " ")
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if !found || k == "" || err != nil {
			ok = false
			continue
		}
		pairs = append(pairs, kvPair{k, n})
	}
	return pairs, ok && len(pairs) > 0
}

type kvPair struct {
	Key string
	Val uint64
}

// FuzzParseKV checks parseKV against refParseKV: the same pairs in the same order, bad lines
// skipped, and an error exactly when the reference finds a bad line or no line at all.
func FuzzParseKV(f *testing.F) {
	f.Add([]byte("cache 102137856\nrss 76804096\ntotal_inactive_file 1462272\n"))
	f.Add([]byte("oom 0\noom_kill 2\n"))
	f.Add([]byte("x 18446744073709551616"))
	f.Add([]byte("x  7 \n\ny 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var got []kvPair
		err := parseKV(b, func(k []byte, v uint64) { got = append(got, kvPair{string(k), v}) })
		want, ok := refParseKV(string(b))
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
		}
		require.Equal(t, ok, err == nil, "error %v", err)
		require.Equal(t, want, got)
	})
}

// refParseLimit is parseLimit written with the standard library.
func refParseLimit(s string) (uint64, bool, bool) {
	t := strings.TrimSpace(s)
	if t == "max" {
		return 0, false, true
	}
	v, err := strconv.ParseUint(t, 10, 64)
	if err != nil {
		return 0, false, false
	}
	if v >= 1<<62 {
		return 0, false, true
	}
	return v, true, true
}

// FuzzParseLimit checks parseLimit against refParseLimit on any text, and that any number
// written as the kernel writes it reads back as itself (or as unlimited from 2^62 up).
func FuzzParseLimit(f *testing.F) {
	f.Add([]byte("max\n"), uint64(0))
	f.Add([]byte("9223372036854771712\n"), uint64(9223372036854771712))
	f.Add([]byte("2147483648"), uint64(2147483648))
	f.Add([]byte(" 12 "), uint64(1<<62-1))
	f.Add([]byte("4611686018427387904"), uint64(1<<62))
	f.Fuzz(func(t *testing.T, b []byte, n uint64) {
		v, ok, err := parseLimit(b)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
		}
		wantV, wantOK, valid := refParseLimit(string(b))
		require.Equal(t, valid, err == nil, "error %v", err)
		require.Equal(t, wantOK, ok)
		require.Equal(t, wantV, v)

		v, ok, err = parseLimit([]byte(strconv.FormatUint(n, 10) + "\n"))
		require.NoError(t, err)
		require.Equal(t, n < 1<<62, ok, "limit %d", n)
		if ok {
			require.Equal(t, n, v)
		}
	})
}
