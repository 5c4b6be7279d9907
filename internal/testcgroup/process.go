package testcgroup

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// readyTimeout bounds how long Start waits for a child to join its cgroup and do its work.
const readyTimeout = 60 * time.Second

// stopGrace is how long Stop waits for a process to exit before it kills it.
const stopGrace = 5 * time.Second

// Process is a process that Start started in a cgroup.
type Process struct {
	Pid int

	cmd     *exec.Cmd
	stdin   io.Closer // nil when the caller set cmd.Stdin
	command bool      // an exec'd command rather than a Workload
	done    chan struct{}
	waitErr error
	once    sync.Once
	stopErr error
}

// Start starts cmd inside the cgroup dir and registers Stop with tb.Cleanup. The process is
// in the cgroup before it does anything: a Command(Workload) child joins it first, then works,
// and Start returns once the work is done; any other command is run through the test binary,
// which joins the cgroup and then execs it. cmd must not be started and must have no
// ExtraFiles (fd 3 carries the child's status).
func (t *Tree) Start(tb testing.TB, dir string, cmd *exec.Cmd) *Process {
	tb.Helper()
	if cmd.Process != nil || len(cmd.ExtraFiles) > 0 || cmd.Err != nil {
		tb.Fatalf("testcgroup: Start wants an unstarted command without ExtraFiles (err: %v)", cmd.Err)
	}
	p := &Process{cmd: cmd, command: !isWorkload(cmd), done: make(chan struct{})}
	if p.command {
		if err := wrapCommand(cmd); err != nil {
			tb.Fatalf("testcgroup: %v", err)
		}
	}
	cmd.Env = append(cmd.Environ(), envCgroup+"="+dir)
	if u := t.Unified(dir); u != "" {
		cmd.Env = append(cmd.Env, envUnified+"="+u)
	}
	status, err := p.start()
	if err != nil {
		tb.Fatalf("testcgroup: starting %s in %s: %v", cmd.Args, dir, err)
	}
	defer status.Close()
	if err := p.waitStatus(status); err != nil {
		stopErr := p.Stop()
		tb.Fatalf("testcgroup: child %d in %s: %v (exit: %v)", p.Pid, dir, err, stopErr)
	}
	tb.Cleanup(func() {
		if err := p.Stop(); err != nil {
			tb.Errorf("testcgroup: child %d in %s: %v", p.Pid, dir, err)
		}
	})
	return p
}

// start starts the process with a status pipe on fd 3 and, unless the caller set one, a
// stdin pipe whose closing tells a workload to exit.
func (p *Process) start() (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	p.cmd.ExtraFiles = []*os.File{w}
	if p.cmd.Stdin == nil {
		if p.stdin, err = p.cmd.StdinPipe(); err != nil {
			r.Close()
			return nil, err
		}
	}
	if err := p.cmd.Start(); err != nil {
		r.Close()
		return nil, err
	}
	p.Pid = p.cmd.Process.Pid
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	return r, nil
}

// waitStatus reads the child's status lines until it says it is ready: "joined" for a
// command about to be exec'd, "ready" for a workload that did its work.
func (p *Process) waitStatus(status *os.File) error {
	want := statusReady
	if p.command {
		want = statusJoined
	}
	if err := status.SetReadDeadline(time.Now().Add(readyTimeout)); err != nil {
		return err
	}
	sc := bufio.NewScanner(status)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == want:
			return nil
		case strings.HasPrefix(line, statusError):
			return errors.New(strings.TrimPrefix(line, statusError))
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("waiting for %q: %w", want, err)
	}
	return fmt.Errorf("exited before saying %q", want)
}

// Stop ends the process: it closes its stdin (a workload exits at once), sends a command
// SIGTERM, waits up to 5 s, then kills it. It returns the exit error of a workload that did
// not exit cleanly; a command ended by Stop's signals is no error. Stop can be called more
// than once.
func (p *Process) Stop() error {
	p.once.Do(func() {
		if p.stdin != nil {
			_ = p.stdin.Close()
		}
		if p.command {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			_ = p.cmd.Process.Kill()
			<-p.done
			p.stopErr = fmt.Errorf("killed after not exiting for %s: %w", stopGrace, p.waitErr)
			return
		}
		if !p.command {
			p.stopErr = p.waitErr
		}
	})
	return p.stopErr
}

// isWorkload reports whether cmd was made by Command.
func isWorkload(cmd *exec.Cmd) bool {
	for _, kv := range cmd.Env {
		if strings.HasPrefix(kv, envWorkload+"=") {
			return true
		}
	}
	return false
}

// wrapCommand makes cmd run the test binary, which joins the cgroup and execs the original.
func wrapCommand(cmd *exec.Cmd) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	b, err := json.Marshal(execSpec{Path: cmd.Path, Args: cmd.Args})
	if err != nil {
		return err
	}
	cmd.Env = append(cmd.Environ(), envExec+"="+string(b))
	cmd.Path, cmd.Args = self, []string{self}
	return nil
}
