// Package cgroupfs finds container cgroups in a host's cgroup tree and reads their memory
// files. It works on a tree mounted under any root path (a DaemonSet's /hostfs, or a capture
// in testdata), for cgroup v1, hybrid and v2 hosts.
//
// Parsers take the bytes of one kernel file and never touch the filesystem; readers open one
// cgroup's files and hand them to the parsers.
package cgroupfs // import "github.com/cgroupmem/cgroupmem/internal/cgroupfs"
