package memdivergenceprocessor // import "github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor"

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"

	"github.com/cgroupmem/cgroupmem/processor/memdivergenceprocessor/internal/metadata"
)

// level is one kind of resource the processor analyses.
type level struct {
	kind  levelKind
	index inputIndex
}

type divergenceProcessor struct {
	cfg    *Config
	levels []level
	mu     sync.Mutex // guards mb and store: batches may arrive concurrently
	mb     *metadata.MetricsBuilder
	store  *store
	log    *verdictLog
	// now is the wall clock that ages resource state out; tests replace it.
	now func() time.Time
}

func newDivergenceProcessor(cfg *Config, set processor.Settings) *divergenceProcessor {
	p := &divergenceProcessor{
		cfg:   cfg,
		mb:    metadata.NewMetricsBuilder(cfg.MetricsBuilderConfig, set),
		store: newStore(cfg.State, cfg.Trend),
		log:   newVerdictLog(cfg.VerdictLog, set.Logger),
		now:   time.Now,
	}
	for kind, names := range [...]InputNames{levelContainer: cfg.Container, levelPod: cfg.Pod} {
		if names.WorkingSet != "" {
			p.levels = append(p.levels, level{kind: levelKind(kind), index: newInputIndex(names)})
		}
	}
	return p
}

// processMetrics adds the analysis of every container and pod resource to that resource,
// as a scope of its own, and passes everything else through untouched.
func (p *divergenceProcessor) processMetrics(_ context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		p.processResource(rms.At(i), now)
	}
	p.store.evict(now)
	return md, nil
}

// processResource reads every level first, then appends what it recorded.
func (p *divergenceProcessor) processResource(rm pmetric.ResourceMetrics, now time.Time) {
	recorded := false
	for i := range p.levels {
		lv := &p.levels[i]
		s, ok := lv.index.read(rm)
		if s.ts == 0 {
			s.ts = pcommon.NewTimestampFromTime(now)
		}
		if !ok {
			// A cgroup that is gone reports its OOM kills and nothing to explain.
			if s.in.has(inOOMKills) && p.goneKills(lv.kind, rm.Resource(), &s, now) {
				recorded = true
			}
			continue
		}
		sr, a := p.analyze(lv.kind, rm.Resource(), &s, now)
		recorders[lv.kind].record(p.mb, s.ts, &a, &sr.vs.oom)
		p.log.verdict(lv.kind, rm.Resource(), &s.in, &a, &sr.vs, now)
		recorded = true
	}
	if recorded {
		appendEmitted(p.mb.Emit(), rm)
	}
}

// appendEmitted moves the builder's scope (there is at most one resource) into rm.
func appendEmitted(out pmetric.Metrics, rm pmetric.ResourceMetrics) {
	if out.ResourceMetrics().Len() > 0 {
		out.ResourceMetrics().At(0).ScopeMetrics().MoveAndAppendTo(rm.ScopeMetrics())
	}
}

// analyze decomposes, updates the trend and the pressure rates, judges, counts OOM kills
// and picks the series of one resource at one level.
func (p *divergenceProcessor) analyze(kind levelKind, res pcommon.Resource, s *sample, now time.Time) (*series, analysis) {
	a := analysis{parts: decompose(&s.in, socketCharged(p.cfg.CgroupVersion, &s.in)), minSigmas: p.cfg.Trend.MinSlopeSigmas,
		etaHorizon: p.cfg.Trend.ETAHorizon.Seconds()}
	sr := p.store.touch(stateKey{level: kind, hash: resourceHash(res)}, now)
	vs := &sr.vs
	t := int64(s.ts)
	cur := readCounters(&s.in)
	pt := newPoint(s, &a.parts)
	vs.ref.pressurePoint(&pt, &cur)
	kept := sr.win.add(pt, p.cfg.Trend.SampleInterval)
	a.rates = vs.ref.rates(sr.win, &cur, t, kept)
	vs.ref.update(&cur, t, kept)
	a.growth, a.growthOK = estimateGrowth(sr.win, &s.in, p.cfg.Trend)
	a.judgement = p.cfg.Thresholds.classify(judgeInput{
		parts: &a.parts, in: &s.in, rates: &a.rates, counters: &cur,
		growth: &a.growth, growthOK: a.growthOK, prev: vs, causeMargin: p.cfg.Series.MinCauseBytes,
	}, p.cfg.Trend)
	vs.remember(&a.judgement)
	oomV, oomOK := s.in.get(inOOMKills)
	vs.oom.observe(oomV, oomOK)
	vs.oom.remember(largestHeld(&a.parts, &s.in))
	a.emit = selectSeries(vs, &a, t, p.cfg.Series)
	return sr, a
}

// goneKills counts the OOM kills reported for a resource with nothing to explain (its
// cgroup is gone) under the cause of the last breakdown seen for it, and records the
// kills by cause. It reports whether it recorded anything.
func (p *divergenceProcessor) goneKills(kind levelKind, res pcommon.Resource, s *sample, now time.Time) bool {
	sr := p.store.touch(stateKey{level: kind, hash: resourceHash(res)}, now)
	if !sr.vs.valid && !sr.vs.oom.seen {
		// Never seen alive: a container created, killed and removed between two scrapes.
		// The receiver reports such a cgroup only for kills it saw after its last read (the
		// kernel log watcher), so they count from 0, under unknown.
		sr.vs.oom.seen = true
	}
	v, _ := s.in.get(inOOMKills)
	sr.vs.oom.observe(v, true)
	if sr.vs.oom.series() == 0 {
		return false
	}
	recorders[kind].recordKills(p.mb, s.ts, &sr.vs.oom)
	return true
}

// shutdown drops all resource state.
func (p *divergenceProcessor) shutdown(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.store = newStore(p.cfg.State, p.cfg.Trend)
	return nil
}
