package application

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"time"

	"go.uber.org/zap"

	"contenthub/domain"
	"contenthub/ports"
)

// DispatcherConfig tunes the dispatcher (§6).
type DispatcherConfig struct {
	Owner           string        // this replica's lease owner name
	Lease           time.Duration // how long a claim holds before another replica may recover it
	Concurrency     int           // CREATOR_MAX_CONCURRENCY: submissions in flight
	Sweep           time.Duration // periodic look for due tasks (other replicas' inserts, backoffs)
	CallbackBaseURL string        // WEBHOOK_CALLBACK_BASE_URL, no trailing slash
	Callbacks       bool          // WEBHOOK_ENABLED: hand content-creator a callback URL
	Tokens          bool          // WEBHOOK_CALLBACK_TOKENS: put a per-attempt token in it
}

// Dispatcher hands due pending tasks to content-creator.
type Dispatcher struct {
	deps    Deps
	creator ports.ContentCreator
	wakeup  *Wakeup
	cfg     DispatcherConfig
	slots   chan struct{}
	wg      sync.WaitGroup
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

// Run dispatches until ctx ends, woken by local inserts and a periodic sweep.
// It returns after in-flight submissions finished: a CLI half-run would leave
// an attempt the reconciler has to sort out.
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

// DispatchDue claims as many due tasks as there are free slots and submits
// each in its own goroutine. It returns how many it claimed.
func (d *Dispatcher) DispatchDue(ctx context.Context) (int, error) {
	claimed := 0
	for {
		free := cap(d.slots) - len(d.slots)
		if free == 0 {
			return claimed, nil
		}
		tasks, err := d.deps.Store.ClaimDue(ctx, d.cfg.Owner, d.deps.now(), d.cfg.Lease, free)
		if err != nil {
			return claimed, err
		}
		for _, t := range tasks {
			d.slots <- struct{}{}
			d.wg.Add(1)
			go func(t *domain.Task) {
				defer func() { <-d.slots; d.wg.Done() }()
				// Detached from shutdown: a started submission is finished.
				d.submit(context.WithoutCancel(ctx), t)
			}(t)
		}
		claimed += len(tasks)
		if len(tasks) < free {
			return claimed, nil
		}
	}
}

// Wait blocks until every submission started so far has finished.
func (d *Dispatcher) Wait() { d.wg.Wait() }

func (d *Dispatcher) submit(ctx context.Context, claimed *domain.Task) {
	log := d.deps.Log.With(zap.String("task_id", claimed.ID()), zap.Int("attempt", claimed.Attempt()))
	token := d.deps.IDs.NewToken()
	callbackURL := d.cfg.CallbackBaseURL + "/api/v1/content/callback/" + url.PathEscape(claimed.ID())
	opening := domain.Opening{
		ExternalRef: domain.ExternalRefFor(claimed.ID(), claimed.Attempt()),
		CallbackURL: callbackURL,
	}
	if d.cfg.Tokens {
		opening.TokenHash = domain.HashToken(token)
	}
	if !d.cfg.Callbacks {
		opening.CallbackURL = ""
	}

	var task *domain.Task
	err := d.deps.update(ctx, claimed.ID(), func(t *domain.Task) (ports.TaskChanges, error) {
		if t.LeaseOwner() != d.cfg.Owner || t.Attempt() != claimed.Attempt() {
			return ports.TaskChanges{}, errLeaseLost
		}
		out, err := t.Apply(domain.Event{Kind: domain.EventOpenAttempt, Source: domain.SourceDispatcher,
			Attempt: t.Attempt(), At: d.deps.now(), Open: opening}, d.deps.domainRules())
		if err != nil {
			return ports.TaskChanges{}, err
		}
		task = t
		return ports.TaskChanges{SaveTask: out.Changed}, nil
	})
	if err != nil {
		if !errors.Is(err, errLeaseLost) && !errors.Is(err, domain.ErrConflict) {
			log.Warn("open attempt", zap.Error(err))
		}
		return
	}

	req := ports.SubmitRequest{
		ExternalRef: opening.ExternalRef, Topic: task.Topic(), Requirements: task.Requirements(),
		Tone: task.Tone(), Keywords: task.Keywords(),
	}
	if d.cfg.Callbacks {
		req.CallbackURL = callbackURL
		if d.cfg.Tokens {
			req.CallbackURL += "?token=" + url.QueryEscape(token)
		}
	}
	result, submitErr := d.creator.Submit(ctx, req)
	ev := domain.Event{Kind: domain.EventSubmitted, Source: domain.SourceDispatcher, Attempt: task.Attempt(),
		At: d.deps.now(), ExternalRef: result.ExternalRef}
	if submitErr != nil {
		log.Warn("submit to content-creator", zap.Error(submitErr))
		ev.Kind, ev.Error = domain.EventFailed, domain.TaskError{
			Code: "SUBMIT_FAILED", Type: "submit_error", Message: submitErr.Error(),
		}
	}
	if _, _, err := d.deps.applyEvent(ctx, task.ID(), ev, nil); err != nil {
		log.Warn("record submission", zap.String("event", string(ev.Kind)), zap.Error(err))
	}
}

var errLeaseLost = errors.New("lease lost")
