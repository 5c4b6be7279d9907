package cgroupmemreceiver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

// TestLiveSocketReceiveQueues starts a container holding a UDP socket with unread datagrams
// and an idle one, and checks the receiver's socket metrics against the kernel's own
// /proc/<pid>/net/udp, whose rx_queue is the socket's receive memory (sk_rmem_alloc): with
// the default attribution by the sockets' cgroup id (testcgroup mirrors the tree into the
// unified hierarchy as runc does, so no fd is walked), by walking the fds, and by walking the
// fds and reading each socket through its holder (sockopt).
func TestLiveSocketReceiveQueues(t *testing.T) {
	tree := testcgroup.New(t)
	uid := testcgroup.NewPodUID()
	busyID, idleID := testcgroup.NewContainerID(), testcgroup.NewContainerID()
	busy := tree.AddContainer(testcgroup.QoSBurstable, uid, busyID)
	idle := tree.AddContainer(testcgroup.QoSBurstable, uid, idleID)
	const datagrams = 100
	p := tree.Start(t, busy, testcgroup.Command(t, testcgroup.Workload{UnreadUDPDatagrams: datagrams}))
	tree.Start(t, idle, testcgroup.Command(t, testcgroup.Workload{}))

	for _, attribution := range []string{socketAttributionCgroupID, socketAttributionFDWalk, socketAttributionSockopt} {
		t.Run(attribution, func(t *testing.T) {
			if attribution == socketAttributionCgroupID && tree.Unified(busy) == "" {
				t.Skip("no unified hierarchy to mirror the containers into")
			}
			cfg := createDefaultConfig().(*Config)
			cfg.RootPath = tree.Root()
			cfg.Sockets.Attribution = attribution
			s := startScraper(t, cfg)

			md, err := s.scrape(context.Background())
			require.NoError(t, err)
			want := kernelUDPReceiveMemory(t, p.Pid)
			require.Greater(t, want, uint64(datagrams*10), "the kernel holds more than the payload: truesize")
			st := s.sockets.LastStats()
			if attribution == socketAttributionCgroupID {
				require.Equal(t, 2, st.ByCgroupID, "both containers by cgroup id")
				require.Zero(t, st.FDs, "no fd walked")
			} else {
				require.Zero(t, st.ByCgroupID)
				require.Positive(t, st.FDs)
			}
			wantSource := "sock_diag" // root reads its own namespace with sock_diag
			if attribution == socketAttributionSockopt {
				wantSource = "sockopt"
				require.Positive(t, st.SockoptReads, "sockets read through their holders")
				require.Zero(t, st.Namespaces, "no namespace read")
			}

			got := socketPoints(md, busyID)
			require.Equal(t, int64(want), got["container.memory.sock_rcvq"].value, "rmem_alloc of the unread queue")
			require.Equal(t, wantSource, got["container.memory.sock_rcvq"].source)
			require.Equal(t, int64(0), got["container.memory.sock_rcvq_payload"].value, "UDP payload is not exposed; no TCP socket")
			require.Equal(t, int64(1), got["container.memory.sock_rcvq_sockets"].value, "one socket with a non-empty queue")

			quiet := socketPoints(md, idleID)
			require.Equal(t, int64(0), quiet["container.memory.sock_rcvq"].value)
			require.Equal(t, int64(0), quiet["container.memory.sock_rcvq_sockets"].value)
			require.Len(t, quiet, 3)
		})
	}
}

// TestLiveSocketLimitLeavesMetricsOut: a container with more fds than sockets.max_fds_per_container
// has no socket metrics (not a low number), the others still have theirs.
func TestLiveSocketLimitLeavesMetricsOut(t *testing.T) {
	tree := testcgroup.New(t)
	uid := testcgroup.NewPodUID()
	busyID, idleID := testcgroup.NewContainerID(), testcgroup.NewContainerID()
	busy := tree.AddContainer(testcgroup.QoSBurstable, uid, busyID)
	idle := tree.AddContainer(testcgroup.QoSBurstable, uid, idleID)
	p := tree.Start(t, busy, testcgroup.Command(t, testcgroup.Workload{UnreadUDPDatagrams: 10}))
	q := tree.Start(t, idle, testcgroup.Command(t, testcgroup.Workload{}))
	busyFDs, idleFDs := fdCount(t, p.Pid), fdCount(t, q.Pid)
	require.Greater(t, busyFDs, idleFDs, "the busy container holds two sockets more")

	cfg := createDefaultConfig().(*Config)
	cfg.RootPath = tree.Root()
	cfg.Sockets.Attribution = socketAttributionFDWalk
	cfg.Sockets.MaxFDsPerContainer = busyFDs - 1
	s := startScraper(t, cfg)
	md, err := s.scrape(context.Background())
	require.NoError(t, err, "a limit is warned about, not a scrape error")
	require.Empty(t, socketPoints(md, busyID), "past the limit: no socket metric")
	require.Len(t, socketPoints(md, idleID), 3, "within it: all three")
	require.NotZero(t, containerMetrics(md, busyID).Len(), "the container's other metrics are there")
}

// fdCount is the number of open fds of pid.
func fdCount(t *testing.T, pid int) int {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	require.NoError(t, err)
	return len(entries)
}

type socketPoint struct {
	value  int64
	source string
}

func socketPoints(md pmetric.Metrics, containerID string) map[string]socketPoint {
	out := map[string]socketPoint{}
	ms := containerMetrics(md, containerID)
	for k := 0; k < ms.Len(); k++ {
		if m := ms.At(k); strings.HasPrefix(m.Name(), "container.memory.sock_rcvq") {
			dp := m.Sum().DataPoints().At(0)
			src, _ := dp.Attributes().Get("container.memory.socket.source")
			out[m.Name()] = socketPoint{value: dp.IntValue(), source: src.Str()}
		}
	}
	return out
}

// kernelUDPReceiveMemory sums rx_queue (hex, field 4 "tx:rx") of the pid's IPv4 UDP sockets
// that the pid holds, read with code independent of the receiver's.
func kernelUDPReceiveMemory(t *testing.T, pid int) uint64 {
	t.Helper()
	sum, err := kernelUDPReceiveMemoryErr(pid)
	require.NoError(t, err)
	return sum
}

// kernelUDPReceiveMemoryErr is kernelUDPReceiveMemory returning its error (for Eventually
// conditions, which must not fail the test off its goroutine).
func kernelUDPReceiveMemoryErr(pid int) (uint64, error) {
	held := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			held[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/udp", pid))
	if err != nil {
		return 0, err
	}
	var sum uint64
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 || !held[f[9]] {
			continue
		}
		_, rx, ok := strings.Cut(f[4], ":")
		if !ok {
			return 0, fmt.Errorf("no tx:rx in %q", line)
		}
		v, err := strconv.ParseUint(rx, 16, 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", line, err)
		}
		sum += v
	}
	return sum, nil
}
