package testcgroup

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// SocketsEnv makes a program a container process of a socket benchmark tree (the receiver's
// socket benchmarks and bench/collectorrss): already in its cgroup and network namespace, the
// program calls HoldSockets with the variable's value.
const SocketsEnv = "CGROUPMEM_BENCH_SOCKETS"

// HoldSockets opens five sockets — a TCP listener, a connection (both ends), a UDP receiver
// and sender — and execs sleep, which holds them. mode is "up" (a new namespace: set loopback
// up first) or "in" (a namespace another container set up), and ",queued" to leave data
// unread in two of them: 100 bytes on the accepted end, 4 datagrams on the receiver. When
// ready is not nil, "ready" is written to it just before the exec. It returns only on failure.
func HoldSockets(mode string, ready io.Writer) error {
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
	if strings.HasSuffix(mode, ",queued") {
		if _, err := cli.Write(make([]byte, 100)); err != nil {
			return err
		}
		for range 4 {
			if _, err := tx.Write([]byte("0123456789")); err != nil {
				return err
			}
		}
	}
	// The sockets outlive the exec in fds without close-on-exec (dup clears it).
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
	time.Sleep(10 * time.Millisecond) // loopback delivery is synchronous; leave it a moment anyway
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return err
	}
	if ready != nil {
		fmt.Fprintln(ready, "ready")
	}
	return syscall.Exec(sleep, []string{"sleep", "infinity"}, os.Environ())
}
