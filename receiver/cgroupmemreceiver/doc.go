//go:generate go tool -modfile=../../tools/go.mod mdatagen metadata.yaml

// Package cgroupmemreceiver reads container memory cgroups and emits the breakdown that
// explains a container's working set.
package cgroupmemreceiver // import "github.com/cgroupmem/cgroupmem/receiver/cgroupmemreceiver"
