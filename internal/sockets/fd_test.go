package sockets

import (
	"context"
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

// walkAll walks pid's fds under procRoot with the Collector's walker and lists its sockets.
func walkAll(procRoot string, pid, budget int) ([]heldFD, int, bool, error) {
	var out []heldFD
	n, complete, err := newFDWalker(procRoot).walk(context.Background(), pid, budget, func(fd int, inode uint64) {
		out = append(out, heldFD{PID: pid, FD: fd, Inode: inode})
	})
	return out, n, complete, err
}

func TestWalkFDs(t *testing.T) {
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
		name         string
		pid, budget  int
		want         []heldFD
		wantExamined int
		wantComplete bool
		wantErr      error
	}{
		{name: "sockets only", pid: 123, budget: 10, want: []heldFD{{123, 3, 100}, {123, 7, 101}}, wantExamined: 4, wantComplete: true},
		{name: "budget of exactly the fds", pid: 123, budget: 4, want: []heldFD{{123, 3, 100}, {123, 7, 101}}, wantExamined: 4, wantComplete: true},
		{name: "budget short of the fds", pid: 123, budget: 2, wantExamined: 2},
		{name: "vanished pid", pid: 456, budget: 10, wantErr: errVanished},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// WHEN the fds are read
			got, n, complete, err := walkAll(root, tt.pid, tt.budget)
			// THEN only the sockets are listed, in any order, within the budget
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if n != tt.wantExamined || complete != tt.wantComplete {
				t.Errorf("examined %d complete %v, want %d %v", n, complete, tt.wantExamined, tt.wantComplete)
			}
			if tt.budget >= 4 {
				if diff := cmp.Diff(tt.want, got, sortHeld); diff != "" {
					t.Errorf("(-want +got)\n%s", diff)
				}
			} else if len(got) > tt.budget {
				t.Errorf("%d sockets from a budget of %d fds", len(got), tt.budget)
			}
		})
	}
}

func TestWalkFDsBadName(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "1", "fd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("socket:[5]", filepath.Join(dir, "x")); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := walkAll(root, 1, 10); !errors.Is(err, ErrMalformed) {
		t.Errorf("error = %v, want ErrMalformed", err)
	}
}

func TestParseSocketLinkBytes(t *testing.T) {
	for _, target := range []string{"socket:[62958]", "socket:[0]", "socket:[]", "socket:[12", "socket:[-1]", "pipe:[60801]", "socket:[99999999999999999999]", "socket:[4294967295]"} {
		want, wantOK := parseSocketLink(target)
		got, ok := parseSocketLinkBytes([]byte(target))
		if got != want || ok != wantOK {
			t.Errorf("%q: got %d, %v; parseSocketLink says %d, %v", target, got, ok, want, wantOK)
		}
	}
}

func TestCgroupFileHas(t *testing.T) {
	v1 := "9:name=systemd:/\n4:memory:/cgroupmem-test-1/kubepods/burstable/podA/cid\n0::/\n"
	tests := []struct {
		file, cgroup string
		want         bool
	}{
		{v1, "/kubepods/burstable/podA/cid", true},
		{v1, "kubepods/burstable/podA/cid/", true},
		{v1, "/kubepods/burstable/podA/other", false},
		{v1, "A/cid", false},                   // not at a path boundary
		{v1, "/kubepods/burstable/podA", true}, // a process in a cgroup below the container's
		{v1, "/kubepods/burstable/podA/ci", false},
		{"0::/kubepods/burstable/podA/cid/container\n", "/kubepods/burstable/podA/cid", true},
		{"0::/kubepods.slice/cri-containerd-x.scope\n", "/kubepods.slice/cri-containerd-x.scope", true},
		{"0::/system.slice\n", "/kubepods.slice/x", false},
		{"garbage", "/x", false},
	}
	for _, tt := range tests {
		if got := cgroupFileHas([]byte(tt.file), tt.cgroup); got != tt.want {
			t.Errorf("cgroupFileHas(%q, %q) = %v, want %v", tt.file, tt.cgroup, got, tt.want)
		}
	}
}
