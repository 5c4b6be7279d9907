//go:build linux

package sockets

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWalkFDsChecksTheContext: a walk of many fds stops within ctxCheckEvery fds of a done
// context.
func TestWalkFDsChecksTheContext(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range 3 * ctxCheckEvery {
		fd, err := unix.Dup(int(f.Fd()))
		if err != nil {
			t.Skipf("dup: %v", err)
		}
		t.Cleanup(func() { unix.Close(fd) })
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, complete, err := newFDWalker("/proc").walk(ctx, os.Getpid(), 1<<20, func(int, uint64) {})
	if !errors.Is(err, context.Canceled) || complete || n != ctxCheckEvery {
		t.Errorf("examined %d, complete %v, error %v: want context.Canceled after %d fds", n, complete, err, ctxCheckEvery)
	}
}

// TestWalkFDsOfAnExitedProcess: the fd directory of a process that exits after it was opened
// gives ENOENT from getdents ("readdirent ... no such file or directory", seen in a churn
// run): the walk says the process vanished, which the Collector skips quietly.
func TestWalkFDsOfAnExitedProcess(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot run sleep: %v", err)
	}
	dir := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/fd"
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	_, _, err = newFDWalker("/proc").walkDir(context.Background(), dfd, dir, 100, func(int, uint64) {})
	if !errors.Is(err, errVanished) || !errors.Is(err, unix.ENOENT) {
		t.Errorf("error %v: want errVanished wrapping ENOENT", err)
	}
	t.Logf("walk of an exited process: %v", err)
}
