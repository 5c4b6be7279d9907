package sockets

import (
	"errors"
	"fmt"
	"io/fs"

	"go.uber.org/zap"
)

// PartialError is Collect's error: failures that cost some containers their socket numbers.
type PartialError struct {
	// Failed is how many containers' socket numbers are missing this scrape because of a
	// failed read (limits are warned about, not counted).
	Failed int
	Err    error
}

func (e *PartialError) Error() string { return e.Err.Error() }
func (e *PartialError) Unwrap() error { return e.Err }

// problem is a condition that repeats every scrape until something changes: a permission
// error, or sock_diag being denied. partial problems are returned from Collect (once);
// the others are only logged (once).
type problem struct {
	err     error
	partial bool
}

// reporter reports each kind of problem once, when it appears, and again only after a
// scrape without it.
type reporter struct {
	logger *zap.Logger
	active map[string]bool
}

// finish takes the problems of one scrape and returns the error for Collect: every one-off
// error plus the partial problems that were not active in the previous scrape.
func (r *reporter) finish(problems map[string]problem, oneOff []error) error {
	if r.active == nil {
		r.active = make(map[string]bool)
	}
	errs := oneOff
	for kind, p := range problems {
		if r.active[kind] {
			r.logger.Debug("socket queues: problem persists", zap.String("kind", kind), zap.Error(p.err))
			continue
		}
		r.active[kind] = true
		if p.partial {
			r.logger.Warn("socket queues: reported once until it changes", zap.String("kind", kind), zap.Error(p.err))
			errs = append(errs, p.err)
		} else {
			r.logger.Info("socket queues: using a fallback until it changes", zap.String("kind", kind), zap.Error(p.err))
		}
	}
	for kind := range r.active {
		if _, ok := problems[kind]; !ok {
			delete(r.active, kind)
			r.logger.Info("socket queues: problem cleared", zap.String("kind", kind))
		}
	}
	return errors.Join(errs...)
}

// scrape gathers one Collect's problems (reported once), one-off errors and the fd budget
// left.
type scrape struct {
	problems map[string]problem
	errs     []error
	fdBudget int
	gone     map[int]bool // pids seen to exit during the scrape
}

// fail sorts a reader's error for group gs (nil: the error is a namespace's and its groups
// are charged by the caller): vanished processes are skipped quietly, permission errors
// become a problem of kind (reported once), anything else is returned every scrape. Every
// error but a vanished process leaves the group incomplete.
func (s *scrape) fail(gs *groupState, kind string, err error) {
	if errors.Is(err, errVanished) {
		return
	}
	if gs != nil {
		gs.incomplete, gs.failed = true, true
	}
	if errors.Is(err, fs.ErrPermission) {
		if _, ok := s.problems[kind]; !ok {
			s.problems[kind] = problem{err: err, partial: true}
		}
		return
	}
	s.errs = append(s.errs, err)
}

// note records a problem that is only logged (a fallback was used).
func (s *scrape) note(kind string, err error) {
	if _, ok := s.problems[kind]; !ok {
		s.problems[kind] = problem{err: err}
	}
}

// finish returns the scrape's error, if any is to be reported, with the number of groups
// whose numbers a failed read cost.
func (s *scrape) finish(r *reporter, states []*groupState) error {
	err := r.finish(s.problems, s.errs)
	if err == nil {
		return nil
	}
	failed := 0
	for _, gs := range states {
		if gs.failed {
			failed++
		}
	}
	return &PartialError{Failed: failed, Err: fmt.Errorf("%w", err)}
}
