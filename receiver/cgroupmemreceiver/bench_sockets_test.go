package cgroupmemreceiver

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

func init() {
	// A container process of the socket benchmark tree (socketBenchTree): it says "ready" on
	// stdout and holds its sockets.
	if mode, ok := os.LookupEnv(testcgroup.SocketsEnv); ok {
		fmt.Println("error", testcgroup.HoldSockets(mode, os.Stdout)) // it only returns on failure
		os.Exit(2)
	}
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
			cmd.Env = append(os.Environ(), testcgroup.SocketsEnv+"="+mode)
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
				bt.netnsPIDs = append(bt.netnsPIDs, sandbox)
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
