//go:build linux

package sockets

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary act as a helper process instead of running tests:
// "queues" holds unread TCP data and tiny unread UDP datagrams, "idle" holds nothing,
// "fifty" holds 50 sockets for the benchmarks (bench_linux_test.go),
// "collect" runs a Collector and prints its result (see live_linux_test.go).
const helperEnv = "CGROUPMEM_SOCKETS_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "queues":
		os.Exit(helperMain(queuesHelper))
	case "idle":
		os.Exit(helperMain(func() (string, error) { return "idle", nil }))
	case "fifty":
		os.Exit(helperMain(fiftyHelper))
	case "hostile":
		os.Exit(helperMain(hostileHelper))
	case "collect":
		os.Exit(collectHelper())
	case "acceptlater":
		os.Exit(acceptLaterHelper())
	case "fill":
		os.Exit(fillHelper())
	default:
		fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv(helperEnv))
		os.Exit(2)
	}
}

// helperMain waits for a line on stdin (the test moves the process into its cgroup first),
// builds its state, prints "ready <detail>", and holds it until stdin closes.
func helperMain(build func() (string, error)) int {
	in := bufio.NewReader(os.Stdin)
	if _, err := in.ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "helper: waiting for go:", err)
		return 1
	}
	detail, err := build()
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Printf("ready pid=%d %s\n", os.Getpid(), detail)
	_, _ = in.ReadString('\n') // until stdin closes
	return 0
}

// held keeps the helper's sockets open for its lifetime.
var held []any

// queuesHelper follows testdata/capture/workload.py: a TCP connection whose receiver never
// reads TCP_SENDS sends of 10 bytes (plus a connection left in the accept queue, so that the
// listener has a backlog), the same over IPv6 with 10 sends, and UDP sockets that receive
// UDP_SENDS (IPv4) and 50 (IPv6) datagrams of 10 bytes, never read. It prints the inodes.
func queuesHelper() (string, error) {
	tcpSends, _ := strconv.Atoi(os.Getenv("TCP_SENDS"))
	udpSends, _ := strconv.Atoi(os.Getenv("UDP_SENDS"))
	var inodes []string
	for _, s := range []struct {
		build         func(network, addr string, sends int) ([]uint64, error)
		network, addr string
		sends         int
	}{
		{unreadTCP, "tcp4", "127.0.0.1:0", tcpSends},
		{unreadTCP, "tcp6", "[::1]:0", 10},
		{unreadUDP, "udp4", "127.0.0.1:0", udpSends},
		{unreadUDP, "udp6", "[::1]:0", 50},
	} {
		inos, err := s.build(s.network, s.addr, s.sends)
		if err != nil {
			return "", fmt.Errorf("%s: %w", s.network, err)
		}
		for _, ino := range inos {
			inodes = append(inodes, strconv.FormatUint(ino, 10))
		}
	}
	return "inodes=" + strings.Join(inodes, ","), nil
}

// unreadTCP listens, connects twice, accepts once and sends sends×10 bytes that are never
// read; it returns the inodes of the listener, both clients and the accepted socket.
func unreadTCP(network, addr string, sends int) ([]uint64, error) {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	cli, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		return nil, err
	}
	backlog, err := net.Dial(network, ln.Addr().String()) // never accepted
	if err != nil {
		return nil, err
	}
	acc, err := ln.Accept()
	if err != nil {
		return nil, err
	}
	held = append(held, ln, cli, backlog, acc)
	for range sends {
		if _, err := cli.Write([]byte("xxxxxxxxxx")); err != nil {
			return nil, err
		}
	}
	var out []uint64
	for _, c := range []syscall.Conn{ln.(*net.TCPListener), cli.(*net.TCPConn), backlog.(*net.TCPConn), acc.(*net.TCPConn)} {
		ino, err := inode(c)
		if err != nil {
			return nil, err
		}
		out = append(out, ino)
	}
	// Wait until every byte sent is in the receiver's queue.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		inq, err := tcpInq(acc.(*net.TCPConn))
		if err != nil || inq == 10*sends {
			return out, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("receive queue holds %d bytes, want %d", inq, 10*sends)
		}
	}
}

