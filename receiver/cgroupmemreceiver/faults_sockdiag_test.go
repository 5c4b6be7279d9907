package cgroupmemreceiver

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

// udpHolder is a python3 program that binds a UDP socket on the loopback of its (new) network
// namespace, sends itself datagrams it never reads, and waits for stdin to close.
const udpHolder = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
for _ in range(%d):
    s.sendto(b"x" * 10, s.getsockname())
sys.stdin.read()
`

// TestFaultSockDiagRefused runs the scraper as root without CAP_SYS_ADMIN (so setns into a
// container's network namespace is refused with EPERM, as in a DaemonSet without that
// capability) against a live container holding a UDP socket with unread datagrams in a
// network namespace of its own. What internal/sockets documents: sock_diag is given up for
// that namespace and /proc/<pid>/net read instead; said once at info level (kind
// sock_diag_denied), no scrape error and no warning; the socket metrics are there with
// source proc_net and the kernel's own rx_queue (which for UDP is rmem_alloc, sock_diag's
// number: the same values as a scrape with the capability, source sock_diag); every other
// metric of the container is emitted as with the capability.
func TestFaultSockDiagRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a network namespace and cgroups")
	}
	for _, tool := range []string{"unshare", "ip", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	tree := testcgroup.New(t)
	uid := testcgroup.NewPodUID()
	id := testcgroup.NewContainerID()
	dir := tree.AddContainer(testcgroup.QoSBurstable, uid, id)
	const datagrams = 40
	cmd := exec.Command("unshare", "-n", "sh", "-c",
		`ip link set lo up && exec python3 -c "$0"`, fmt.Sprintf(udpHolder, datagrams))
	p := tree.Start(t, dir, cmd)
	// The command is exec'd once in the cgroup: wait until python3 queued its datagrams.
	var want uint64
	var err error
	require.Eventually(t, func() bool {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.Pid))
		if err != nil || !strings.HasPrefix(string(comm), "python") {
			return false
		}
		want, err = kernelUDPReceiveMemoryErr(p.Pid)
		return err == nil && want > datagrams*10
	}, 30*time.Second, 50*time.Millisecond, "the holder's UDP queue never filled")
	self, err := os.Readlink("/proc/self/ns/net")
	require.NoError(t, err)
	theirs, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", p.Pid))
	require.NoError(t, err)
	require.NotEqual(t, self, theirs, "the holder has a network namespace of its own")

	withCap := runFaultChild(t, faultSpec{Root: tree.Root(), Scrapes: 1, Sockets: true}, nil)
	require.Equal(t, []string{""}, withCap.Errors)
	require.Equal(t, "sock_diag", withCap.Sources[0][id], "with CAP_SYS_ADMIN the namespace is entered")

	refused := runFaultChild(t, faultSpec{Root: tree.Root(), Scrapes: 3, NoSysAdmin: true, Sockets: true}, nil)
	require.Equal(t, []string{"", "", ""}, refused.Errors, "a documented fallback, not a scrape error")
	require.Empty(t, refused.Warnings, "nothing warns")
	var denied []string
	for _, m := range refused.Infos {
		if strings.Contains(m, "sock_diag") {
			denied = append(denied, m)
		}
	}
	require.Equal(t, []string{"socket queues: using a fallback until it changes sock_diag_denied"}, denied,
		"said once, not every scrape")
	after := kernelUDPReceiveMemory(t, p.Pid)
	require.Equal(t, want, after, "the queue did not move meanwhile")
	for i, got := range refused.Containers {
		require.Equal(t, "proc_net", refused.Sources[i][id], "scrape %d", i)
		require.Equal(t, int64(want), got[id]["container.memory.sock_rcvq"], "scrape %d: the kernel's rx_queue", i)
		require.Equal(t, int64(1), got[id]["container.memory.sock_rcvq_sockets"], "scrape %d", i)
		require.Equal(t, withCap.Containers[0][id]["container.memory.sock_rcvq"], got[id]["container.memory.sock_rcvq"])
		require.ElementsMatch(t, keys(withCap.Containers[0][id]), keys(got[id]), "scrape %d: every metric still emitted", i)
		require.Contains(t, got[id], "container.memory.usage")
	}
}

func keys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
