package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metadata"

// class says whether a resource's memory state matters.
type class uint8

const (
	classUnknown class = iota
	classReclaimable
	classPressing
)

var classAttributes = [...]metadata.AttributeClassification{
	classUnknown:     metadata.AttributeClassificationUnknown,
	classReclaimable: metadata.AttributeClassificationReclaimable,
	classPressing:    metadata.AttributeClassificationPressing,
}

func (c class) String() string { return classAttributes[c].String() }

// reason is a rule that makes a resource's memory pressing, in the order they are tried.
type reason uint8

const (
	reasonRefaults    reason = iota // the kernel refaults pages it evicted: they do not fit
	reasonStall                     // tasks stall on memory (PSI some)
	reasonLimitEvents               // memory.high throttling or memory.max reclaim
	reasonSocket                    // socket receive queues far above their payload (incident 5)
	reasonGrowth                    // a non-reclaimable cause of a flagged divergence grows
	numReasons
)

// hysteresis is the factor by which a threshold is lowered to keep a state once entered:
// a flag, a pressing rule, a cause's series, or the ETA stays until its value falls below
// 0.8 × the threshold that raised it. The README gives the rules.
const hysteresis = 0.8

// judgement is the processor's verdict on one resource at one sample.
type judgement struct {
	flagged  bool
	sizeFlag bool  // the divergence passes the size thresholds
	reasons  uint8 // bit r: reason r holds
	class    class
	cause    cause // reported on the flag
	// pending: pressure counters are reported but no rate is known yet (first sample).
	pending bool
}

func (j *judgement) holds(r reason) bool { return j.reasons&(1<<r) != 0 }

// largestHeld is what the working set mostly holds: the largest of the six causes and rss
// (ties go to rss, then to the earlier cause). It names the pressing cause when the
// resource stalls, and the cause an OOM kill is counted under.
func largestHeld(b *breakdown, r *readings) cause {
	rss, _ := r.get(inRSS)
	best, bestV := causeRSS, rss
	for c := range numCauses {
		if b[c] > bestV {
			best, bestV = c, b[c]
		}
	}
	if bestV <= 0 {
		return causeNone
	}
	return best
}

// heldBytes is how many bytes the working set holds for a cause.
func heldBytes(c cause, b *breakdown, r *readings) int64 {
	switch {
	case c < numCauses:
		return b[c]
	case c == causeRSS:
		v, _ := r.get(inRSS)
		return v
	default:
		return 0
	}
}

// reclaimable reports whether the kernel takes a cause back under pressure without the
// workload's help: page cache and reclaimable slab. Dentries are reclaimable slab; the rest
// of the slab counts when at most half of it is unreclaimable (v2's slab_unreclaimable).
func reclaimable(c cause, r *readings) bool {
	switch c {
	case causePageCache, causeDentrySlab:
		return true
	case causeOtherSlab:
		slab, ok1 := r.get(inSlab)
		unrecl, ok2 := r.get(inSlabUnreclaimable)
		dentry, _ := r.get(inDentrySlab)
		return ok1 && ok2 && 2*unrecl <= slab-dentry
	}
	return false
}

// growable reports whether a cause counts for the growth rule: memory the kernel cannot
// take back (kernel memory, socket buffers, unreclaimable slab). unexplained is left out:
// producers without a breakdown put everything there.
func growable(c cause, r *readings) bool {
	switch c {
	case causeOtherKernel, causeSocket:
		return true
	case causeOtherSlab:
		return !reclaimable(c, r)
	}
	return false
}

// socketFlag is incident 5's rule: the receive queues hold at least SockRcvqBytes, at least
// SockRcvqPayloadRatio times their unread payload. Without a payload reading it cannot say.
func (t Thresholds) socketFlag(r *readings, factor float64) bool {
	if t.SockRcvqBytes <= 0 || t.SockRcvqPayloadRatio <= 0 {
		return false
	}
	q, ok1 := r.get(inSockRcvq)
	payload, ok2 := r.get(inSockRcvqPayload)
	return ok1 && ok2 && q > 0 && float64(q) >= factor*float64(t.SockRcvqBytes) &&
		float64(q) >= factor*t.SockRcvqPayloadRatio*float64(payload)
}

// judgeInput is what judge reads.
type judgeInput struct {
	parts    *breakdown
	in       *readings
	rates    *pressureRates
	counters *counters
	growth   *growth
	growthOK bool
	prev     *verdictState // the resource's previous verdict, for hysteresis
	// causeMargin is how many bytes a cause must lead the cause shown before by to take
	// its place on the flag (series.min_cause_bytes): small divergences do not flip.
	causeMargin int64
}

