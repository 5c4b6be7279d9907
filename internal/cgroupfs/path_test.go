package cgroupfs

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const id64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseContainerDir(t *testing.T) {
	tests := []struct {
		name, dir, parent string
		wantID, wantRT    string
		wantOK            bool
	}{
		{name: "containerd systemd", dir: "cri-containerd-" + id64 + ".scope", wantID: id64, wantRT: RuntimeContainerd, wantOK: true},
		{name: "cri-o systemd", dir: "crio-" + id64 + ".scope", wantID: id64, wantRT: RuntimeCRIO, wantOK: true},
		{name: "cri-o cgroupfs", dir: "crio-" + id64, wantID: id64, wantRT: RuntimeCRIO, wantOK: true},
		{name: "cri-o conmon skipped", dir: "crio-conmon-" + id64 + ".scope"},
		{name: "docker systemd", dir: "docker-" + id64 + ".scope", wantID: id64, wantRT: RuntimeDocker, wantOK: true},
		{name: "docker own hierarchy", dir: id64, parent: "docker", wantID: id64, wantRT: RuntimeDocker, wantOK: true},
		{name: "podman", dir: "libpod-" + id64 + ".scope", wantID: id64, wantRT: RuntimePodman, wantOK: true},
		{name: "podman conmon skipped", dir: "libpod-conmon-" + id64 + ".scope"},
		{name: "cgroupfs bare id", dir: id64, wantID: id64, wantOK: true},
		{name: "bare id too short", dir: id64[:63]},
		{name: "bare id not hex", dir: strings.Repeat("g", 64)},
		{name: "bare id with scope suffix", dir: id64 + ".scope"},
		{name: "prefixed id too short", dir: "docker-abc.scope"},
		{name: "systemd service", dir: "containerd.service"},
		{name: "upper-case hex is not an id", dir: strings.ToUpper(id64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, rt, ok := parseContainerDir(tt.dir, tt.parent)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.wantID, id)
			require.Equal(t, tt.wantRT, rt)
		})
	}
}

func TestParsePodDir(t *testing.T) {
	const uid = "3f0a9d1e-7c55-4b8e-9a31-2d4be2f1c0aa"
	const uidU = "3f0a9d1e_7c55_4b8e_9a31_2d4be2f1c0aa"
	const static = "0123456789abcdef0123456789abcdef"
	tests := []struct {
		name, dir, parent string
		wantUID, wantQoS  string
		wantOK            bool
	}{
		{name: "cgroupfs burstable", dir: "pod" + uid, parent: "/kubepods/burstable", wantUID: uid, wantQoS: QoSBurstable, wantOK: true},
		{name: "cgroupfs besteffort", dir: "pod" + uid, parent: "/kubepods/besteffort", wantUID: uid, wantQoS: QoSBestEffort, wantOK: true},
		{name: "cgroupfs guaranteed", dir: "pod" + uid, parent: "/kubepods", wantUID: uid, wantQoS: QoSGuaranteed, wantOK: true},
		{name: "cgroupfs static pod", dir: "pod" + static, parent: "/kubepods", wantUID: static, wantQoS: QoSGuaranteed, wantOK: true},
		{name: "cgroupfs under a cgroup root", dir: "pod" + uid, parent: "/kubelet/kubepods/burstable", wantUID: uid, wantQoS: QoSBurstable, wantOK: true},
		{name: "cgroupfs under a two-level cgroup root", dir: "pod" + uid, parent: "/a/b/kubepods", wantUID: uid, wantQoS: QoSGuaranteed, wantOK: true},
		{name: "cgroupfs kubepods too deep", dir: "pod" + uid, parent: "/a/b/c/kubepods"},
		{name: "cgroupfs not in kubepods", dir: "pod" + uid, parent: "/user.slice/user-1000.slice/user@1000.service"},
		{name: "cgroupfs qos not in kubepods", dir: "pod" + uid, parent: "/tenant/burstable"},
		{name: "cgroupfs at the top", dir: "pod" + uid, parent: "/"},
		{name: "cgroupfs in another pod", dir: "pod" + uid, parent: "/kubepods/pod" + static},
		{name: "systemd burstable", dir: "kubepods-burstable-pod" + uidU + ".slice", parent: "/kubepods.slice/kubepods-burstable.slice", wantUID: uid, wantQoS: QoSBurstable, wantOK: true},
		{name: "systemd besteffort", dir: "kubepods-besteffort-pod" + uidU + ".slice", parent: "/kubepods.slice/kubepods-besteffort.slice", wantUID: uid, wantQoS: QoSBestEffort, wantOK: true},
		{name: "systemd guaranteed", dir: "kubepods-pod" + uidU + ".slice", parent: "/kubepods.slice", wantUID: uid, wantQoS: QoSGuaranteed, wantOK: true},
		{name: "kind custom root", dir: "kubelet-kubepods-burstable-pod" + uidU + ".slice", parent: "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice", wantUID: uid, wantQoS: QoSBurstable, wantOK: true},
		{name: "systemd pod slice in the wrong slice", dir: "kubepods-burstable-pod" + uidU + ".slice", parent: "/kubepods.slice/kubepods-besteffort.slice"},
		{name: "systemd pod slice at the top", dir: "kubepods-pod" + uidU + ".slice", parent: "/"},
		{name: "systemd chain under a service", dir: "kubepods-pod" + uidU + ".slice", parent: "/user.slice/user-1000.slice/user@1000.service/kubepods.slice"},
		{name: "systemd chain not from the top", dir: "kubepods-pod" + uidU + ".slice", parent: "/tenant.slice/kubepods.slice"},
		{name: "qos slice is not a pod", dir: "kubepods-burstable.slice", parent: "/kubepods.slice"},
		{name: "not kubepods", dir: "system-pod" + uidU + ".slice", parent: "/system.slice"},
		{name: "bad uid", dir: "pod" + uid[:35], parent: "/kubepods"},
		{name: "pod word only", dir: "podman.slice", parent: "/"},
		{name: "uid with bad dashes", dir: "pod3f0a9d1e77c55-4b8e-9a31-2d4be2f1c0aa", parent: "/kubepods"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uid, qos, ok := parsePodDir(tt.dir, tt.parent)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.wantUID, uid)
			require.Equal(t, tt.wantQoS, qos)
		})
	}
}

