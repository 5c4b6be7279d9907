package sockets

import (
	"cmp"
	"errors"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
)

var sortHeld = gocmp.Transformer("sortHeld", func(h []heldFD) []heldFD {
	out := slices.Clone(h)
	slices.SortFunc(out, func(a, b heldFD) int {
		return cmp.Or(cmp.Compare(a.PID, b.PID), cmp.Compare(a.FD, b.FD))
	})
	return out
})

func TestParseNetNSLink(t *testing.T) {
	tests := []struct {
		target  string
		want    uint64
		wantErr error
	}{
		{"net:[4026531833]", 4026531833, nil},
		{"net:[0]", 0, ErrMalformed},
		{"net:[x]", 0, ErrMalformed},
		{"net:[4026531833", 0, ErrMalformed},
		{"mnt:[4026531833]", 0, ErrMalformed},
		{"", 0, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			got, err := parseNetNSLink(tt.target)
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Errorf("got %d, %v; want %d, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
