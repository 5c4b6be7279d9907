//go:build !linux

package sockets

import "context"

// diagDumper is a stub: sock_diag exists only on Linux.
type diagDumper struct{}

func newDiagDumper() *diagDumper { return &diagDumper{} }

func (d *diagDumper) dump(context.Context, string, uint64, bool, func(inode, cgroupID uint64) bool) (map[uint64]sockQueue, error) {
	return nil, ErrUnsupported
}

func (d *diagDumper) close() error { return nil }

func (d *diagDumper) endScrape(func(uint64) bool) {}

func (d *diagDumper) lookup(context.Context, uint64, []trackedSock) ([]sockQueue, []lookupResult, error) {
	return nil, nil, ErrUnsupported
}

func (d *diagDumper) dumpedCounts(uint64) (sockCounts, bool) { return sockCounts{}, false }

func (d *diagDumper) countsNow(uint64) (sockCounts, error) { return sockCounts{}, errNoCounts }
