package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

import (
	"hash/maphash"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// keySeed seeds resource hashes; they only need to agree within one process.
var keySeed = maphash.MakeSeed()

// resourceHash identifies a resource by all of its attributes, in any order: the sum of
// one hash per key/value pair. A resource whose attributes change (say, enrichment added a
// name) starts a new series; the old one ages out.
func resourceHash(res pcommon.Resource) uint64 {
	var h maphash.Hash
	h.SetSeed(keySeed)
	var sum uint64
	res.Attributes().Range(func(k string, v pcommon.Value) bool {
		h.Reset()
		_, _ = h.WriteString(k)
		_ = h.WriteByte(0)
		_ = h.WriteByte(byte(v.Type()))
		_, _ = h.WriteString(v.AsString())
		sum += h.Sum64()
		return true
	})
	return sum
}
