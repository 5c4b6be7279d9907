//go:build !linux

package cgroupmemreceiver

import "testing"

// benchBareLookups needs Linux's sock_diag.
func benchBareLookups(b *testing.B, _ benchTree) {
	b.Skip("sock_diag is Linux's")
}
