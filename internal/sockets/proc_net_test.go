package sockets

import (
	"bufio"
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const tcpHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

func TestParseProcNetTCP(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    []procNetEntry
		wantErr error
	}{
		{name: "empty file", input: "", want: nil},
		{name: "header only", input: tcpHeader, want: nil},
		{
			name: "listen and established",
			input: tcpHeader +
				"   1: 0100007F:82BB 00000000:0000 0A 00000000:00000004 00:00000000 00000000     0        0 62956 1 00000000282b2c13 100 0 0 10 0\n" +
				"   3: 0100007F:82BB 0100007F:DC36 01 00000000:00007530 00:00000000 00000000     0        0 62958 1 00000000257671f3 20 8 0 10 -1\n",
			want: []procNetEntry{
				{Local: netip.MustParseAddrPort("127.0.0.1:33467"), State: 0x0A, RxQueue: 4, Inode: 62956},
				{Local: netip.MustParseAddrPort("127.0.0.1:33467"), State: 0x01, RxQueue: 30000, Inode: 62958},
			},
		},
		{
			name: "time_wait has inode 0",
			input: tcpHeader +
				"   2: 0100007F:1FA3 0100007F:B482 06 00000000:00000000 03:00000D60 00000000     0        0 0 3 00000000c8bedae4\n",
			want: []procNetEntry{{Local: netip.MustParseAddrPort("127.0.0.1:8099"), State: 6, Inode: 0}},
		},
		{
			name: "tcp6 loopback",
			input: tcpHeader +
				"   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0 100 0 0 10 0\n",
			want: []procNetEntry{{Local: netip.MustParseAddrPort("[::1]:8080"), State: 0x0A, Inode: 777}},
		},
		{name: "too few fields", input: tcpHeader + "   0: 0100007F:82BB 00000000:0000 0A 00000000:00000000\n", wantErr: ErrMalformed},
		{name: "bad address length", input: tcpHeader + "   0: 0100007:82BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", wantErr: ErrMalformed},
		{name: "bad address hex", input: tcpHeader + "   0: 0100007G:82BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", wantErr: ErrMalformed},
		{name: "bad port", input: tcpHeader + "   0: 0100007F:FFFFF 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n", wantErr: ErrMalformed},
		{name: "bad state", input: tcpHeader + "   0: 0100007F:82BB 00000000:0000 XY 00000000:00000000 00:00000000 00000000 0 0 1\n", wantErr: ErrMalformed},
		{name: "queues without colon", input: tcpHeader + "   0: 0100007F:82BB 00000000:0000 0A 0000000000000000 00:00000000 00000000 0 0 1\n", wantErr: ErrMalformed},
		{name: "bad rx_queue", input: tcpHeader + "   0: 0100007F:82BB 00000000:0000 0A 00000000:zz 00:00000000 00000000 0 0 1\n", wantErr: ErrMalformed},
		{name: "bad inode", input: tcpHeader + "   0: 0100007F:82BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 -1\n", wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcNetTCP(strings.NewReader(tt.input))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestParseProcNetUDPDrops(t *testing.T) {
	in := "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n" +
		"  703: 0100007F:D4E6 00000000:0000 07 00000000:00196400 00:00000000 00000000     0        0 62959 2 000000000e8dbb60 0\n"
	got, err := parseProcNetUDP(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []procNetEntry{{Local: netip.MustParseAddrPort("127.0.0.1:54502"), State: 7, RxQueue: 1664000, Inode: 62959}}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

// TestProcNetQueues checks the conversion to Usage meanings: LISTEN backlogs are not bytes,
// TCP payload is a lower bound of truesize, UDP rx_queue is truesize with unknown payload.
func TestProcNetQueues(t *testing.T) {
	tests := []struct {
		name    string
		conv    func(procNetEntry, string) sockQueue
		entry   procNetEntry
		rcvq    uint64
		payload uint64
	}{
		{"tcp established", tcpQueue, procNetEntry{State: 1, RxQueue: 30000, Inode: 1}, 30000, 30000},
		{"tcp listen backlog", tcpQueue, procNetEntry{State: tcpListen, RxQueue: 4, Inode: 1}, 0, 0},
		{"udp", udpQueue, procNetEntry{State: 7, RxQueue: 1664000, Inode: 1}, 1664000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.conv(tt.entry, "x")
			if q.rcvq != tt.rcvq || q.payload != tt.payload || q.source != SourceProcNet {
				t.Errorf("got rcvq %d payload %d source %q, want %d %d proc_net", q.rcvq, q.payload, q.source, tt.rcvq, tt.payload)
			}
		})
	}
}

// TestParseProcNetFixtures parses what real 6.18 kernels printed.
func TestParseProcNetFixtures(t *testing.T) {
	for _, dir := range []string{fixtureV1 + "/proc/359/net", fixtureV2 + "/proc/430/net"} {
		for _, name := range []string{"tcp", "tcp6", "udp", "udp6"} {
			t.Run(strings.TrimPrefix(dir, "../../testdata/")+"/"+name, func(t *testing.T) {
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				parse := parseProcNetTCP
				if strings.HasPrefix(name, "udp") {
					parse = parseProcNetUDP
				}
				got, err := parse(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				if want := bytes.Count(b, []byte("\n")) - 1; len(got) != want {
					t.Errorf("%d entries, want %d", len(got), want)
				}
			})
		}
	}
}

func fuzzProcNet(f *testing.F, parse func(r *bytes.Reader) ([]procNetEntry, error), seeds ...string) {
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(tcpHeader + "0: 0:0 0:0 0 0:0 0 0 0 0 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parse(bytes.NewReader(b))
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, bufio.ErrTooLong) {
			t.Fatalf("error does not wrap ErrMalformed: %v", err)
		}
		for _, e := range got {
			if !e.Local.IsValid() {
				t.Fatalf("invalid address parsed without error: %+v", e)
			}
		}
	})
}

func FuzzParseProcNetTCP(f *testing.F) {
	fuzzProcNet(f, func(r *bytes.Reader) ([]procNetEntry, error) { return parseProcNetTCP(r) },
		fixtureV1+"/proc/359/net/tcp", fixtureV2+"/proc/430/net/tcp", fixtureV1+"/proc/359/net/tcp6")
}

func FuzzParseProcNetUDP(f *testing.F) {
	fuzzProcNet(f, func(r *bytes.Reader) ([]procNetEntry, error) { return parseProcNetUDP(r) },
		fixtureV1+"/proc/359/net/udp", fixtureV2+"/proc/430/net/udp", fixtureV1+"/proc/359/net/udp6")
}
