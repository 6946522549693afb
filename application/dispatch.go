package application

import (
	"context"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"contenthub/domain"
	"contenthub/ports"
)

// DispatcherConfig tunes the dispatcher (§6).
type DispatcherConfig struct {
	Owner string        // this replica's lease owner name
	Lease time.Duration // how long a claim holds before another replica may recover it
	// Concurrency is CREATOR_MAX_CONCURRENCY: running attempts in all, across
	// replicas (counted by the store), and this replica's submissions (and
	// supervised runs) in flight.
	Concurrency int
	// AccountDefaults are the limits of accounts without their own
	// (ACCOUNT_MAX_CONCURRENCY, ACCOUNT_MAX_TASKS_PER_HOUR, weight 1).
	AccountDefaults domain.AccountLimits
	Sweep           time.Duration // periodic look for due tasks (other replicas' inserts, backoffs)
	CallbackBaseURL string        // WEBHOOK_CALLBACK_BASE_URL, no trailing slash
	Callbacks       bool          // WEBHOOK_ENABLED: hand content-creator a callback URL
	Tokens          bool          // WEBHOOK_CALLBACK_TOKENS: put a per-attempt token in it
	RefPrefix       string        // CREATOR_REF_PREFIX: put before each attempt's creator-side id
	// CreatorHealth, when set, is asked before every claim: while it reports
	// content-creator down (the circuit breaker of §14 is open) nothing is
	// claimed, so due tasks wait with no attempt opened and no retry spent.
	// Nil: content-creator is taken as reachable.
	CreatorHealth ports.CreatorHealthReporter
}

// Dispatcher hands due pending tasks to content-creator.
type Dispatcher struct {
	deps    Deps
	creator ports.ContentCreator
	wakeup  *Wakeup
	cfg     DispatcherConfig
	slots   chan struct{}
	wg      sync.WaitGroup
	backlog atomic.Bool // a sweep found no free slot: tasks may be waiting
}

// NewDispatcher builds a dispatcher; Run drives it.
func NewDispatcher(deps Deps, creator ports.ContentCreator, wakeup *Wakeup, cfg DispatcherConfig) *Dispatcher {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Minute
	}
	if cfg.Sweep <= 0 {
		cfg.Sweep = time.Second
	}
	return &Dispatcher{deps: deps, creator: creator, wakeup: wakeup, cfg: cfg, slots: make(chan struct{}, cfg.Concurrency)}
}

