package application

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"contenthub/domain"
	"contenthub/ports"
)

// ReconcilerConfig tunes the polling guarantee (§6).
type ReconcilerConfig struct {
	Interval    time.Duration // POLL_INTERVAL
	Grace       time.Duration // CALLBACK_GRACE: silence before a task is polled
	Batch       int           // tasks looked at per interval
	Concurrency int           // status queries in flight
	// StartupGrace is how long content-creator may not yet know an attempt
	// it was handed: a supervised CLI child records it only after its
	// start-up (seconds, up to ~20 on a loaded machine). Until then "unknown"
	// is no answer rather than a lost submission.
	StartupGrace time.Duration
	// StallTimeout is CREATOR_STALL_TIMEOUT: a run content-creator reports
	// as running whose progress and update time have not changed for this
	// long, and that no live run of this process holds (Live), is lost
	// (SERVICE.md §14). Zero: runs are never found lost.
	StallTimeout time.Duration
	// Live says which runs this process supervises itself (a CLI child, a
	// held request); nil: none (the contract profile's CLI returns at once).
	Live ports.LiveRuns
}

// Reconciler is the second guarantee: it finishes tasks whose callbacks were
// lost, times out attempts that ran too long, and recovers submissions of
// replicas that died. Every change goes through the transition function.
type Reconciler struct {
	deps    Deps
	creator ports.ContentCreator
	wakeup  *Wakeup
	cfg     ReconcilerConfig
}

// NewReconciler builds a reconciler; Run drives it.
func NewReconciler(deps Deps, creator ports.ContentCreator, wakeup *Wakeup, cfg ReconcilerConfig) *Reconciler {
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	return &Reconciler{deps: deps, creator: creator, wakeup: wakeup, cfg: cfg}
}

// ReconcileReport says what one pass did.
type ReconcileReport struct {
	Checked   int // tasks looked at
	Repaired  int // tasks changed
	Unknown   int // answers that could not be mapped or fetched
	Recovered int // open attempts of dead replicas handed to polling
}

// Run reconciles every interval until ctx ends.
func (r *Reconciler) Run(ctx context.Context) {
	ticker := time.NewTicker(r.cfg.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if _, err := r.ReconcileOnce(ctx); err != nil && ctx.Err() == nil {
			r.deps.Log.Warn("reconcile", zap.Error(err))
		}
	}
}

// ReconcileOnce runs one pass. Its database reads are a fixed number of
// batched queries whatever the number of running tasks; writes happen only
// for tasks that change.
func (r *Reconciler) ReconcileOnce(ctx context.Context) (ReconcileReport, error) {
	now := r.deps.now()
	ctx, span := r.deps.span(ctx, "reconcile")
	rep, err := r.reconcileOnce(ctx, now)
	span.End(err, ports.IntAttr(ports.AttrCount, rep.Checked), ports.IntAttr("contenthub.repaired", rep.Repaired))
	return rep, err
}

func (r *Reconciler) reconcileOnce(ctx context.Context, now time.Time) (ReconcileReport, error) {
	tasks, err := r.deps.Stale.FindStale(ctx, ports.StaleQuery{HeardBefore: now.Add(-r.cfg.Grace), Now: now, Limit: r.cfg.Batch})
	if err != nil {
		return ReconcileReport{}, err
	}
	if len(tasks) == 0 {
		r.deps.Metrics.ReconcilerRun(0, 0, 0)
		return ReconcileReport{}, nil
	}
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ID()
	}
	// One statement for the whole batch, so tasks that stay quiet take turns.
	if err := r.deps.Stale.MarkPolled(ctx, ids, now); err != nil {
		return ReconcileReport{}, err
	}

	var (
		repaired, unknown, recovered atomic.Int64
		wg                           sync.WaitGroup
		slots                        = make(chan struct{}, r.cfg.Concurrency)
	)
	for _, t := range tasks {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			switch r.reconcile(ctx, t, now) {
			case verdictRepaired:
				repaired.Add(1)
			case verdictUnknown:
				unknown.Add(1)
			case verdictRecovered:
				recovered.Add(1)
			}
		}()
	}
	wg.Wait()
	rep := ReconcileReport{
		Checked: len(tasks), Repaired: int(repaired.Load()), Unknown: int(unknown.Load()), Recovered: int(recovered.Load()),
	}
	r.deps.Metrics.ReconcilerRun(rep.Checked, rep.Repaired+rep.Recovered, rep.Unknown)
	if rep.Repaired > 0 {
		r.wakeup.Notify() // retries may be due
	}
	return rep, nil
}

