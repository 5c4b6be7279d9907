package cgroupmemreceiver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"golang.org/x/sys/unix"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

// benchSocketsEnv makes the test binary a container process of the socket benchmark tree
// (socketBenchTree): in its cgroup and network namespace, it opens a few sockets, says
// "ready" on stdout and execs sleep, which holds them. Its value is "up" (a new namespace:
// set loopback up first) or "in" (a namespace another container set up), and ",queued" to
// leave data unread in two of them.
const benchSocketsEnv = "CGROUPMEM_BENCH_SOCKETS"

func init() {
	if mode, ok := os.LookupEnv(benchSocketsEnv); ok {
		fmt.Println("error", benchSocketsChild(mode)) // it only returns on failure
		os.Exit(2)
	}
}

// A container of the socket benchmark tree holds five sockets: a TCP listener, a connection
// (both ends) and a UDP receiver and sender.

func benchSocketsChild(mode string) error {
	if strings.HasPrefix(mode, "up") {
		if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			return fmt.Errorf("ip link set lo up: %v: %s", err, out)
		}
	}
	queued := strings.HasSuffix(mode, ",queued")
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
	if queued { // 100 unread bytes on the accepted end, 4 unread datagrams on the receiver
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
	fmt.Println("ready")
	return syscall.Exec(sleep, []string{"sleep", "infinity"}, os.Environ())
}

// socketBenchTree is liveBenchTree with each pod in a network namespace of its own, as a pod
// sandbox is, and five sockets in each container, half of the containers
// with unread data in two of them. Needs root, iproute2 and util-linux (unshare, nsenter).
func socketBenchTree(b *testing.B, n int) benchTree {
	for _, tool := range []string{"ip", "unshare", "nsenter", "sleep"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("the socket benchmark tree needs %s: %v", tool, err)
		}
	}
	self, err := os.Executable()
	require.NoError(b, err)
	tree := testcgroup.New(b)
	bt := benchTree{root: tree.Root(), containers: n, live: true}
	hier := filepath.Join(tree.Root(), "sys", "fs", "cgroup", "memory")
	for p := range n / 2 {
		uid := testcgroup.NewPodUID()
		var sandbox int
		for i := range 2 {
			dir := tree.AddContainer(testcgroup.QoSBurstable, uid, testcgroup.NewContainerID())
			cmd := exec.Command("unshare", "--net", self)
			mode := "up"
			if i == 1 {
				cmd = exec.Command("nsenter", "--net=/proc/"+strconv.Itoa(sandbox)+"/ns/net", self)
				mode = "in"
			}
			if (2*p+i)%2 == 0 {
				mode += ",queued"
			}
			cmd.Env = append(os.Environ(), benchSocketsEnv+"="+mode)
			r, w, err := os.Pipe()
			require.NoError(b, err)
			cmd.Stdout = w
			proc := tree.Start(b, dir, cmd)
			w.Close()
			line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
			r.Close()
			require.NoError(b, err, "container process of the socket tree")
			require.Equal(b, "ready\n", line)
			if i == 0 {
				sandbox = proc.Pid
				bt.cgroups = append(bt.cgroups, filepath.Join(hier, tree.Rel(filepath.Dir(dir))))
			}
			bt.cgroups = append(bt.cgroups, filepath.Join(hier, tree.Rel(dir)))
		}
	}
	return bt
}

// requireSocketPoints checks a scrape of the socket benchmark tree: every container has its
// socket metrics, half of them two sockets with unread data.
func requireSocketPoints(b *testing.B, md pmetric.Metrics, containers int) {
	withQueues, withMetrics := 0, 0
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		ms := rms.At(i).ScopeMetrics().At(0).Metrics()
		for k := 0; k < ms.Len(); k++ {
			if ms.At(k).Name() != "container.memory.sock_rcvq_sockets" {
				continue
			}
			withMetrics++
			if ms.At(k).Sum().DataPoints().At(0).IntValue() == 2 {
				withQueues++
			}
		}
	}
	require.Equal(b, containers, withMetrics, "socket metrics for every container")
	require.Equal(b, containers/2, withQueues, "two sockets with unread data in half of the containers")
}