// Run dispatches until ctx ends, woken by local inserts, by a submission
// slot that frees up while tasks were left waiting, and by a periodic sweep.
// It returns after in-flight submissions finished (a CLI half-run would leave
// an attempt the reconciler has to sort out); runs that outlive their
// submission (a supervised child) are not waited for.
func (d *Dispatcher) Run(ctx context.Context) {
	defer d.wg.Wait()
	ticker := time.NewTicker(d.cfg.Sweep)
	defer ticker.Stop()
	for {
		if _, err := d.DispatchDue(ctx); err != nil && ctx.Err() == nil {
			d.deps.Log.Warn("dispatch due tasks", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-d.wakeup.C():
		}
	}
}

// CreatorUnavailable reports whether due tasks are waiting for
// content-creator to come back (waiting_reason creator_unavailable, §11/§14).
func (d *Dispatcher) CreatorUnavailable() bool {
	return d.cfg.CreatorHealth != nil && d.cfg.CreatorHealth.Health().Status == ports.CreatorDown
}

// DispatchDue claims as many due tasks as there are free slots and submits
// each in its own goroutine. It returns how many it claimed.
func (d *Dispatcher) DispatchDue(ctx context.Context) (int, error) {
	claimed := 0
	for {
		if d.CreatorUnavailable() {
			// The breaker's closing wakes the loop.
			return claimed, nil
		}
		free := cap(d.slots) - len(d.slots)
		if free == 0 {
			// Tasks may be waiting: the next slot to free up looks again.
			// A slot freed before the flag was up is seen by the re-check.
			d.backlog.Store(true)
			if cap(d.slots)-len(d.slots) == 0 {
				return claimed, nil
			}
			continue
		}
		tasks, openings, err := d.claim(ctx, free)
		if err != nil {
			return claimed, err
		}
		for _, t := range tasks {
			d.slots <- struct{}{}
			d.start(ctx, t, openings[t.ID()])
		}
		claimed += len(tasks)
		if len(tasks) < free {
			return claimed, nil
		}
	}
}

// claim leases up to n due tasks under the fair share and the accounts'
// limits (§11), each with its attempt opened in the same transaction.
func (d *Dispatcher) claim(ctx context.Context, n int) ([]*domain.Task, map[string]attemptOpening, error) {
	openings := make(map[string]attemptOpening) // not sized by n: the ceiling may be large, the claim mostly empty
	q := ports.ClaimQuery{
		Owner: d.cfg.Owner, Now: d.deps.now(), Lease: d.cfg.Lease, Limit: n,
		Capacity: d.cfg.Concurrency, Defaults: d.cfg.AccountDefaults,
	}
	ctx, span := d.deps.span(ctx, "dispatch.claim")
	tasks, err := d.deps.Claimer.ClaimDue(ctx, q, func(t *domain.Task) (ports.TaskChanges, error) {
		o := d.newOpening(t)
		out, err := t.Apply(domain.Event{Kind: domain.EventOpenAttempt, Source: domain.SourceDispatcher,
			Attempt: t.Attempt(), At: d.deps.now(), Open: o.Opening}, d.deps.domainRules())
		if err != nil {
			return ports.TaskChanges{}, err
		}
		openings[t.ID()] = o
		return ports.TaskChanges{SaveTask: out.Changed}, nil
	})
	span.End(err, ports.IntAttr(ports.AttrCount, len(tasks)))
	return tasks, openings, err
}

// start submits a claimed task in its own goroutine, on a slot the caller
// holds for it. When content-creator is done with the task (it answered, or
// the run supervised here ended), the slot goes straight to the next due
// task, claimed there and then, rather than back through the loop.
func (d *Dispatcher) start(ctx context.Context, t *domain.Task, o attemptOpening) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		var once sync.Once
		free := func() { once.Do(func() { d.handOn(ctx) }) }
		defer free()
		// Detached from shutdown: a started submission is finished.
		running := d.submit(context.WithoutCancel(ctx), t, o, free)
		// A supervised run keeps its slot until it ends; shutdown leaves it
		// running (the next replica's reconciler reads its outcome).
		select {
		case <-running:
		case <-ctx.Done():
		}
	}()
}

// handOn gives a slot that is done to the next due task, or frees it.
func (d *Dispatcher) handOn(ctx context.Context) {
	if ctx.Err() == nil && !d.CreatorUnavailable() {
		tasks, openings, err := d.claim(ctx, 1)
		switch {
		case err != nil && ctx.Err() == nil:
			d.deps.Log.Warn("dispatch due tasks", zap.Error(err))
		case len(tasks) == 1:
			d.start(ctx, tasks[0], openings[tasks[0].ID()])
			return
		}
	}
	d.release()
}

// release frees a submission slot and, when tasks were left waiting for one,
// wakes the loop so the next one goes at once rather than at the next sweep.
func (d *Dispatcher) release() {
	<-d.slots
	if d.backlog.CompareAndSwap(true, false) {
		d.wakeup.Notify()
	}
}

// Wait blocks until every submission started so far has finished.
func (d *Dispatcher) Wait() { d.wg.Wait() }

// attemptOpening is what the dispatcher opens an attempt with: the token
// goes to content-creator, only its hash is stored.
type attemptOpening struct {
	domain.Opening
	token       string
	callbackURL string
}

// newOpening prepares the attempt t opens next.
func (d *Dispatcher) newOpening(t *domain.Task) attemptOpening {
	o := attemptOpening{
		token:       d.deps.IDs.NewToken(),
		callbackURL: d.cfg.CallbackBaseURL + "/api/v1/content/callback/" + url.PathEscape(t.ID()),
	}
	o.ExternalRef = d.cfg.RefPrefix + domain.ExternalRefFor(t.ID(), t.Attempt())
	o.CallbackURL = o.callbackURL
	if d.cfg.Tokens {
		o.TokenHash = domain.HashToken(o.token)
	}
	if !d.cfg.Callbacks {
		o.CallbackURL = ""
	}
	return o
}