// judge classifies one resource and decides its flag:
//
//   - pressing when a rule holds: refaults ≥ refault_rate, PSI some ≥ stall_share, limit
//     events ≥ limit_events (all over the trend window), socket queues (socketFlag), or
//     the dominant cause of a size-flagged divergence is not reclaimable and its slope is
//     min_slope_sigmas standard errors above 0;
//   - else reclaimable when the stall or refault rate is known and the reported cause is
//     page cache or reclaimable slab;
//   - else unknown.
//
// The flag is raised by the size thresholds or by pressing. Rules that held at the
// previous sample stay with thresholds × hysteresis.
func (t Thresholds) classify(x judgeInput, trend TrendConfig) judgement {
	prev := x.prev
	j := judgement{pending: x.rates.pending(x.counters)}
	f := func(was bool) float64 {
		if was {
			return hysteresis
		}
		return 1
	}
	var pressCause [numReasons]cause
	was := func(r reason) bool { return prev.valid && prev.reasons&(1<<r) != 0 }
	hold := func(r reason, c cause) {
		j.reasons |= 1 << r
		pressCause[r] = c
	}
	// held is what the working set mostly holds, keeping the cause shown before while it
	// holds at least hysteresis × the largest.
	held := func() cause {
		c := largestHeld(x.parts, x.in)
		if prev.valid && prev.cause != c && (prev.cause < numCauses || prev.cause == causeRSS) &&
			float64(heldBytes(prev.cause, x.parts, x.in)) >= hysteresis*float64(heldBytes(c, x.parts, x.in)) {
			return prev.cause
		}
		return c
	}
	rt := x.rates
	if t.RefaultRate > 0 && (rt.has(ctRefaultFile) || rt.has(ctRefaultAnon)) &&
		rt.refaultRate() >= f(was(reasonRefaults))*t.RefaultRate {
		c := causePageCache
		if rt.rate(ctRefaultAnon) > rt.rate(ctRefaultFile) {
			c = causeRSS
		}
		hold(reasonRefaults, c)
	}
	if t.StallShare > 0 && rt.has(ctStall) && rt.stallShare() >= f(was(reasonStall))*t.StallShare {
		hold(reasonStall, held())
	}
	if t.LimitEvents > 0 && rt.has(ctLimitEvents) && rt.inc[ctLimitEvents] > 0 &&
		rt.inc[ctLimitEvents] >= f(was(reasonLimitEvents))*float64(t.LimitEvents) {
		hold(reasonLimitEvents, held())
	}
	if t.socketFlag(x.in, f(was(reasonSocket))) {
		hold(reasonSocket, causeSocket)
	}
	if j.pending && prev.valid {
		// The counters just appeared or changed: no rate for one scrape. Keep the rate
		// rules' previous verdict rather than flipping to unknown and back.
		const rateRules = 1<<reasonRefaults | 1<<reasonStall | 1<<reasonLimitEvents
		for r := range numReasons {
			if prev.reasons&rateRules&(1<<r) != 0 && !j.holds(r) {
				hold(r, prev.cause)
			}
		}
	}
	j.sizeFlag = t.sizeFlag(x.parts.total(), x.in, f(prev.valid && prev.sizeFlag))
	if c, ok := x.parts.dominant(); ok && j.sizeFlag && x.growthOK && growable(c, x.in) &&
		x.growth.causes[c] > 0 && x.growth.causeSigma[c] >= f(was(reasonGrowth))*trend.MinSlopeSigmas {
		hold(reasonGrowth, c)
	}

	j.flagged = j.sizeFlag || j.reasons != 0
	dominant, ok := x.parts.dominant()
	if !ok {
		dominant = causeNone
	}
	switch {
	case j.reasons != 0:
		j.class = classPressing
		j.cause = causeNone
		for r := range numReasons {
			if j.holds(r) {
				if j.cause == causeNone {
					j.cause = pressCause[r]
				}
				// Keep the cause shown before while a rule still names it.
				if prev.valid && prev.class == classPressing && pressCause[r] == prev.cause {
					j.cause = prev.cause
					break
				}
			}
		}
	default:
		j.cause = dominant
		// Keep the dominant cause shown before while it holds hysteresis × the largest, or
		// the largest leads it by less than causeMargin.
		if prev.valid && prev.cause < numCauses && prev.cause != dominant && dominant < numCauses && x.parts[prev.cause] > 0 {
			lead := x.parts[dominant] - x.parts[prev.cause]
			if float64(x.parts[prev.cause]) >= hysteresis*float64(x.parts[dominant]) || lead < x.causeMargin {
				j.cause = prev.cause
			}
		}
		if (rt.anyKnown() || (j.pending && prev.valid && prev.class == classReclaimable)) &&
			j.cause < numCauses && reclaimable(j.cause, x.in) {
			j.class = classReclaimable
		}
	}
	return j
}
