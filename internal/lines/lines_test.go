package lines

import (
	"bytes"
	"strings"
	"testing"
)

func TestNext(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"a\n", []string{"a"}},
		{"a\nb", []string{"a", "b"}},
		{"a\n\nb\n", []string{"a", "", "b"}},
		{"\n", []string{""}},
	}
	for _, tt := range tests {
		var got []string
		for b := []byte(tt.in); len(b) > 0; {
			var line []byte
			line, b = Next(b)
			got = append(got, string(line))
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzNext checks Next against strings.Split: the same lines, in order, none holding a
// newline, and the input rebuilt from them.
func FuzzNext(f *testing.F) {
	f.Add([]byte("total_rss 1\ntotal_cache 2\n"))
	f.Add([]byte("\n\nx"))
	f.Fuzz(func(t *testing.T, in []byte) {
		want := strings.Split(string(in), "\n")
		if len(want) > 0 && want[len(want)-1] == "" {
			want = want[:len(want)-1] // a final newline ends the last line, it starts none
		}
		var got [][]byte
		for b := in; len(b) > 0; {
			var line []byte
			line, b = Next(b)
			if bytes.IndexByte(line, '\n') >= 0 {
				t.Fatalf("line %q holds a newline", line)
			}
			got = append(got, line)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d lines, want %d", in, len(got), len(want))
		}
		for i := range got {
			if string(got[i]) != want[i] {
				t.Fatalf("%q: line %d %q, want %q", in, i, got[i], want[i])
			}
		}
	})
}
