package testcgroup

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Workload is what a child started by Start does in its cgroup before it reports ready; it
// then holds its memory until stopped. The zero Workload does nothing: an idle container.
type Workload struct {
	// AnonMiB is anonymous memory to allocate and touch page by page.
	AnonMiB int
	// FileMiB is file data to write to a file in Dir and read back twice, so that it sits in
	// the page cache on the active list.
	FileMiB int
	// TempFiles is how many uniquely named files to create and delete in Dir, leaving
	// negative dentries charged as kernel memory.
	TempFiles int
	// Dir is the scratch directory for FileMiB and TempFiles; Command fills it with
	// tb.TempDir() when empty.
	Dir string
	// UnreadUDPDatagrams is how many 10-byte datagrams to send over loopback to a UDP socket
	// the child holds and never reads: its receive queue pins their truesize.
	UnreadUDPDatagrams int
}

const mib = 1 << 20

// pageSize is the stride at which anonymous memory is touched; smaller than any real page.
const pageSize = 4096

// Command returns a command for Start that re-executes the test binary to run w.
func Command(tb testing.TB, w Workload) *exec.Cmd {
	tb.Helper()
	if w.Dir == "" && (w.FileMiB > 0 || w.TempFiles > 0) {
		w.Dir = tb.TempDir()
	}
	self, err := os.Executable()
	if err != nil {
		tb.Fatalf("testcgroup: %v", err)
	}
	b, err := json.Marshal(w)
	if err != nil {
		tb.Fatalf("testcgroup: %v", err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), envWorkload+"="+string(b))
	return cmd
}

// run does the work and returns what the caller must keep alive: the anonymous memory and
// the sockets.
func (w Workload) run() ([]any, error) {
	anon := make([]byte, w.AnonMiB*mib)
	for i := 0; i < len(anon); i += pageSize {
		anon[i] = 1
	}
	if w.FileMiB > 0 {
		if err := writeAndReadTwice(filepath.Join(w.Dir, "cached"), w.FileMiB); err != nil {
			return nil, err
		}
	}
	if w.TempFiles > 0 {
		if err := churn(w.Dir, w.TempFiles); err != nil {
			return nil, err
		}
	}
	held := []any{anon}
	if w.UnreadUDPDatagrams > 0 {
		conns, err := unreadUDP(w.UnreadUDPDatagrams)
		if err != nil {
			return nil, err
		}
		held = append(held, conns)
	}
	return held, nil
}

// unreadUDP sends n datagrams to a loopback UDP socket that nobody reads and returns both
// sockets, which must stay open.
func unreadUDP(n int) ([]*net.UDPConn, error) {
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("udp workload: %w", err)
	}
	tx, err := net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
	if err != nil {
		rx.Close()
		return nil, fmt.Errorf("udp workload: %w", err)
	}
	payload := []byte("0123456789")
	for i := 0; i < n; i++ {
		if _, err := tx.Write(payload); err != nil {
			rx.Close()
			tx.Close()
			return nil, fmt.Errorf("udp workload: datagram %d: %w", i, err)
		}
	}
	return []*net.UDPConn{rx, tx}, nil
}

// writeAndReadTwice writes n MiB to path and reads it back twice: the second access moves
// the pages to the active list.
func writeAndReadTwice(path string, n int) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("file workload: %w", err)
	}
	defer f.Close()
	chunk := make([]byte, mib)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	for range n {
		if _, err := f.Write(chunk); err != nil {
			return fmt.Errorf("file workload: %w", err)
		}
	}
	for range 2 {
		for off := int64(0); off < int64(n)*mib; off += mib {
			if _, err := f.ReadAt(chunk, off); err != nil && err != io.EOF {
				return fmt.Errorf("file workload: reading back: %w", err)
			}
		}
	}
	return nil
}

// churn creates and deletes n uniquely named files in a fresh subdirectory of dir.
func churn(dir string, n int) error {
	sub, err := os.MkdirTemp(dir, "churn-")
	if err != nil {
		return fmt.Errorf("temp file workload: %w", err)
	}
	for i := range n {
		p := filepath.Join(sub, fmt.Sprintf("tmp-%d", i))
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("temp file workload: %w", err)
		}
		f.Close()
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("temp file workload: %w", err)
		}
	}
	return nil
}
