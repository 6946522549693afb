// Package creatorbreaker is the circuit breaker of SERVICE.md §14: a
// decorator around ports.ContentCreator that stops sending submissions to a
// content-creator that cannot be reached, and probes it until it can.
//
// CREATOR_BREAKER_FAILURES submissions in a row that fail without reaching
// content-creator — a plain failure in domain.SubmitOutcomeOf's terms: nothing
// listening, the program missing, a 5xx, a crash at start; not a refusal, not
// an unknown outcome — open it. While open, Submit answers
// domain.ErrCreatorUnavailable without calling the inner creator; Run probes
// the inner creator every CREATOR_PROBE_INTERVAL and the first success closes
// it. Status, Result and Cancel always pass through: the reconciler and
// callbacks keep working during an outage.
//
// What the dispatcher must do (not done here): before it claims a due task,
// ask Health(); while the status is down, claim nothing — due tasks wait with
// waiting_reason creator_unavailable. A Submit that still answers
// ErrCreatorUnavailable (it opened between the check and the call;
// domain.SubmitOutcomeOf says SubmissionNotSent) must give the claimed
// attempt back without spending a retry. Bootstrap runs Run as one of its
// loops and serves Health() as the health endpoint's creator field.
package creatorbreaker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"contenthub/domain"
	"contenthub/ports"
)

// Defaults for the zero values of Config.
const (
	DefaultFailures      = 3
	DefaultProbeInterval = 5 * time.Second
)

// Config is the breaker's policy.
type Config struct {
	Failures      int           // CREATOR_BREAKER_FAILURES
	ProbeInterval time.Duration // CREATOR_PROBE_INTERVAL
	// Closed, when set, is called each time the breaker closes after it was
	// open (outside its lock): the dispatcher's wake-up, so waiting tasks go
	// at once rather than at its next sweep.
	Closed func()
}

// Creator is what the breaker wraps: a content-creator that can be probed.
type Creator interface {
	ports.ContentCreator
	ports.CreatorProber
}

// timer is the optional part of a clock the probe loop uses; without it the
// system's timers are used.
type timer interface {
	After(d time.Duration) <-chan time.Time
}

// Breaker is safe for concurrent use.
type Breaker struct {
	inner Creator
	cfg   Config
	clock ports.Clock

	mu       sync.Mutex
	failures int // in a row, without reaching content-creator
	health   ports.CreatorHealth
}

var (
	_ ports.ContentCreator        = (*Breaker)(nil)
	_ ports.CreatorProber         = (*Breaker)(nil)
	_ ports.CreatorHealthReporter = (*Breaker)(nil)
	_ ports.LiveRuns              = (*Breaker)(nil)
)

// New wraps inner; clk stamps the health and, if it has After, times the
// probes.
func New(inner Creator, cfg Config, clk ports.Clock) (*Breaker, error) {
	if inner == nil || clk == nil {
		return nil, errors.New("creatorbreaker: a creator and a clock are required")
	}
	if cfg.Failures < 0 || cfg.ProbeInterval < 0 {
		return nil, fmt.Errorf("creatorbreaker: negative policy %+v", cfg)
	}
	if cfg.Failures == 0 {
		cfg.Failures = DefaultFailures
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = DefaultProbeInterval
	}
	return &Breaker{inner: inner, cfg: cfg, clock: clk,
		health: ports.CreatorHealth{Status: ports.CreatorHealthUnknown}}, nil
}

// Health is the current snapshot.
func (b *Breaker) Health() ports.CreatorHealth {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.health
}

// Submit passes the submission on unless the breaker is open.
func (b *Breaker) Submit(ctx context.Context, req ports.SubmitRequest) (ports.SubmitResult, error) {
	b.mu.Lock()
	open := b.health.Status == ports.CreatorDown
	b.mu.Unlock()
	if open {
		return ports.SubmitResult{}, fmt.Errorf("content-creator create: not sent: %w", domain.ErrCreatorUnavailable)
	}
	res, err := b.inner.Submit(ctx, req)
	switch domain.SubmitOutcomeOf(err) {
	case domain.SubmissionAccepted, domain.SubmissionRefused:
		b.reached()
	case domain.SubmissionUnknown:
		// It may or may not have reached it: not a failure to reach it,
		// but no sign of life either. The row of failures is broken.
		b.mu.Lock()
		b.failures = 0
		b.mu.Unlock()
	case domain.SubmissionFailed:
		if ctx.Err() == nil { // the caller giving up says nothing about content-creator
			b.failed(err)
		}
	}
	return res, err
}

// Probe passes the probe on; a success closes the breaker.
func (b *Breaker) Probe(ctx context.Context) error {
	err := b.inner.Probe(ctx)
	if err == nil {
		b.reached()
	} else if ctx.Err() == nil {
		b.mu.Lock()
		b.health.LastError = err.Error()
		b.mu.Unlock()
	}
	return err
}

// Run probes the inner creator every probe interval while the breaker is
// open, until ctx ends.
func (b *Breaker) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.after(b.cfg.ProbeInterval):
		}
		if b.Health().Status == ports.CreatorDown {
			_ = b.Probe(ctx) // its failure is in the health snapshot
		}
	}
}

func (b *Breaker) reached() {
	b.mu.Lock()
	b.failures = 0
	wasOpen := b.health.Status == ports.CreatorDown
	if b.health.Status != ports.CreatorUp {
		b.health = ports.CreatorHealth{Status: ports.CreatorUp, Since: b.clock.Now(), LastError: b.health.LastError}
	}
	b.mu.Unlock()
	if wasOpen && b.cfg.Closed != nil {
		b.cfg.Closed()
	}
}

func (b *Breaker) failed(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	b.health.LastError = err.Error()
	if b.failures >= b.cfg.Failures && b.health.Status != ports.CreatorDown {
		b.health.Status, b.health.Since = ports.CreatorDown, b.clock.Now()
	}
}

func (b *Breaker) after(d time.Duration) <-chan time.Time {
	if t, ok := b.clock.(timer); ok {
		return t.After(d)
	}
	return time.After(d)
}

// Status passes through.
func (b *Breaker) Status(ctx context.Context, ref string) (ports.CreatorStatus, error) {
	return b.inner.Status(ctx, ref)
}

// Result passes through.
func (b *Breaker) Result(ctx context.Context, ref string) (domain.Result, error) {
	return b.inner.Result(ctx, ref)
}

// Cancel passes through.
func (b *Breaker) Cancel(ctx context.Context, ref string) error { return b.inner.Cancel(ctx, ref) }

// Live passes through to an inner creator that supervises runs itself (the
// cli and api profiles); any other holds none (the contract profile's CLI
// returns as soon as it has queued the run).
func (b *Breaker) Live(ref string) bool {
	l, ok := b.inner.(ports.LiveRuns)
	return ok && l.Live(ref)
}
