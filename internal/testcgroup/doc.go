// Package testcgroup builds Kubernetes-shaped cgroup trees in the host's real cgroup v1 memory
// hierarchy for live tests, and runs workloads inside them.
//
// A Tree lives under a directory of its own, /sys/fs/cgroup/memory/cgroupmem-test-<random>,
// laid out as the kubelet's cgroupfs driver does (kubepods/[burstable|besteffort/]pod<uid>/<id>).
// Root returns a host root for a receiver's root_path whose sys/fs/cgroup/memory is that
// directory, so discovery sees the test's cgroups and nothing else.
//
// On a hybrid host (cgroup2 mounted at /sys/fs/cgroup/unified) the tree has a twin there,
// /sys/fs/cgroup/unified/cgroupmem-test-<same random>, with the same cgroups, and processes
// join both, as runc and crun place a container's processes at the same path in each
// hierarchy: the kernel accounts memory pressure (memory.pressure) in the unified one. The
// root's sys/fs/cgroup/unified links to that twin.
//
// Processes join their cgroup themselves before doing anything: Start re-executes the test
// binary, whose init (in this package) writes its own pid to the cgroup's cgroup.procs, then
// runs a Workload or execs the command it was given. Importing this package is all a test
// binary needs for that.
//
// New skips the test when the hierarchy cannot be written: not root, or no cgroup v1 memory
// controller at /sys/fs/cgroup/memory. The test's cleanup stops every process and removes
// every cgroup.
package testcgroup // import "github.com/cgroupmem/cgroupmem/internal/testcgroup"
