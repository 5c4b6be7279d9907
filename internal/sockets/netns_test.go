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

func TestNamespaces(t *testing.T) {
	// pids 1 and 2 share namespace 10 (one pod, two containers); pid 3 is alone in 20; pid 4
	// has no known namespace (it vanished) and is left out.
	held := []heldFD{{1, 3, 100}, {1, 4, 101}, {2, 3, 102}, {2, 5, 100}, {3, 3, 200}, {4, 3, 300}}
	nsOf := map[int]uint64{1: 10, 2: 10, 3: 20}
	got := namespaces(held, nsOf)
	want := []*namespace{
		{id: 10, pids: []int{1, 2}, want: inodeSet{100: {}, 101: {}, 102: {}}},
		{id: 20, pids: []int{3}, want: inodeSet{200: {}}},
	}
	if diff := gocmp.Diff(want, got, gocmp.AllowUnexported(namespace{})); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}
