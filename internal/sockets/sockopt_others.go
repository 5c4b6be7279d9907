//go:build !linux

package sockets

type sockoptReader struct{}

func newSockoptReader() *sockoptReader { return &sockoptReader{} }

func (r *sockoptReader) read(int, int, uint64) (sockQueue, bool, error) {
	return sockQueue{}, false, ErrUnsupported
}

func (r *sockoptReader) end() {}
