// Package testruntime runs real container runtimes for live tests: containerd with runc,
// Docker and Podman, as Debian packages them, each started privately for the test.
//
// Nothing is shared with another user of the host: containerd gets its own socket, root and
// state directories (under a short temporary directory), dockerd runs on that containerd with
// its own data root and socket (and without a bridge or iptables rules), and Podman gets its
// own storage root, run root and containers.conf. The cleanups registered with testing.TB
// remove the containers the test started, stop the daemons it started, and remove the
// temporary directory; cgroups the runtimes leave behind are the caller's (Parent removes
// the ones under it, in every hierarchy).
//
// The image is built locally from Debian's busybox-static (no registry is reachable): Image
// writes a root filesystem tarball for `docker import` and `podman import`, and a
// docker-archive of the same layer for `ctr images import`.
//
// A runtime that is not installed, or that cannot start here, skips the test with a message
// that says which and why.
package testruntime // import "github.com/cgroupmem/cgroupmem/internal/testruntime"
