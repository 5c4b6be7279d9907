package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"
)

// peer is a running bench/cadvisorpeer: cAdvisor as the kubelet embeds it, watching the
// bench tree. It says ready once it knows the tree, then does only cAdvisor's work until
// asked for its cached samples.
type peer struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	out     *bufio.Reader
	version string
	stderr  *lineTail
}

// peerReady and peerDump are the lines bench/cadvisorpeer writes (its Ready and Dump).
type peerReady struct {
	Ready   int    `json:"ready"`
	Version string `json:"version"`
}

type peerDump struct {
	Cgroups []peerCgroup `json:"cgroups"`
}

type peerCgroup struct {
	Name    string       `json:"name"`
	Samples []peerSample `json:"samples"`
}

type peerSample struct {
	Time       time.Time `json:"time"`
	Usage      uint64    `json:"usage"`
	WorkingSet uint64    `json:"working_set"`
}

// peerPrefix is the cgroup prefix the peer allows, as the kubelet allows its cgroup roots:
// the tree's kubepods, as the peer sees it from inside its cgroup namespace.
const peerPrefix = "/kubepods"

// startPeer runs the peer on the tree at dir (in the memory hierarchy) and waits until it
// knows expect cgroups under the tree's kubepods, each with a sample.
//
// The peer runs in the tree's root cgroup, in a cgroup namespace of its own and a mount
// namespace where the memory hierarchy is mounted again from that root: it sees the tree as
// the whole hierarchy, /kubepods/burstable/pod<uid>/<id> as on a node, and its inotify
// watcher watches the tree alone, as our receiver, whose root_path is the tree, does. Without
// this it would watch the host's whole hierarchy and handle every cgroup that other users of
// this machine create and remove during a run.
func startPeer(bin, dir string, expect int) (*peer, error) {
	p := &peer{stderr: &lineTail{max: 20}}
	p.cmd = exec.Command("sh", "-c", `echo $$ > "$1/cgroup.procs" && exec unshare --cgroup --mount --propagation private sh -c '
		umount '"$2"' && mount -t cgroup -o memory cgroup '"$2"' && exec "$0" "$@"' "$3" -prefix "$4" -expect "$5"`,
		"sh", dir, hierarchy, bin, peerPrefix, fmt.Sprint(expect))
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.stderr.add(sc.Text())
		}
	}()
	p.out = bufio.NewReaderSize(stdout, 1<<20)
	var r peerReady
	if err := p.readLine(&r); err != nil {
		return nil, errors.Join(fmt.Errorf("cAdvisor peer: %w; its last lines:\n%s", err, p.stderr), p.stop())
	}
	p.version = r.Version
	return p, nil
}

func (p *peer) readLine(v any) error {
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		return err
	}
	return json.Unmarshal(line, v)
}

// dump asks the peer for every sample its cache holds.
func (p *peer) dump() (peerDump, error) {
	var d peerDump
	if _, err := io.WriteString(p.stdin, "dump\n"); err != nil {
		return d, err
	}
	if err := p.readLine(&d); err != nil {
		return d, fmt.Errorf("cAdvisor peer's dump: %w; its last lines:\n%s", err, p.stderr)
	}
	return d, nil
}

// stop closes the peer's stdin, which ends it, and kills it after 10 s.
func (p *peer) stop() error {
	_ = p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
		return nil
	}
}

func (p *peer) pid() int { return p.cmd.Process.Pid }