// FuzzParseCgroupDirNames checks that a name recognised as a container or pod cgroup is
// exactly one of the forms that runtime or driver writes for the ID found, and that a name
// written in one of those forms from fuzzed hex reads back as that ID.
func FuzzParseCgroupDirNames(f *testing.F) {
	f.Add("cri-containerd-"+id64+".scope", "kubepods", []byte{0x01, 0x23})
	f.Add("kubepods-burstable-pod3f0a9d1e_7c55_4b8e_9a31_2d4be2f1c0aa.slice", "/kubepods.slice/kubepods-burstable.slice", []byte{0xff})
	f.Add("pod3f0a9d1e-7c55-4b8e-9a31-2d4be2f1c0aa", "/kubepods/burstable", []byte("0123456789abcdef"))
	f.Add("pod0123456789abcdef0123456789abcdef", "/kubepods/besteffort", []byte("x"))
	f.Fuzz(func(t *testing.T, name, parent string, raw []byte) {
		if id, rt, ok := parseContainerDir(name, parent); ok {
			if !isHex(id, 12) {
				t.Fatalf("id %q of %q is not lower-case hex", id, name)
			}
			if !containerForms(id, rt, parent)[name] {
				t.Fatalf("%q (parent %q) gave id %q, runtime %q: not a name written for them", name, parent, id, rt)
			}
		}
		if uid, qos, ok := parsePodDir(name, parent); ok {
			if !isPodUID(uid) {
				t.Fatalf("invalid uid %q from %q", uid, name)
			}
			if !strings.Contains(parent, "kubepods") {
				t.Fatalf("pod %q accepted in %q, outside any kubepods parent", name, parent)
			}
			if !podNameFits(name, parent, uid, qos) {
				t.Fatalf("%q (parent %q) gave uid %q, qos %q: not a name written for them", name, parent, uid, qos)
			}
		}

		// Round trip: an ID made of the fuzzed bytes, in every form.
		id := hex.EncodeToString(raw)
		if len(id) < 12 {
			return
		}
		for _, p := range []struct{ prefix, runtime string }{
			{"cri-containerd-", RuntimeContainerd}, {"crio-", RuntimeCRIO},
			{"docker-", RuntimeDocker}, {"libpod-", RuntimePodman},
		} {
			for _, n := range []string{p.prefix + id + ".scope", p.prefix + id} {
				gotID, gotRT, ok := parseContainerDir(n, parent)
				if !ok || gotID != id || gotRT != p.runtime {
					t.Fatalf("%q gave (%q, %q, %v), want (%q, %q, true)", n, gotID, gotRT, ok, id, p.runtime)
				}
			}
		}
		if len(id) >= 32 {
			uid := id[:32]
			if got, qos, ok := parsePodDir("pod"+uid, "/kubepods/besteffort"); !ok || got != uid || qos != QoSBestEffort {
				t.Fatalf("pod%s gave (%q, %q, %v)", uid, got, qos, ok)
			}
			uuid := uid[:8] + "-" + uid[8:12] + "-" + uid[12:16] + "-" + uid[16:20] + "-" + uid[20:]
			slice := "kubepods-besteffort-pod" + strings.ReplaceAll(uuid, "-", "_") + ".slice"
			if got, qos, ok := parsePodDir(slice, "/kubepods.slice/kubepods-besteffort.slice"); !ok || got != uuid || qos != QoSBestEffort {
				t.Fatalf("%s gave (%q, %q, %v)", slice, got, qos, ok)
			}
		}
	})
}

// containerForms are the names a container with this ID and runtime can have.
func containerForms(id, runtime, parent string) map[string]bool {
	forms := map[string]bool{}
	for _, p := range containerPrefixes {
		if p.runtime == runtime && runtime != "" {
			forms[p.prefix+id] = true
			forms[p.prefix+id+".scope"] = true
		}
	}
	if len(id) == 64 && (runtime == "" || (runtime == RuntimeDocker && parent == "docker")) {
		forms[id] = true
	}
	return forms
}

// podNameFits says whether name, in parent, is a pod cgroup name the kubelet writes for uid
// and qos.
func podNameFits(name, parent, uid, qos string) bool {
	if name == "pod"+uid {
		want := QoSGuaranteed
		if last := parent[strings.LastIndex(parent, "/")+1:]; last == QoSBurstable || last == QoSBestEffort {
			want = last
		}
		return qos == want
	}
	prefix, found := strings.CutSuffix(name, "-pod"+strings.ReplaceAll(uid, "-", "_")+".slice")
	if !found || !strings.Contains(prefix, "kubepods") {
		return false
	}
	switch qos {
	case QoSBurstable, QoSBestEffort:
		return strings.HasSuffix(prefix, "-"+qos)
	}
	return !strings.HasSuffix(prefix, "-"+QoSBurstable) && !strings.HasSuffix(prefix, "-"+QoSBestEffort)
}