type verdict int

const (
	verdictNone verdict = iota
	verdictRepaired
	verdictUnknown
	verdictRecovered
)

// reconcile looks at one task the pass selected at now. Each event it makes
// carries the time its answer arrived, not the pass's start: a status query
// may take seconds of content-creator's start-up.
func (r *Reconciler) reconcile(ctx context.Context, t *domain.Task, now time.Time) verdict {
	log := r.deps.Log.With(zap.String("task_id", t.ID()), zap.Int("attempt", t.Attempt()))
	ctx, span := r.deps.span(ctx, "reconcile.task", ports.StringAttr(ports.AttrTaskID, t.ID()), ports.IntAttr(ports.AttrAttempt, t.Attempt()))
	defer span.End(nil)
	base := domain.Event{Source: domain.SourcePoll, Attempt: t.Attempt(), At: now}

	if t.Status() == domain.StatusPending {
		// A replica claimed the task and died while submitting: whether the
		// CLI ran is unknown, so treat the attempt as submitted and let
		// polling find out (an unknown id fails it, and retry rules apply).
		if !t.AttemptOpen() || t.LeaseUntil().After(now) {
			return verdictNone
		}
		ev := base
		ev.Kind, ev.Source, ev.Unconfirmed = domain.EventSubmitted, domain.SourceRecovery, true
		if r.apply(ctx, log, t.ID(), ev) {
			return verdictRecovered
		}
		return verdictNone
	}

	pastDeadline := !t.TimeoutAt().IsZero() && !now.Before(t.TimeoutAt())
	ev, known := r.poll(ctx, log, t, base)
	switch {
	case ev.Kind != "":
	case pastDeadline:
		ev = base
		ev.Kind, ev.At = domain.EventDeadline, r.deps.now()
	case !known:
		return verdictUnknown
	default:
		return verdictNone
	}
	if r.apply(ctx, log, t.ID(), ev) {
		return verdictRepaired
	}
	if !known {
		return verdictUnknown
	}
	return verdictNone
}

// poll asks content-creator about the task's attempt and turns a final
// answer into an event. known is false when the answer could not be used.
func (r *Reconciler) poll(ctx context.Context, log *zap.Logger, t *domain.Task, base domain.Event) (ev domain.Event, known bool) {
	ref := t.ExternalRef()
	st, err := r.creator.Status(ctx, ref)
	base.At = r.deps.now()
	switch {
	case errors.Is(err, ports.ErrCreatorUnknownTask):
		if a, ok := t.CurrentAttempt(); ok && base.At.Sub(a.OpenedAt) < r.cfg.StartupGrace {
			log.Info("content-creator does not know the attempt yet; it may still be starting")
			return ev, false
		}
		ev = base
		ev.Kind, ev.Error = domain.EventFailed, domain.UnknownToCreator("content-creator does not know this attempt")
		return ev, true
	case err != nil:
		log.Warn("poll content-creator status", zap.Error(err))
		return ev, false
	}
	switch st.Phase {
	case ports.PhaseRunning:
		return r.lost(ctx, log, t, st, base), true
	case ports.PhaseCompleted:
		result, err := r.creator.Result(ctx, ref)
		if err != nil {
			log.Warn("fetch content-creator result", zap.Error(err))
			return ev, false
		}
		base.At = r.deps.now()
		ev = base
		ev.Kind, ev.Result = domain.EventCompleted, result
		ev.IDs = domain.CompletionIDs{ContentID: r.deps.IDs.NewID("content"), PoolEntryID: r.deps.IDs.NewID("pool")}
		return ev, true
	case ports.PhaseFailed, ports.PhaseCancelled:
		ev = base
		ev.Kind, ev.Error = domain.EventFailed, st.Error
		if ev.Error.IsZero() {
			ev.Error = domain.CreatorExecutionFailed("content-creator reports the attempt " + st.Raw)
		}
		return ev, true
	default:
		log.Info("unrecognised content-creator status", zap.String("status", st.Raw))
		return ev, false
	}
}

