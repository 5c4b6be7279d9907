package cgroupfs

import "strings"

// Container runtimes as they are named in container.runtime.name.
const (
	RuntimeContainerd = "containerd"
	RuntimeCRIO       = "cri-o"
	RuntimeDocker     = "docker"
	RuntimePodman     = "podman"
)

// Kubernetes QoS classes.
const (
	QoSGuaranteed = "guaranteed"
	QoSBurstable  = "burstable"
	QoSBestEffort = "besteffort"
)

// containerPrefixes maps a cgroup directory prefix to the runtime that creates it. Conmon
// (the CRI-O and Podman monitor) cgroups come first: they hold no workload and are skipped.
var containerPrefixes = []struct {
	prefix  string
	runtime string // "" = not a container: skip
}{
	{"crio-conmon-", ""},
	{"libpod-conmon-", ""},
	{"cri-containerd-", RuntimeContainerd},
	{"crio-", RuntimeCRIO},
	{"docker-", RuntimeDocker},
	{"libpod-", RuntimePodman},
}

// parseContainerDir recognises a container cgroup directory by its name:
// systemd driver "<prefix><id>.scope" (cri-containerd-, crio-, docker-, libpod-), CRI-O's
// cgroupfs "crio-<id>", or a bare 64-hex id (cgroupfs driver; the runtime is then known only
// from the parent: "docker" for Docker's own /docker/<id>).
func parseContainerDir(name, parent string) (id, runtime string, ok bool) {
	trimmed := strings.TrimSuffix(name, ".scope")
	for _, p := range containerPrefixes {
		if rest, found := strings.CutPrefix(trimmed, p.prefix); found {
			if p.runtime == "" || !isHex(rest, 12) {
				return "", "", false
			}
			return rest, p.runtime, true
		}
	}
	if trimmed != name || len(name) != 64 || !isHex(name, 64) {
		return "", "", false
	}
	if parent == "docker" {
		return name, RuntimeDocker, true
	}
	return name, "", true
}

// maxKubepodsDepth is how deep the cgroupfs driver's kubepods directory may sit: at the top
// of the hierarchy, or under a kubelet --cgroup-root of up to two levels (kind's /kubelet).
const maxKubepodsDepth = 2

// parsePodDir recognises a Kubernetes pod cgroup directory by its name and where it is;
// parentRel is its parent's path relative to the hierarchy ("/" for the top). Only the
// layouts the kubelet makes are pods, so that a directory named pod<uid> anywhere else (made
// under a delegated subtree, say) is not taken for one:
//   - cgroupfs driver: "pod<uid>" in kubepods (guaranteed) or in kubepods/burstable or
//     kubepods/besteffort, kubepods at most maxKubepodsDepth levels down;
//   - systemd driver: "[<prefix>-]kubepods[-<qos>]-pod<uid with _ for ->.slice" at the end of
//     a chain of slices from the top of the hierarchy, each named after its parent as systemd
//     names them (kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice;
//     kind's kubelet.slice/kubelet-kubepods.slice/...).
func parsePodDir(name, parentRel string) (uid, qos string, ok bool) {
	parents := splitRel(parentRel)
	if rest, found := strings.CutSuffix(name, ".slice"); found {
		i := strings.LastIndex(rest, "-pod")
		if i < 0 || !strings.Contains(rest[:i], "kubepods") || !isSliceChain(append(parents, name)) {
			return "", "", false
		}
		uid = strings.ReplaceAll(rest[i+len("-pod"):], "_", "-")
		if !isPodUID(uid) {
			return "", "", false
		}
		return uid, qosFromSlice(rest[:i]), true
	}
	rest, found := strings.CutPrefix(name, "pod")
	if !found || !isPodUID(rest) {
		return "", "", false
	}
	n := len(parents)
	switch {
	case n >= 1 && parents[n-1] == "kubepods" && n-1 <= maxKubepodsDepth:
		return rest, QoSGuaranteed, true
	case n >= 2 && (parents[n-1] == QoSBurstable || parents[n-1] == QoSBestEffort) &&
		parents[n-2] == "kubepods" && n-2 <= maxKubepodsDepth:
		return rest, parents[n-1], true
	}
	return "", "", false
}

// isSliceChain reports whether the path components are systemd slices from the top of the
// hierarchy: the first a name without "-", each next one its parent's name, "-" and one more
// dash-free part (a-b.slice lives in a.slice).
func isSliceChain(parts []string) bool {
	prev := ""
	for i, p := range parts {
		unit, ok := strings.CutSuffix(p, ".slice")
		if !ok {
			return false
		}
		last := unit
		if i > 0 {
			if last, ok = strings.CutPrefix(unit, prev+"-"); !ok {
				return false
			}
		}
		if last == "" || strings.Contains(last, "-") {
			return false
		}
		prev = unit
	}
	return len(parts) > 0
}

// splitRel splits a path relative to the hierarchy ("/a/b") into its components.
func splitRel(rel string) []string {
	rel = strings.Trim(rel, "/")
	if rel == "" {
		return nil
	}
	return strings.Split(rel, "/")
}

func qosFromSlice(prefix string) string {
	switch {
	case strings.HasSuffix(prefix, "-"+QoSBurstable):
		return QoSBurstable
	case strings.HasSuffix(prefix, "-"+QoSBestEffort):
		return QoSBestEffort
	}
	return QoSGuaranteed
}

// isPodUID accepts an RFC 4122 UID (8-4-4-4-12 hex) or the 32 hex characters of a static
// pod's config hash.
func isPodUID(s string) bool {
	switch len(s) {
	case 32:
		return isHex(s, 32)
	case 36:
		for i := 0; i < len(s); i++ {
			c := s[i]
			if i == 8 || i == 13 || i == 18 || i == 23 {
				if c != '-' {
					return false
				}
			} else if !isHexByte(c) {
				return false
			}
		}
		return true
	}
	return false
}

func isHex(s string, minLen int) bool {
	if len(s) < minLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHexByte(s[i]) {
			return false
		}
	}
	return true
}

func isHexByte(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f')
}
