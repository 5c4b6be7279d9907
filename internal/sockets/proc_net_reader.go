package sockets

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// procNetFiles are the tables read from /proc/<pid>/net, with their parser and conversion.
var procNetFiles = []struct {
	name    string
	parse   func(io.Reader) ([]procNetEntry, error)
	convert func(procNetEntry, string) sockQueue
}{
	{"tcp", parseProcNetTCP, tcpQueue},
	{"tcp6", parseProcNetTCP, tcpQueue},
	{"udp", parseProcNetUDP, udpQueue},
	{"udp6", parseProcNetUDP, udpQueue},
}

// readProcNet reads the TCP and UDP tables of pid's network namespace and returns the
// sockets keep wants, TCP listeners left out as sock_diag leaves them (dumpStates). A
// missing tcp file means the pid is gone (the error wraps fs.ErrNotExist); a missing
// tcp6/udp6 file means IPv6 is disabled.
func readProcNet(procRoot string, pid int, keep func(inode uint64) bool) (map[uint64]sockQueue, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid), "net")
	out := make(map[uint64]sockQueue)
	for i, f := range procNetFiles {
		entries, err := readProcNetFile(filepath.Join(dir, f.name), f.parse)
		if errors.Is(err, fs.ErrNotExist) && i > 0 {
			continue
		}
		if err != nil {
			return nil, vanished(err)
		}
		for _, e := range entries {
			if e.Inode != 0 && e.State != tcpListen && keep(e.Inode) {
				out[e.Inode] = f.convert(e, f.name)
			}
		}
	}
	return out, nil
}

// readProcNetFile opens one table and hands it to its parser.
func readProcNetFile(path string, parse func(io.Reader) ([]procNetEntry, error)) ([]procNetEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return entries, nil
}
