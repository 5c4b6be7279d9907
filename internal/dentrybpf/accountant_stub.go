//go:build !linux || noebpf

package dentrybpf

import (
	"fmt"

	"go.uber.org/zap"
)

// Accountant is the stub used off Linux and in builds tagged noebpf; Start
// always fails with ErrNotSupported.
type Accountant struct{}

// Start returns ErrNotSupported: this build has no eBPF accountant.
func Start(Config, *zap.Logger) (*Accountant, error) {
	return nil, fmt.Errorf("%w: built without eBPF (non-Linux or the noebpf tag)", ErrNotSupported)
}

// Snapshot returns ErrClosed.
func (*Accountant) Snapshot() (map[uint64]Counts, error) { return nil, ErrClosed }

// ObjectSize returns 0.
func (*Accountant) ObjectSize() uint64 { return 0 }

// Covers returns false.
func (*Accountant) Covers(uint64) bool { return false }

// Overflows returns 0.
func (*Accountant) Overflows() uint64 { return 0 }

// Stats returns zeros.
func (*Accountant) Stats() Stats { return Stats{} }

// NegativeCounted returns false.
func (*Accountant) NegativeCounted() bool { return false }

// Hooks returns "".
func (*Accountant) Hooks() string { return "" }

// Close does nothing.
func (*Accountant) Close() error { return nil }
