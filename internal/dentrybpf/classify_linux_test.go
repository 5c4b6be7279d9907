//go:build linux && !noebpf

package dentrybpf

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want error
	}{
		{name: "EPERM", err: fmt.Errorf("load program: %w", syscall.EPERM), want: ErrNotPermitted},
		{name: "EACCES", err: syscall.EACCES, want: ErrNotPermitted},
		{name: "verifier rejection is not a permission problem",
			err: &ebpf.VerifierError{Cause: syscall.EACCES}, want: ErrNotSupported},
		{name: "feature missing", err: ebpf.ErrNotSupported, want: ErrNotSupported},
		{name: "anything else", err: errors.New("boom"), want: ErrNotSupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify("step", tt.err)
			if !errors.Is(got, tt.want) {
				t.Errorf("classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("classify(%v) = %v lost the cause", tt.err, got)
			}
		})
	}
}
