package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"
)

// verdictLog writes one info line when a resource becomes flagged, or a flagged resource's
// classification changes: at most perMinute lines a minute (a token bucket), each of
// bounded length; lines over the budget are counted and the count goes with the next line.
type verdictLog struct {
	logger     *zap.Logger
	enabled    bool
	perMinute  float64
	tokens     float64
	last       time.Time
	suppressed int
}

func newVerdictLog(cfg LogConfig, logger *zap.Logger) *verdictLog {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &verdictLog{logger: logger, enabled: cfg.Enabled, perMinute: float64(cfg.PerMinute), tokens: float64(cfg.PerMinute)}
}

// verdict logs the analysis when it says something new (see verdictLog) and remembers
// what it logged in vs.
func (l *verdictLog) verdict(kind levelKind, res pcommon.Resource, in *readings, a *analysis, vs *verdictState, now time.Time) {
	j := &a.judgement
	if !j.flagged {
		vs.logged = false
		return
	}
	if j.pending || (vs.logged && vs.loggedClass == j.class) {
		return
	}
	vs.logged, vs.loggedClass = true, j.class
	if !l.enabled || !l.take(now) {
		l.suppressed++
		return
	}
	fields := []zap.Field{zap.String("memdivergence.classification", j.class.String()), zap.String("memdivergence.cause", j.cause.String())}
	if l.suppressed > 0 {
		fields = append(fields, zap.Int("suppressed_verdicts", l.suppressed))
		l.suppressed = 0
	}
	l.logger.Info(verdictLine(kind, res, in, a), fields...)
}

// take spends a token, refilling perMinute tokens a minute up to perMinute.
func (l *verdictLog) take(now time.Time) bool {
	if !l.last.IsZero() {
		if dt := now.Sub(l.last); dt > 0 {
			l.tokens = min(l.perMinute, l.tokens+dt.Minutes()*l.perMinute)
		}
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}

// verdictLine is the sentence, e.g. "container checkout/php-fpm (pod checkout-7d9f): working
// set 1.4 GiB is 1.3 GiB above RSS; dentry_slab 1.2 GiB, growing 3 MiB/s; pressing (PSI some
// 4 %); reaches its 2 GiB limit in ~3 h".
func verdictLine(kind levelKind, res pcommon.Resource, in *readings, a *analysis) string {
	var b strings.Builder
	b.WriteString(subject(kind, res))
	ws, _ := in.get(inWorkingSet)
	rss, _ := in.get(inRSS)
	if d := a.parts.total(); d > 0 {
		fmt.Fprintf(&b, ": working set %s is %s above RSS", bytesText(ws), bytesText(d))
	} else {
		fmt.Fprintf(&b, ": working set %s, RSS %s", bytesText(ws), bytesText(rss))
	}
	j := &a.judgement
	if c := j.cause; c < numCauses {
		fmt.Fprintf(&b, "; %s %s", c, bytesText(a.parts[c]))
		if a.growthOK && math.Abs(a.growth.causeSigma[c]) >= a.minSigmas {
			verb := "growing"
			if a.growth.causes[c] < 0 {
				verb = "shrinking"
			}
			fmt.Fprintf(&b, ", %s %s/s", verb, bytesText(int64(math.Abs(a.growth.causes[c]))))
		}
	} else if c == causeRSS {
		fmt.Fprintf(&b, "; rss %s", bytesText(rss))
	}
	fmt.Fprintf(&b, "; %s (%s)", j.class, evidence(in, a))
	if a.emit.eta {
		limit, _ := in.limit()
		fmt.Fprintf(&b, "; reaches its %s limit in ~%s", bytesText(limit), durationText(a.growth.eta))
	}
	return b.String()
}

// evidence says what the classification rests on.
func evidence(in *readings, a *analysis) string {
	j, rt := &a.judgement, &a.rates
	var parts []string
	if j.holds(reasonStall) || (j.class != classPressing && rt.has(ctStall)) {
		parts = append(parts, fmt.Sprintf("PSI some %.1f %%", 100*rt.stallShare()))
	}
	if j.holds(reasonRefaults) || (j.class != classPressing && (rt.has(ctRefaultFile) || rt.has(ctRefaultAnon))) {
		parts = append(parts, fmt.Sprintf("refaults %.0f pages/s", rt.refaultRate()))
	}
	if j.holds(reasonLimitEvents) {
		parts = append(parts, fmt.Sprintf("memory.high/max hit %.0f times", rt.inc[ctLimitEvents]))
	}
	if j.holds(reasonSocket) {
		q, _ := in.get(inSockRcvq)
		payload, _ := in.get(inSockRcvqPayload)
		parts = append(parts, fmt.Sprintf("socket receive queues hold %s for %s of payload; on cgroup v1 that is node memory outside the working set",
			bytesText(q), bytesText(payload)))
	}
	if j.holds(reasonGrowth) {
		parts = append(parts, j.cause.String()+" grows and is not reclaimable")
	}
	if len(parts) == 0 {
		return "no PSI or refault signal"
	}
	return strings.Join(parts, ", ")
}

// subject names the resource from its attributes, else by its IDs.
func subject(kind levelKind, res pcommon.Resource) string {
	attr := func(k string) string {
		v, ok := res.Attributes().Get(k)
		if !ok {
			return ""
		}
		return clean(v.AsString())
	}
	ns, pod, uid := attr("k8s.namespace.name"), attr("k8s.pod.name"), attr("k8s.pod.uid")
	podName := pod
	if podName == "" && uid != "" {
		podName = uid
	}
	if kind == levelPod {
		if ns != "" && pod != "" {
			return "pod " + ns + "/" + pod
		}
		return "pod " + podName
	}
	name := attr("k8s.container.name")
	if name == "" {
		name = shortID(attr("container.id"))
	} else if ns != "" {
		name = ns + "/" + name
	}
	if podName != "" {
		return "container " + name + " (pod " + podName + ")"
	}
	return "container " + name
}

// maxNameRunes bounds each name in a line: names come from the workload (pod and container
// names, cgroup-derived IDs) and are hostile input.
const maxNameRunes = 64

// clean drops control and non-printing characters and bounds the length.
func clean(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			continue
		}
		if n == maxNameRunes {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	if id == "" {
		return "(no id)"
	}
	return id
}

// bytesText writes a byte count with a binary unit and two significant digits.
func bytesText(v int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	f := float64(v)
	i := 0
	for math.Abs(f) >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	switch {
	case i == 0:
		return fmt.Sprintf("%d B", v)
	case math.Abs(f) < 10:
		return fmt.Sprintf("%.1f %s", f, units[i])
	default:
		return fmt.Sprintf("%.0f %s", f, units[i])
	}
}

// durationText rounds seconds to the largest unit that fits.
func durationText(s float64) string {
	switch {
	case s < 90:
		return fmt.Sprintf("%.0f s", s)
	case s < 90*60:
		return fmt.Sprintf("%.0f min", s/60)
	case s < 36*3600:
		return fmt.Sprintf("%.0f h", s/3600)
	default:
		return fmt.Sprintf("%.0f d", s/86400)
	}
}
