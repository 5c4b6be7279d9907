package sockets

import (
	"errors"
	"fmt"
	"os"
	"testing"
)

// Captured on this host (kernel 6.18) from /proc/self/net/sockstat and sockstat6.
const (
	sockstatText = "sockets: used 12\n" +
		"TCP: inuse 1 orphan 0 tw 14 alloc 1 mem 475\n" +
		"UDP: inuse 3 mem 265\n" +
		"UDPLITE: inuse 0\n" +
		"RAW: inuse 0\n" +
		"FRAG: inuse 0 memory 0\n"
	sockstat6Text = "TCP6: inuse 2\n" +
		"UDP6: inuse 4\n" +
		"UDPLITE6: inuse 0\n" +
		"RAW6: inuse 0\n" +
		"FRAG6: inuse 0 memory 0\n"
)

func TestParseSockstat(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		tcp, udp string
		want     sockCounts
		wantErr  bool
	}{
		{"sockstat", sockstatText, "TCP", "UDP", sockCounts{1, 3}, false},
		{"sockstat6", sockstat6Text, "TCP6", "UDP6", sockCounts{2, 4}, false},
		{"UDPLITE is not UDP", "TCP: inuse 1\nUDPLITE: inuse 9\nUDP: inuse 2\n", "TCP", "UDP", sockCounts{1, 2}, false},
		{"no trailing newline", "TCP: inuse 7 orphan 1\nUDP: inuse 8", "TCP", "UDP", sockCounts{7, 8}, false},
		{"no UDP line", "TCP: inuse 1 orphan 0\n", "TCP", "UDP", sockCounts{}, true},
		{"empty", "", "TCP6", "UDP6", sockCounts{}, true},
		{"TCP twice", "TCP: inuse 1\nTCP: inuse 2\nUDP: inuse 0\n", "TCP", "UDP", sockCounts{}, true},
		{"no inuse", "TCP: orphan 1\nUDP: inuse 0\n", "TCP", "UDP", sockCounts{}, true},
		{"negative", "TCP: inuse -1\nUDP: inuse 0\n", "TCP", "UDP", sockCounts{}, true},
		{"inuse without value", "TCP: inuse\nUDP: inuse 0\n", "TCP", "UDP", sockCounts{}, true},
		{"overflow", "TCP: inuse 99999999999999999999\nUDP: inuse 0\n", "TCP", "UDP", sockCounts{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSockstat([]byte(tt.in), tt.tcp, tt.udp)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

// TestParseSockstatOfThisHost parses this process's own files, whatever this kernel prints.
func TestParseSockstatOfThisHost(t *testing.T) {
	for _, f := range []struct{ path, tcp, udp string }{{"/proc/self/net/sockstat", "TCP", "UDP"}, {"/proc/self/net/sockstat6", "TCP6", "UDP6"}} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Skipf("%v", err)
		}
		if _, err := parseSockstat(b, f.tcp, f.udp); err != nil {
			t.Errorf("%s: %v\n%s", f.path, err, b)
		}
	}
}

// FuzzParseSockstat: any input parses or fails with ErrMalformed; a file printed as the
// kernel prints it, with any counts and other lines around, parses to those counts.
func FuzzParseSockstat(f *testing.F) {
	f.Add([]byte(sockstatText), uint32(1), uint32(3), "RAW: inuse 0")
	f.Add([]byte(sockstat6Text), uint32(0), uint32(0), "")
	f.Add([]byte("TCP: inuse 1\n"), uint32(4294967295), uint32(7), "TCPX: inuse 5")
	f.Fuzz(func(t *testing.T, raw []byte, tcp, udp uint32, other string) {
		if _, err := parseSockstat(raw, "TCP", "UDP"); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		for _, c := range other {
			if c == '\n' || c == '\r' {
				return // other must stay one line
			}
		}
		if len(other) >= 5 && (other[:5] == "TCP: " || other[:5] == "UDP: ") {
			return // a third TCP or UDP line is an error, rightly
		}
		text := fmt.Sprintf("sockets: used 9\n%s\nTCP: inuse %d orphan 0 tw 3 alloc 4 mem 1\nUDP: inuse %d mem 2\n%s\n", other, tcp, udp, other)
		got, err := parseSockstat([]byte(text), "TCP", "UDP")
		if err != nil || got != (sockCounts{uint64(tcp), uint64(udp)}) {
			t.Fatalf("%q: got %+v, %v; want {%d %d}", text, got, err, tcp, udp)
		}
	})
}
