//go:generate go tool -modfile=../../tools/go.mod mdatagen metadata.yaml

// Package memdivergenceprocessor explains why a container's working set is above its RSS.
// For every container and pod resource that carries a working set and an RSS it splits
// working_set − rss into causes (page cache, dentry slab, other slab, other kernel memory,
// socket buffers, unexplained), raises a flag when the divergence is large, and projects
// when a growing working set will reach the memory limit.
package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"