// submit hands the task, claimed with its attempt opened, to
// content-creator and records the answer. The slot guards content-creator's
// work, not the service's: once content-creator answered, free gives it to
// the next task while the answer is recorded — unless the run goes on,
// supervised here. It returns a channel closed when that run has ended
// (closed at once for a run not supervised here).
func (d *Dispatcher) submit(ctx context.Context, task *domain.Task, opening attemptOpening, free func()) <-chan struct{} {
	log := d.deps.Log.With(zap.String("task_id", task.ID()), zap.Int("attempt", task.Attempt()))
	// Each dispatch is a trace of its own: the generation's.
	ctx, span := d.deps.span(ctx, "dispatch", ports.StringAttr(ports.AttrTaskID, task.ID()), ports.IntAttr(ports.AttrAttempt, task.Attempt()))
	defer func() { span.End(nil) }()
	callbackURL, token := opening.callbackURL, opening.token
	req := ports.SubmitRequest{
		TaskID: task.ID(), Attempt: task.Attempt(), ExternalRef: opening.ExternalRef, Brief: task.Brief(),
	}
	if d.cfg.Callbacks {
		req.CallbackURL = callbackURL
		if d.cfg.Tokens {
			req.CallbackURL += "?token=" + url.QueryEscape(token)
		}
	}
	result, submitErr := d.creator.Submit(ctx, req)
	if submitErr != nil {
		span.End(submitErr)
		span = noSpan{}
	}
	if result.Running == nil {
		free()
	}
	ev := submissionEvent(task.Attempt(), d.deps.now(), result, submitErr)
	if ev.Kind == domain.EventWithdraw {
		log.Info("content-creator unavailable: attempt given back unsent, the task waits", zap.Error(submitErr))
	} else if submitErr != nil {
		log.Warn("submit to content-creator", zap.Bool("attempt_kept_open", ev.Unconfirmed),
			zap.Bool("permanent", ev.Permanent), zap.Error(submitErr))
	}
	if _, _, err := d.deps.applyEvent(ctx, task.ID(), ev, nil); err != nil {
		log.Warn("record submission", zap.String("event", string(ev.Kind)), zap.Error(err))
	}
	if result.Running == nil {
		return closed
	}
	// A run supervised here is under way: the task is processing while it
	// lasts (the published CLI reports no progress of its own).
	running := domain.Event{Kind: domain.EventProgress, Source: domain.SourceSupervisor, Attempt: task.Attempt(),
		At: d.deps.now(), Progress: domain.ProgressReport{Stage: "running", Message: "content-creator is generating the article"}}
	if _, _, err := d.deps.applyEvent(ctx, task.ID(), running, nil); err != nil {
		log.Warn("record the run under way", zap.Error(err))
	}
	return result.Running
}

// submissionEvent turns content-creator's answer into the attempt's event:
// accepted, or accepted as far as anyone can tell (the outcome is unknown:
// the attempt stays open, its callbacks count and the reconciler asks), or
// refused for good, or failed in a way a retry may cure, or not sent at all
// (withdrawn).
func submissionEvent(attempt int, at time.Time, res ports.SubmitResult, err error) domain.Event {
	ev := domain.Event{Kind: domain.EventSubmitted, Source: domain.SourceDispatcher, Attempt: attempt, At: at,
		ExternalRef: res.ExternalRef}
	switch domain.SubmitOutcomeOf(err) {
	case domain.SubmissionAccepted:
	case domain.SubmissionUnknown:
		ev.Unconfirmed = true
	case domain.SubmissionRefused:
		ev.Kind, ev.Permanent = domain.EventFailed, true
		ev.Error = domain.SubmitRefused(err.Error())
	case domain.SubmissionNotSent:
		// The breaker opened between the claim and the call: nothing was
		// sent, the attempt is given back and no retry is spent.
		ev.Kind = domain.EventWithdraw
	default:
		ev.Kind = domain.EventFailed
		ev.Error = domain.SubmitFailed(err.Error())
	}
	return ev
}

// closed is a channel that is already closed: a run that ended with its
// submission.
var closed = func() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()
