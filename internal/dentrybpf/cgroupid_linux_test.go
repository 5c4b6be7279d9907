//go:build linux

package dentrybpf

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestCgroupID(t *testing.T) {
	dir := t.TempDir()
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	got, err := CgroupID(dir)
	if err != nil || got != st.Ino {
		t.Fatalf("CgroupID(%s) = %d, %v; want inode %d", dir, got, err, st.Ino)
	}
	if _, err := CgroupID(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("CgroupID of a missing directory: no error")
	}
}

func TestMaxCgroupID(t *testing.T) {
	root := t.TempDir()
	want := uint64(0)
	for _, d := range []string{"a", "a/b", "a/b/c", "d"} {
		p := filepath.Join(root, d)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		id, err := CgroupID(p)
		if err != nil {
			t.Fatal(err)
		}
		want = max(want, id)
	}
	if err := os.WriteFile(filepath.Join(root, "a/memory.stat"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rootID, _ := CgroupID(root)
	got, err := maxCgroupID(root)
	if err != nil {
		t.Fatal(err)
	}
	if want = max(want, rootID); got != want {
		t.Errorf("maxCgroupID = %d, want %d (the highest directory inode)", got, want)
	}
	if _, err := maxCgroupID(filepath.Join(root, "missing")); err == nil {
		t.Error("maxCgroupID of a missing root: no error")
	}
}
