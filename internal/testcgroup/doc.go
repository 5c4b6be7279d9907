// Package testcgroup builds Kubernetes-shaped cgroup trees in the host's real memory
// hierarchy, cgroup v1 or v2, for live tests and for the benchmark programs, and runs
// workloads inside them.
//
// A Tree lives under a directory of its own: on a v1 host
// /sys/fs/cgroup/memory/cgroupmem-test-<random>, on a v2 host /sys/fs/cgroup/cgroupmem-test-<random>
// (with the memory controller enabled for its children at every level), laid out as the
// kubelet's cgroupfs driver does (kubepods/[burstable|besteffort/]pod<uid>/<id>). Root
// returns a host root for a receiver's root_path whose sys/fs/cgroup/memory (v1) or
// sys/fs/cgroup (v2) is that directory, so discovery sees the tree's cgroups and nothing else.
// New makes a v1 tree for a test (skipped where the host has no v1 memory hierarchy, cleaned
// up by the test), NewAnyVersion a v1 or v2 tree for a test whose checks hold on both (today
// internal/dentrybpf's live tests and cgroupfs' live catalog test);
// Make and Close are the same for a program without testing.TB, such as bench/collectorrss,
// which fills it with StartSleeper.
//
// On a hybrid host (cgroup2 mounted at /sys/fs/cgroup/unified) a v1 tree has a twin there,
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
// NewAnyVersion skips the test when no hierarchy can be written: not root, or neither a
// cgroup v1 memory controller at /sys/fs/cgroup/memory nor cgroup2 at /sys/fs/cgroup with the
// memory controller; New also skips on a v2 host. The test's cleanup stops every process and removes every cgroup it made, and
// nothing else.
package testcgroup // import "github.com/cgroupmem/cgroupmem/internal/testcgroup"
