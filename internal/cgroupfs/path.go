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

// parsePodDir recognises a Kubernetes pod cgroup directory:
// cgroupfs "pod<uid>" (QoS from the parent: burstable, besteffort, else guaranteed) or systemd
// "[<prefix>-]kubepods[-<qos>]-pod<uid with _ for ->.slice".
func parsePodDir(name, parent string) (uid, qos string, ok bool) {
	if rest, found := strings.CutSuffix(name, ".slice"); found {
		i := strings.LastIndex(rest, "-pod")
		if i < 0 || !strings.Contains(rest[:i], "kubepods") {
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
	switch parent {
	case QoSBurstable, QoSBestEffort:
		return rest, parent, true
	}
	return rest, QoSGuaranteed, true
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
