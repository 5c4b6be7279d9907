//go:build !linux || noebpf

package dentrybpf

import (
	"errors"
	"testing"

	"go.uber.org/zap"
)

func TestStubNotSupported(t *testing.T) {
	a, err := Start(Config{}, zap.NewNop())
	if !errors.Is(err, ErrNotSupported) || a != nil {
		t.Fatalf("Start = %v, %v; want nil, ErrNotSupported", a, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Snapshot(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Snapshot: %v, want ErrClosed", err)
	}
	if a.NegativeCounted() || a.Covers(1) || a.ObjectSize() != 0 {
		t.Fatal("stub reports data")
	}
}
