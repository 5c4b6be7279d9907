package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// socketsEnv makes collectorrss a container process of a tree with sockets: already in its
// cgroups and network namespace, it opens five sockets and execs sleep, which
// holds them. Its value is "up" (a new namespace: set loopback up first) or "in" (the
// namespace of the pod's first container), and ",queued" to leave data unread in two of them.
// It is what the receiver's socket benchmarks run in each container (bench_sockets_test.go).
const socketsEnv = "CGROUPMEM_BENCH_SOCKETS"

// The five sockets: a TCP listener, a connection (both ends), a UDP receiver and sender.

// socketsChild runs the container process; it returns only on failure.
func socketsChild(mode string) error {
	if strings.HasPrefix(mode, "up") {
		if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			return fmt.Errorf("ip link set lo up: %v: %s", err, out)
		}
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cli, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		return err
	}
	acc, err := ln.Accept()
	if err != nil {
		return err
	}
	rx, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	tx, err := net.Dial("udp4", rx.LocalAddr().String())
	if err != nil {
		return err
	}
	if strings.HasSuffix(mode, ",queued") { // 100 unread bytes on the accepted end, 4 unread datagrams
		if _, err := cli.Write(make([]byte, 100)); err != nil {
			return err
		}
		for range 4 {
			if _, err := tx.Write([]byte("0123456789")); err != nil {
				return err
			}
		}
	}
	// The sockets outlive the exec in descriptors without close-on-exec (dup clears it).
	for _, c := range []syscall.Conn{ln.(*net.TCPListener), cli.(*net.TCPConn), acc.(*net.TCPConn), rx.(*net.UDPConn), tx.(*net.UDPConn)} {
		rc, err := c.SyscallConn()
		if err != nil {
			return err
		}
		var dupErr error
		if err := rc.Control(func(fd uintptr) { _, dupErr = unix.Dup(int(fd)) }); err != nil || dupErr != nil {
			return errors.Join(err, dupErr)
		}
	}
	time.Sleep(10 * time.Millisecond)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return err
	}
	return syscall.Exec(sleep, []string{"sleep", "infinity"}, os.Environ())
}

// waitSleeping waits until the process has exec'd sleep: its sockets are open.
func waitSleeping(pid int, deadline time.Time) error {
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		if err == nil && strings.TrimSpace(string(b)) == "sleep" {
			return nil
		}
		if err != nil || time.Now().After(deadline) {
			return fmt.Errorf("container process %d did not open its sockets and sleep: %v", pid, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
