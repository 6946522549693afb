// Package application holds the use cases of the ContentHub task service:
// creating tasks, handling callbacks, dispatching and reconciling attempts,
// cancelling and retrying, and the read queries. It depends only on domain
// and ports.
package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"contenthub/domain"
	"contenthub/ports"
)

// Rules are the tunables every use case applies to the domain.
type Rules struct {
	TaskTimeout time.Duration
	Backoff     domain.Backoff
}

// Deps are the ports the use cases share. The store comes role by role, and
// each use case reads only the roles it uses: every one writes through Store;
// Tasks reads through Reader and Deliveries, Callbacks through Reader and
// Deliveries, the Dispatcher claims through Claimer, the Reconciler finds
// work through Stale. Runs needs only Store.
type Deps struct {
	Store      ports.TaskWriter
	Claimer    ports.TaskClaimer
	Stale      ports.StaleTasks
	Deliveries ports.DeliveryLog
	Reader     ports.TaskReader
	Clock      ports.Clock
	IDs        ports.IDGenerator
	Publisher  ports.EventPublisher
	Metrics    ports.Metrics
	Log        *zap.Logger
	// Lifecycle takes the task-lifecycle lines (one per change of status or
	// attempt); they must not be sampled away. Nil: Log.
	Lifecycle *zap.Logger
	Rules     Rules
	// SlotFreed is called when a change ends an attempt (completed, failed,
	// timed out, cancelled): its slot is free, and the dispatcher of this
	// replica looks for the next due task at once (§11). nil: nobody to tell.
	SlotFreed func()
	// Tracer opens the application's spans; nil when tracing is compiled out.
	Tracer ports.Tracer
}

// noSpan is the span of a Deps without a Tracer.
type noSpan struct{}

func (noSpan) End(error, ...ports.Attr) {}

// span opens a span of the application's own, or nothing without a Tracer.
func (d Deps) span(ctx context.Context, name string, attrs ...ports.Attr) (context.Context, ports.Span) {
	if d.Tracer == nil {
		return ctx, noSpan{}
	}
	return d.Tracer.Start(ctx, name, attrs...)
}

func (d Deps) domainRules() domain.Rules {
	return domain.Rules{
		TaskTimeout: d.Rules.TaskTimeout,
		Backoff: func(failed int) time.Duration {
			return d.Rules.Backoff.Delay(failed, d.IDs.Jitter())
		},
	}
}

func (d Deps) now() time.Time { return d.Clock.Now().UTC() }

// updateRetries bounds compare-and-set retries; storage locks the row, so a
// conflict means another writer slipped in between and one more try settles it.
const updateRetries = 3

// update runs a store update, retrying version conflicts.
func (d Deps) update(ctx context.Context, id string, fn ports.UpdateFunc) error {
	var err error
	for range updateRetries {
		err = d.Store.UpdateTask(ctx, id, fn)
		if !errors.Is(err, domain.ErrVersionConflict) {
			return err
		}
	}
	return err
}

// updateAt is update for a caller that has just read the task (read; nil:
// none): fn decides on a copy of that read, written only if the task is still
// at its version — on PostgreSQL one statement — else as update does.
func (d Deps) updateAt(ctx context.Context, id string, read *domain.Task, fn ports.UpdateFunc) error {
	err := domain.ErrVersionConflict
	if read != nil {
		// A copy: the caller's task stays as it was read.
		err = d.Store.UpdateTaskAt(ctx, domain.RehydrateTask(read.Snapshot()), fn)
	}
	if errors.Is(err, domain.ErrVersionConflict) {
		err = d.update(ctx, id, fn)
	}
	return err
}

// auditFunc builds the delivery record written with a change, from the
// outcome the transition function decided.
type auditFunc func(t *domain.Task, out domain.Outcome) *domain.Delivery

// applyEvent is the one path of change for every source: it feeds ev
// through the transition function inside one store transaction, writes the
// task with its side effects (content, pool entry, the audit record when
// audit is given), then publishes the change. It returns the outcome and
// the task as written.
func (d Deps) applyEvent(ctx context.Context, taskID string, ev domain.Event, audit auditFunc) (domain.Outcome, *domain.Task, error) {
	return d.applyEventOn(ctx, taskID, nil, ev, audit)
}

// applyEventOn is applyEvent for a caller that has just read the task (read;
// nil: none). The change is decided on that read, with no transaction open,
// and written only if the task is still at the version read — on PostgreSQL
// one statement, one round trip. If the task changed meanwhile, it is read
// again under lock and decided again, as applyEvent does.
func (d Deps) applyEventOn(ctx context.Context, taskID string, read *domain.Task, ev domain.Event, audit auditFunc) (domain.Outcome, *domain.Task, error) {
	if ev.Kind == domain.EventCompleted {
		// What is derived from the article (title, summary, word count) is
		// derived here, once, whatever the source: never while a row is
		// locked, and not again when an update is retried.
		ev.Result = ev.Result.Described()
	}
	var (
		out  domain.Outcome
		task *domain.Task
	)
	var freed bool
	decide := func(t *domain.Task) (ports.TaskChanges, error) {
		wasOpen := t.HasOpenWork()
		o, err := t.Apply(ev, d.domainRules())
		if err != nil {
			return ports.TaskChanges{}, err
		}
		out, task, freed = o, t, wasOpen && !t.HasOpenWork()
		changes := ports.TaskChanges{SaveTask: o.Changed, Content: o.Content, PoolEntry: o.PoolEntry}
		if audit != nil {
			changes.Delivery = audit(t, o)
		}
		// Terminal changes only; written with the change (the outbox).
		if o.Notifies() {
			changes.Notify, _ = domain.TaskNotification(d.IDs.NewID("msg"), t, o, o.Content)
		}
		return changes, nil
	}
	if err := d.updateAt(ctx, taskID, read, decide); err != nil {
		return out, nil, err
	}
	d.applied(ctx, ev, task, out)
	if freed && d.SlotFreed != nil {
		d.SlotFreed()
	}
	return out, task, nil
}

// outbox is the notification a review or pool move writes with its change
// (§15), under a fresh message id; nil when the move announces nothing.
func (d Deps) outbox(a *domain.Announcement) *domain.Notification {
	if a == nil {
		return nil
	}
	n := domain.AnnouncementNotification(d.IDs.NewID("msg"), *a)
	return &n
}

// applied finishes a committed change: the lifecycle line, metrics and the
// event to subscribers. Publishing is best effort: the change is stored,
// subscribers can re-read.
func (d Deps) applied(ctx context.Context, ev domain.Event, t *domain.Task, out domain.Outcome) {
	if !out.Changed {
		return
	}
	d.logLifecycle(ev, t, out)
	if out.From != out.To {
		d.Metrics.TaskTransition(string(out.From), string(out.To))
	}
	te := ports.TaskEvent{
		TaskID: t.ID(), AccountID: t.AccountID(), Status: t.Status(), Attempt: t.Attempt(),
		Progress: t.Progress(), ContentID: t.ContentID(), ScheduleID: t.ScheduleID(), RunID: t.RunID(), At: t.UpdatedAt(),
	}
	ctx, span := d.span(ctx, "publish", ports.StringAttr(ports.AttrTaskID, t.ID()), ports.IntAttr(ports.AttrAttempt, t.Attempt()))
	err := d.Publisher.Publish(ctx, te)
	span.End(err)
	if err != nil {
		d.Log.Warn("publish task event", zap.String("task_id", t.ID()), zap.Error(err))
	}
}

// ErrUnavailable marks failures the caller should retry later (503).
var ErrUnavailable = errors.New("temporarily unavailable")

func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}
