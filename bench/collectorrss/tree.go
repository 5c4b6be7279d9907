package main

import (
	"errors"
	"os"
	"strconv"
	"time"

	"github.com/cgroupmem/cgroupmem/internal/testcgroup"
)

// hierarchy is where the host mounts the cgroup v1 memory controller (the cAdvisor peer
// mounts it again in its own namespace).
const hierarchy = testcgroup.Hierarchy

// tree is a Kubernetes-shaped cgroup tree in the host's memory hierarchy (internal/testcgroup:
// cgroup v1, or v2), <hierarchy>/cgroupmem-bench-<random>/kubepods/burstable/pod<uid>/<id>,
// with a sleeping process in each container, and a host root for the receiver's root_path
// whose sys/fs/cgroup is that tree and whose proc is /proc. With unified, on a hybrid host
// every cgroup is mirrored at the same path under the cgroup2 mount and each process joins
// both, as runc does there; the host root's sys/fs/cgroup/unified is then the mirror.
type tree struct {
	dir  string // the tree's root cgroup
	root string // the host root handed to the collector
	tc   *testcgroup.Tree
}

// newTree creates containers/2 burstable pods of two containers each (an odd count leaves the
// last pod with one). With sockets, each pod has a network namespace of its own, as a pod
// sandbox has, and each container five sockets, half of the containers with
// unread data in two (see testcgroup.HoldSockets). On error, what was made is removed.
func newTree(containers int, unified, sockets bool) (_ *tree, err error) {
	var opts []testcgroup.Option
	if !unified {
		opts = append(opts, testcgroup.WithoutUnifiedTwin())
	}
	tc, err := testcgroup.Make("cgroupmem-bench-", opts...)
	if err != nil {
		return nil, err
	}
	t := &tree{dir: tc.Dir(), root: tc.Root(), tc: tc}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.remove())
		}
	}()
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var pod string
	var sandbox int
	for i := range containers {
		if i%2 == 0 {
			pod = testcgroup.NewPodUID()
		}
		dir, err := tc.MakeContainer(testcgroup.QoSBurstable, pod, testcgroup.NewContainerID())
		if err != nil {
			return nil, err
		}
		if !sockets {
			if err := tc.StartSleeper(dir); err != nil {
				return nil, err
			}
			continue
		}
		mode, ns := "up", []string{"unshare", "--net"}
		if i%2 == 1 {
			mode, ns = "in", []string{"nsenter", "--net=/proc/" + strconv.Itoa(sandbox) + "/ns/net"}
		}
		if i%2 == 0 { // half of the containers
			mode += ",queued"
		}
		argv := append([]string{"env", testcgroup.SocketsEnv + "=" + mode}, append(ns, self)...)
		cmd, err := tc.StartIn(dir, argv...)
		if err != nil {
			return nil, err
		}
		if err := waitSleeping(cmd.Process.Pid, time.Now().Add(30*time.Second)); err != nil {
			return nil, err
		}
		if i%2 == 0 {
			sandbox = cmd.Process.Pid
		}
	}
	return t, tc.WaitJoined()
}

// remove kills the sleepers and removes every cgroup made, deepest first, then the root.
func (t *tree) remove() error { return t.tc.Close() }
