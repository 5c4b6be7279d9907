package psi

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Pressure
		wantErr string
	}{
		{
			name: "kernel 6.18 cgroup, idle",
			in:   "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
			want: Pressure{Some: Line{OK: true}, Full: Line{OK: true}},
		},
		{
			name: "stalling",
			in:   "some avg10=12.34 avg60=5.06 avg300=1.00 total=987654321\nfull avg10=100.00 avg60=0.01 avg300=0.00 total=123\n",
			want: Pressure{
				Some: Line{Avg10: 12.34, Avg60: 5.06, Avg300: 1, Total: 987654321, OK: true},
				Full: Line{Avg10: 100, Avg60: 0.01, Total: 123, OK: true},
			},
		},
		{name: "only some (cpu.pressure before 5.13 prints no full)", in: "some avg10=0.00 avg60=0.00 avg300=0.00 total=7\n",
			want: Pressure{Some: Line{Total: 7, OK: true}}},
		{name: "empty file: nothing known", in: "", want: Pressure{}},
		{name: "unknown kind and field skipped", in: "spin avg10=x\nsome avg10=0.00 avg60=0.00 avg300=0.00 total=1 avg1800=0.00\n",
			want: Pressure{Some: Line{Total: 1, OK: true}}},
		{name: "no trailing newline", in: "full avg10=0.00 avg60=0.00 avg300=0.00 total=5", want: Pressure{Full: Line{Total: 5, OK: true}}},
		{name: "missing total", in: "some avg10=0.00 avg60=0.00 avg300=0.00\n", wantErr: "want avg10, avg60, avg300 and total"},
		{name: "total not a number", in: "some avg10=0.00 avg60=0.00 avg300=0.00 total=-1\n", wantErr: `token "total=-1"`},
		{name: "total overflows", in: "some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551616\n", wantErr: "total"},
		{name: "avg without decimals", in: "some avg10=1 avg60=0.00 avg300=0.00 total=0\n", wantErr: `token "avg10=1"`},
		{name: "avg over 100", in: "some avg10=100.01 avg60=0.00 avg300=0.00 total=0\n", wantErr: "over 100"},
		{name: "token without =", in: "some avg10 avg60=0.00 avg300=0.00 total=0\n", wantErr: `token "avg10"`},
		{name: "field twice", in: "some avg10=0.00 avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", wantErr: "avg10 given twice"},
		{name: "line twice", in: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nsome avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", wantErr: `a second "some" line`},
		{name: "double space", in: "some  avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", wantErr: `token ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
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

// TestParseFixtures parses the pressure files captured from real kernels.
func TestParseFixtures(t *testing.T) {
	for _, p := range []string{
		"v2-kernel-6.18/sys/fs/cgroup/memory.pressure",
		"v2-kernel-6.18/proc/pressure/memory",
		"v1-hybrid-kernel-6.18/proc/pressure/memory",
		"v1-hybrid-kernel-6.18/sys/fs/cgroup/unified/memory.pressure",
	} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", p))
		require.NoError(t, err)
		got, err := Parse(b)
		require.NoError(t, err, p)
		require.True(t, got.Some.OK && got.Full.OK, "%s has both lines", p)
		require.GreaterOrEqual(t, got.Some.Total, got.Full.Total, "%s: some stalls at least as long as full", p)
		require.Equal(t, string(b), string(Format(got)), "%s prints back as the kernel printed it", p)
	}
}

// FuzzParse: whatever Parse accepts has averages within 0..100 and prints back to text that
// parses to the same values; a file the kernel would print parses back to what was printed.
func FuzzParse(f *testing.F) {
	f.Add([]byte("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"), uint64(1), uint64(2))
	f.Add([]byte("some avg10=99.99 avg60=0.10 avg300=100.00 total=18446744073709551615\n"), uint64(0), ^uint64(0))
	f.Add([]byte("full avg10=1.0 total=3"), uint64(5), uint64(6))
	f.Fuzz(func(t *testing.T, b []byte, seed1, seed2 uint64) {
		got, err := Parse(b)
		if err == nil {
			for _, l := range []Line{got.Some, got.Full} {
				for _, avg := range []float64{l.Avg10, l.Avg60, l.Avg300} {
					if avg < 0 || avg > 100 {
						t.Fatalf("accepted average %v out of 0..100 in %q", avg, b)
					}
				}
			}
			again, err := Parse(Format(got))
			require.NoError(t, err, "printed %q", Format(got))
			require.Equal(t, got, again)
		}
		// A kernel-shaped file from the seeds parses to exactly what was printed.
		r := rand.New(rand.NewPCG(seed1, seed2))
		line := func() Line {
			return Line{Avg10: float64(r.IntN(10001)) / 100, Avg60: float64(r.IntN(10001)) / 100,
				Avg300: float64(r.IntN(10001)) / 100, Total: r.Uint64(), OK: true}
		}
		want := Pressure{Some: line(), Full: line()}
		printed := Format(want)
		parsed, err := Parse(printed)
		require.NoError(t, err, "%q", printed)
		require.Equal(t, string(printed), string(Format(parsed)))
		require.Equal(t, want.Some.Total, parsed.Some.Total)
		require.Equal(t, want.Full.Total, parsed.Full.Total)
		require.InDelta(t, want.Some.Avg10, parsed.Some.Avg10, 0.0001)
	})
}