// unreadUDP binds a receiver with a 1 MiB buffer and sends it sends datagrams of 10 bytes;
// it returns the receiver's and the sender's inodes.
func unreadUDP(network, addr string, sends int) ([]uint64, error) {
	rx, err := net.ListenPacket(network, addr)
	if err != nil {
		return nil, err
	}
	if err := rx.(*net.UDPConn).SetReadBuffer(1 << 20); err != nil {
		return nil, err
	}
	tx, err := net.Dial(network, rx.LocalAddr().String())
	if err != nil {
		return nil, err
	}
	held = append(held, rx, tx)
	for range sends {
		if _, err := tx.Write([]byte("yyyyyyyyyy")); err != nil {
			return nil, err
		}
	}
	var out []uint64
	for _, c := range []syscall.Conn{rx.(*net.UDPConn), tx.(*net.UDPConn)} {
		ino, err := inode(c)
		if err != nil {
			return nil, err
		}
		out = append(out, ino)
	}
	return out, nil
}

// acceptLaterHelper listens once it is told to go, says "ready pid=N inodes=<listener>",
// and on the next line (the test has moved it into another container meanwhile) connects to
// its listener, sends 100 bytes, accepts the connection, and says
// "accepted inodes=<client>,<accepted>" once the bytes are in the accepted socket's queue.
func acceptLaterHelper() int {
	in := bufio.NewReader(os.Stdin)
	fail := func(err error) int { fmt.Println("error", err); return 1 }
	if _, err := in.ReadString('\n'); err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	lnIno, err := inode(ln.(*net.TCPListener))
	if err != nil {
		return fail(err)
	}
	fmt.Printf("ready pid=%d inodes=%d\n", os.Getpid(), lnIno)
	if _, err := in.ReadString('\n'); err != nil {
		return fail(err)
	}
	cli, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		return fail(err)
	}
	if _, err := cli.Write(make([]byte, 100)); err != nil {
		return fail(err)
	}
	acc, err := ln.Accept()
	if err != nil {
		return fail(err)
	}
	cliIno, err1 := inode(cli.(*net.TCPConn))
	accIno, err2 := inode(acc.(*net.TCPConn))
	if err := errors.Join(err1, err2); err != nil {
		return fail(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n, err := tcpInq(acc.(*net.TCPConn)); err == nil && n == 100 {
			break
		}
		if time.Now().After(deadline) {
			return fail(errors.New("the 100 bytes never reached the accepted socket"))
		}
	}
	fmt.Printf("accepted inodes=%d,%d\n", cliIno, accIno)
	_, _ = in.ReadString('\n') // until stdin closes
	runtime.KeepAlive([]any{ln, cli, acc})
	return 0
}

// hostileHelper is a tenant that makes fd walks expensive: one UDP socket with unread
// datagrams and DUPS dup()s of it, plus SOCKETS more UDP sockets with empty queues. It raises
// its soft fd limit to the hard one first. It prints the inodes of its distinct sockets.
func hostileHelper() (string, error) {
	dups, _ := strconv.Atoi(os.Getenv("DUPS"))
	socks, _ := strconv.Atoi(os.Getenv("SOCKETS"))
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return "", err
	}
	if need := uint64(dups + socks + 64); lim.Max < need {
		return "", fmt.Errorf("RLIMIT_NOFILE hard limit %d, want %d", lim.Max, need)
	}
	lim.Cur = lim.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return "", fmt.Errorf("raising RLIMIT_NOFILE: %w", err)
	}
	inos, err := unreadUDP("udp4", "127.0.0.1:0", 10)
	if err != nil {
		return "", err
	}
	rx := held[len(held)-2].(*net.UDPConn)
	var dupErr error
	if err := control(rx, func(fd int) error {
		for range dups {
			if _, err := unix.Dup(fd); err != nil {
				dupErr = err
				return err
			}
		}
		return nil
	}); err != nil || dupErr != nil {
		return "", fmt.Errorf("dup: %v %v", err, dupErr)
	}
	for range socks {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		held = append(held, c)
		ino, err := inode(c.(*net.UDPConn))
		if err != nil {
			return "", err
		}
		inos = append(inos, ino)
	}
	out := make([]string, len(inos))
	for i, ino := range inos {
		out[i] = strconv.FormatUint(ino, 10)
	}
	return "inodes=" + strings.Join(out, ","), nil
}

// inode returns the socket inode of c, as /proc/<pid>/fd and ss show it.
func inode(c syscall.Conn) (uint64, error) {
	var st unix.Stat_t
	err := control(c, func(fd int) error { return unix.Fstat(fd, &st) })
	return st.Ino, err
}

// tcpInq returns the unread bytes of a TCP socket (SIOCINQ), without reading them.
func tcpInq(c syscall.Conn) (int, error) {
	var n int
	err := control(c, func(fd int) (err error) {
		n, err = unix.IoctlGetInt(fd, unix.SIOCINQ)
		return err
	})
	return n, err
}

func control(c syscall.Conn, fn func(fd int) error) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
