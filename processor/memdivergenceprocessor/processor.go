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
	// now is the wall clock that ages resource state out; tests replace it.
	now func() time.Time
}

func newDivergenceProcessor(cfg *Config, set processor.Settings) *divergenceProcessor {
	p := &divergenceProcessor{
		cfg:   cfg,
		mb:    metadata.NewMetricsBuilder(cfg.MetricsBuilderConfig, set),
		store: newStore(cfg.State, cfg.Trend.Window),
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
		if !ok {
			continue
		}
		if s.ts == 0 {
			s.ts = pcommon.NewTimestampFromTime(now)
		}
		a := p.analyze(lv.kind, rm.Resource(), &s, now)
		recorders[lv.kind].record(p.mb, s.ts, &a)
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

// analyze decomposes, judges and updates the trend of one resource at one level.
func (p *divergenceProcessor) analyze(kind levelKind, res pcommon.Resource, s *sample, now time.Time) analysis {
	a := analysis{parts: decompose(&s.in, socketCharged(p.cfg.CgroupVersion, &s.in))}
	a.verdict = p.cfg.Thresholds.judge(&a.parts, &s.in)
	w := p.store.touch(stateKey{level: kind, hash: resourceHash(res)}, now)
	w.add(newPoint(s, &a.parts), p.cfg.Trend.SampleInterval)
	a.growth, a.growthOK = estimateGrowth(w, &s.in, p.cfg.Trend)
	return a
}

// shutdown drops all resource state.
func (p *divergenceProcessor) shutdown(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.store = newStore(p.cfg.State, p.cfg.Trend.Window)
	return nil
}
