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

// Causes beyond the six parts of the divergence, used by the flag and the OOM kills: rss
// (anonymous memory, when it is what the working set mostly holds), none (nothing above the
// RSS) and unknown (a kill before any breakdown was seen).
const (
	causeRSS cause = numCauses + iota
	causeNone
	causeUnknown
	numAllCauses
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

var dominantAttributes = [numAllCauses]metadata.AttributeDominantCause{
	causePageCache:   metadata.AttributeDominantCausePageCache,
	causeDentrySlab:  metadata.AttributeDominantCauseDentrySlab,
	causeOtherSlab:   metadata.AttributeDominantCauseOtherSlab,
	causeOtherKernel: metadata.AttributeDominantCauseOtherKernel,
	causeSocket:      metadata.AttributeDominantCauseSocket,
	causeUnexplained: metadata.AttributeDominantCauseUnexplained,
	causeRSS:         metadata.AttributeDominantCauseRss,
	causeNone:        metadata.AttributeDominantCauseNone,
	causeUnknown:     metadata.AttributeDominantCauseNone, // never a flag's cause
}

var killAttributes = [numAllCauses]metadata.AttributeKillCause{
	causePageCache:   metadata.AttributeKillCausePageCache,
	causeDentrySlab:  metadata.AttributeKillCauseDentrySlab,
	causeOtherSlab:   metadata.AttributeKillCauseOtherSlab,
	causeOtherKernel: metadata.AttributeKillCauseOtherKernel,
	causeSocket:      metadata.AttributeKillCauseSocket,
	causeUnexplained: metadata.AttributeKillCauseUnexplained,
	causeRSS:         metadata.AttributeKillCauseRss,
	causeNone:        metadata.AttributeKillCauseUnknown, // never a kill's cause
	causeUnknown:     metadata.AttributeKillCauseUnknown,
}

var causeNames = [numAllCauses]string{
	causePageCache: "page_cache", causeDentrySlab: "dentry_slab", causeOtherSlab: "other_slab",
	causeOtherKernel: "other_kernel", causeSocket: "socket", causeUnexplained: "unexplained",
	causeRSS: "rss", causeNone: "none", causeUnknown: "unknown",
}

func (c cause) String() string { return causeNames[c] }

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
