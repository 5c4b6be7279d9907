package testruntime

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// busybox is Debian's busybox-static binary: a static binary runs in an image of its own.
const busybox = "/bin/busybox"

// applets are the busybox commands the image links in /bin.
var applets = []string{"sh", "sleep", "dd", "cat", "head", "tr", "rm", "touch", "test", "true", "mkdir", "seq"}

// Image is a local image: the same one-layer root filesystem as a tarball and as a
// docker-archive.
type Image struct {
	Rootfs        string // a tarball of the root filesystem, for docker import and podman import
	DockerArchive string // a docker-archive of it, for ctr images import and docker load
	Ref           string // the name DockerArchive tags it with
}

// NewImage writes the image into a temporary directory of tb. It skips the test when
// busybox-static is not installed.
func NewImage(tb testing.TB) *Image {
	tb.Helper()
	bin, err := os.ReadFile(busybox)
	if err != nil {
		tb.Skipf("testruntime: the image is built from busybox-static (apt-get install busybox-static): %v", err)
	}
	layer, err := rootfsTar(bin)
	if err != nil {
		tb.Fatalf("testruntime: building the root filesystem: %v", err)
	}
	dir := tb.TempDir()
	img := &Image{
		Rootfs:        filepath.Join(dir, "rootfs.tar"),
		DockerArchive: filepath.Join(dir, "image.tar"),
		Ref:           "cgroupmem.test/busybox:latest",
	}
	if err := os.WriteFile(img.Rootfs, layer, 0o644); err != nil {
		tb.Fatalf("testruntime: %v", err)
	}
	archive, err := dockerArchive(layer, img.Ref)
	if err != nil {
		tb.Fatalf("testruntime: building the docker-archive: %v", err)
	}
	if err := os.WriteFile(img.DockerArchive, archive, 0o644); err != nil {
		tb.Fatalf("testruntime: %v", err)
	}
	return img
}

// rootfsTar is a root filesystem holding busybox, its applets, and the mount points a
// runtime expects.
func rootfsTar(bin []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(0, 0)
	for _, d := range []string{"bin/", "dev/", "etc/", "proc/", "sys/", "tmp/", "run/"} {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode, ModTime: mtime}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin)), ModTime: mtime}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	for _, a := range applets {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, ModTime: mtime}); err != nil {
			return nil, err
		}
	}
	for name, content := range map[string]string{"etc/passwd": "root:x:0:0:root:/:/bin/sh\n", "etc/group": "root:x:0:\n"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(content)), ModTime: mtime}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// dockerArchive is the docker-archive (docker save's format) of a one-layer image: a
// manifest.json, the image config named by its sha256, and the layer.
func dockerArchive(layer []byte, ref string) ([]byte, error) {
	layerSum := sha256.Sum256(layer)
	layerHex := hex.EncodeToString(layerSum[:])
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      time.Unix(0, 0).UTC().Format(time.RFC3339),
		"config":       map[string]any{"Env": []string{"PATH=/bin"}, "Cmd": []string{"/bin/sh"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerHex}},
	})
	if err != nil {
		return nil, err
	}
	configSum := sha256.Sum256(config)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	layerName := layerHex + "/layer.tar"
	manifest, err := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": []string{ref}, "Layers": []string{layerName}}})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(0, 0)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: layerHex + "/", Mode: 0o755, ModTime: mtime}); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{layerName, layer}, {configName, config}, {"manifest.json", manifest}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: mtime}); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