// lost decides whether a run content-creator reports as running is lost
// (SERVICE.md §14): nothing of this process runs it, and neither its
// reported progress and update time (st, remembered by the store across
// polls and restarts) nor a progress callback nor its submission has moved
// for StallTimeout. A lost run is an EventLost; otherwise no event.
func (r *Reconciler) lost(ctx context.Context, log *zap.Logger, t *domain.Task, st ports.CreatorStatus, base domain.Event) domain.Event {
	ref := t.ExternalRef()
	if r.cfg.StallTimeout <= 0 || (r.cfg.Live != nil && r.cfg.Live.Live(ref)) {
		// A live child or held request is watched by its supervision, and
		// its status is this process's own "running", not content-creator's.
		return domain.Event{}
	}
	since, err := r.deps.Stale.ObserveProgress(ctx, t.ID(), t.Attempt(), progressMark(st), base.At)
	if err != nil {
		log.Warn("record content-creator's reported progress", zap.Error(err))
		return domain.Event{}
	}
	if p := t.Progress().UpdatedAt; p.After(since) {
		since = p
	}
	if a, ok := t.CurrentAttempt(); ok && a.SubmittedAt.After(since) {
		since = a.SubmittedAt
	}
	if base.At.Sub(since) < r.cfg.StallTimeout {
		return domain.Event{}
	}
	ev := base
	ev.Kind = domain.EventLost
	ev.Error = domain.CreatorLost(fmt.Sprintf(
		"content-creator reports the attempt %q, but it has not advanced since %s (CREATOR_STALL_TIMEOUT %s) and no run of this service holds it",
		st.Raw, since.UTC().Format(time.RFC3339), r.cfg.StallTimeout))
	log.Warn("content-creator run lost: it reports running but no longer advances",
		zap.String("external_ref", ref), zap.Time("unchanged_since", since), zap.String("status", st.Raw))
	return ev
}

// progressMark is what a status answer says of a run's advance, as one
// string: its state, progress and update time. Two answers with the same
// mark show a run that has not moved.
func progressMark(st ports.CreatorStatus) string {
	var b strings.Builder
	b.WriteString(st.Raw)
	if p := st.Progress; p != nil {
		fmt.Fprintf(&b, "|%g|%s|%s", p.Percentage, p.Stage, p.Message)
	} else {
		b.WriteString("|||")
	}
	if !st.UpdatedAt.IsZero() {
		b.WriteString("|" + st.UpdatedAt.UTC().Format(time.RFC3339Nano))
	}
	return b.String()
}

func (r *Reconciler) apply(ctx context.Context, log *zap.Logger, taskID string, ev domain.Event) bool {
	out, _, err := r.deps.applyEvent(ctx, taskID, ev, nil)
	if err != nil {
		log.Warn("apply polled event", zap.String("event", string(ev.Kind)), zap.Error(err))
		return false
	}
	stopAbandoned(ctx, r.creator, log, out)
	return out.Changed
}

// stopTimeout bounds asking content-creator to stop an abandoned attempt.
const stopTimeout = time.Minute

// stopAbandoned asks content-creator to stop an attempt the task gave up on
// (cancelled, timed out), so no orphan work runs. Best effort and in the
// background: the task has moved on whatever content-creator does (a late
// answer is ignored), and the caller — an API request, a reconciler pass —
// must not wait for a CLI's start-up or a hung server.
func stopAbandoned(ctx context.Context, creator ports.ContentCreator, log *zap.Logger, out domain.Outcome) {
	if out.StopRef == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	go func() {
		defer cancel()
		if err := creator.Cancel(ctx, out.StopRef); err != nil {
			log.Warn("ask content-creator to stop an abandoned attempt", zap.String("external_ref", out.StopRef), zap.Error(err))
		}
	}()
}
