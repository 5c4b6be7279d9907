package sockets

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSocketLink(t *testing.T) {
	tests := []struct {
		target string
		want   uint64
		ok     bool
	}{
		{"socket:[62958]", 62958, true},
		{"socket:[0]", 0, false},
		{"socket:[]", 0, false},
		{"socket:[12", 0, false},
		{"socket:[-1]", 0, false},
		{"pipe:[60801]", 0, false},
		{"/dev/null", 0, false},
		{"anon_inode:[eventpoll]", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			got, ok := parseSocketLink(tt.target)
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestReadSocketFDs(t *testing.T) {
	// GIVEN a proc tree whose fd links point at sockets, files and pipes
	root := t.TempDir()
	dir := filepath.Join(root, "123", "fd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{"3": "socket:[100]", "4": "/dev/null", "5": "pipe:[7]", "7": "socket:[101]"}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		pid     int
		want    []heldFD
		wantErr error
	}{
		{name: "sockets only", pid: 123, want: []heldFD{{123, 3, 100}, {123, 7, 101}}},
		{name: "vanished pid", pid: 456, wantErr: errVanished},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// WHEN the fds are read
			got, err := readSocketFDs(root, tt.pid)
			// THEN only the sockets are listed, in any order
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, sortHeld); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestReadSocketFDsBadName(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "1", "fd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("socket:[5]", filepath.Join(dir, "x")); err != nil {
		t.Fatal(err)
	}
	if _, err := readSocketFDs(root, 1); !errors.Is(err, ErrMalformed) {
		t.Errorf("error = %v, want ErrMalformed", err)
	}
}
