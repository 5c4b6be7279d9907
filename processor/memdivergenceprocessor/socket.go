package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

// socketCharged reports whether the resource's socket buffers are charged to its usage, and
// so can explain part of its working set. cgroup v2 charges them (memory.stat sock, inside
// memory.current); cgroup v1 does not (memory.kmem.tcp.usage_in_bytes is a separate counter
// outside memory.usage_in_bytes, and skb pages are never charged to it). With auto, a
// resource that reports the slab metric, which only cgroup v2 has, is taken for v2.
func socketCharged(cgroupVersion string, r *readings) bool {
	switch cgroupVersion {
	case cgroupVersionV1:
		return false
	case cgroupVersionV2:
		return true
	default:
		return r.has(inSlab)
	}
}
