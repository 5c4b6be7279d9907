package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metadata"

// cause is one part of the divergence. The order is the order in which causes take their
// share of the divergence (see decompose) and breaks ties for the dominant cause.
type cause int

const (
	causePageCache cause = iota
	causeDentrySlab
	causeOtherSlab
	causeOtherKernel
	causeSocket
	causeUnexplained
	numCauses
)

// breakdown is the divergence split by cause; its parts add up to the divergence.
type breakdown [numCauses]int64

var causeAttributes = [numCauses]metadata.AttributeCause{
	causePageCache:   metadata.AttributeCausePageCache,
	causeDentrySlab:  metadata.AttributeCauseDentrySlab,
	causeOtherSlab:   metadata.AttributeCauseOtherSlab,
	causeOtherKernel: metadata.AttributeCauseOtherKernel,
	causeSocket:      metadata.AttributeCauseSocket,
	causeUnexplained: metadata.AttributeCauseUnexplained,
}

var dominantAttributes = [numCauses]metadata.AttributeDominantCause{
	causePageCache:   metadata.AttributeDominantCausePageCache,
	causeDentrySlab:  metadata.AttributeDominantCauseDentrySlab,
	causeOtherSlab:   metadata.AttributeDominantCauseOtherSlab,
	causeOtherKernel: metadata.AttributeDominantCauseOtherKernel,
	causeSocket:      metadata.AttributeDominantCauseSocket,
	causeUnexplained: metadata.AttributeDominantCauseUnexplained,
}

func (c cause) String() string { return causeAttributes[c].String() }

// total is the sum of the parts.
func (b *breakdown) total() int64 {
	var t int64
	for _, v := range b {
		t += v
	}
	return t
}

// dominant returns the largest cause, and false when every cause is zero.
func (b *breakdown) dominant() (cause, bool) {
	best, found := causePageCache, false
	for c := range numCauses {
		if b[c] > 0 && (!found || b[c] > b[best]) {
			best, found = c, true
		}
	}
	return best, found
}
