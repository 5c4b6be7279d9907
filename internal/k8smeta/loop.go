package k8smeta

import (
	"context"
	"time"
)

// run fetches the pod list when asked, no sooner than the schedule allows, and retries failed
// fetches with backoff until one succeeds. A failed fetch keeps the previous index.
func (p *Provider) run(ctx context.Context) {
	defer close(p.done)
	timer := time.NewTimer(0)
	<-timer.C
	armed := false
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-p.trigger:
			if !armed && !p.answered() {
				timer.Reset(p.sched.wait(time.Now()))
				armed = true
			}
		case <-timer.C:
			start := time.Now()
			pods, err := p.refresh(ctx, start)
			if ctx.Err() != nil {
				return
			}
			p.sched.record(start, err == nil)
			p.health.report(err, pods)
			armed = err != nil
			if armed {
				timer.Reset(p.sched.wait(time.Now()))
			}
		}
	}
}

// refresh fetches the pod list and publishes its index; it returns the number of pods.
func (p *Provider) refresh(ctx context.Context, start time.Time) (int, error) {
	list, err := p.client.pods(ctx)
	if err != nil {
		return 0, err
	}
	snap := newSnapshot(list, start)
	p.snap.Store(snap)
	p.seen.prune(snap, start)
	return len(snap.pods), nil
}

// answered reports whether the latest fetch started after the latest request.
func (p *Provider) answered() bool {
	return !p.sched.last.IsZero() && p.sched.last.Sub(p.epoch) > time.Duration(p.requested.Load())
}
