// Package ports declares what the application needs from the outside world.
// Adapters implement these interfaces; application code depends on nothing else.
package ports

//go:generate go tool mockgen -typed -source=store.go -destination=mocks/store.go -package=mocks

import (
	"context"
	"time"

	"contenthub/domain"
)

// TaskQuery filters and pages the task list, newest first.
type TaskQuery struct {
	AccountID  int64         // 0 = any
	Status     domain.Status // "" = any
	ScheduleID string        // "" = any; tasks created by this schedule's runs
	Limit      int
	Cursor     string // opaque, from a previous page
}

// TaskPage is one page of tasks.
type TaskPage struct {
	Items      []*domain.Task
	NextCursor string // "" on the last page
}

// IdempotencyKey ties a client's Idempotency-Key to the request it came with.
type IdempotencyKey struct {
	Key         string
	RequestHash string
}

// TaskChanges are the side effects a task update writes in the same
// transaction as the task itself.
type TaskChanges struct {
	SaveTask  bool // write the task (compare-and-set on its version)
	Content   *domain.Content
	PoolEntry *domain.PoolEntry
	Delivery  *domain.Delivery // recorded; a duplicate DeliveryID fails the whole update with domain.ErrDuplicateDelivery
	// Notify is the outbox (§13): the change's notification, fanned out to
	// one message per subscribed endpoint in the same transaction, so that a
	// change that commits is always notified and one that rolls back never.
	Notify *domain.Notification
}

// UpdateFunc decides an update from the task as stored. Returning an error
// rolls everything back and is returned from UpdateTask unchanged.
type UpdateFunc func(t *domain.Task) (TaskChanges, error)

// StaleQuery selects tasks the reconciler should look at.
type StaleQuery struct {
	HeardBefore time.Time // active tasks not heard from since
	Now         time.Time // active tasks whose timeout_at is before Now, and open attempts whose lease expired
	Limit       int
}

// The store is split by role: each use case takes the roles it uses
// (application.Deps), and one adapter implements them all (TaskStore).

// TaskWriter creates tasks and changes them, with their side effects, in
// one transaction per change.
type TaskWriter interface {
	// CreateTask stores a new task. With a key: a replay of the same key and
	// request returns the stored task and replayed=true; the same key with a
	// different request fails with domain.ErrIdempotencyConflict.
	CreateTask(ctx context.Context, t *domain.Task, key *IdempotencyKey) (stored *domain.Task, replayed bool, err error)
	// UpdateTask loads a task (locked for the transaction), lets fn decide and
	// writes the task and its side effects atomically. A task changed by
	// someone else in between fails with domain.ErrVersionConflict.
	UpdateTask(ctx context.Context, id string, fn UpdateFunc) error
	// UpdateTaskAt is UpdateTask for a task the caller has just read: fn
	// decides on t without a transaction open, and its changes are written
	// with the same guarantees (one transaction, compare-and-set on t's
	// version) only if the task is still at t's version, so that a decision
	// on a stale read is never written. A changed task fails with
	// domain.ErrVersionConflict and nothing is written; callers then use
	// UpdateTask. On success t is at its new version.
	UpdateTaskAt(ctx context.Context, t *domain.Task, fn UpdateFunc) error
}

// TaskClaimer hands due tasks to one dispatcher at a time.
type TaskClaimer interface {
	// ClaimDue leases the next due tasks under q's rules (§11): up to
	// q.Limit pending tasks that are due and have no open attempt, no more
	// than q.Capacity running attempts in all, shared between accounts by
	// domain.FairShare from the database's counts, read in the claim's own
	// transaction (claims are serialised, so replicas never decide on the
	// same counts); within an account highest priority then oldest first.
	// Concurrent claimers never get the same task. When open is not nil,
	// each claimed task is also decided by it and written with its changes
	// in the same transaction (the dispatcher opens the attempt there); a
	// task open refuses stays leased and unchanged, and is not returned.
	ClaimDue(ctx context.Context, q ClaimQuery, open UpdateFunc) ([]*domain.Task, error)
}

// StaleTasks finds the tasks the reconciler must ask content-creator about.
type StaleTasks interface {
	// FindStale returns active tasks not heard from since q.HeardBefore or past
	// their deadline, and pending tasks whose open attempt's lease expired.
	FindStale(ctx context.Context, q StaleQuery) ([]*domain.Task, error)
	// MarkPolled records, in one statement, that the reconciler asked
	// content-creator about these tasks at the given time. FindStale returns
	// the least recently polled first, so quiet tasks take turns.
	MarkPolled(ctx context.Context, ids []string, at time.Time) error
	// ObserveProgress records what content-creator reports of an attempt's
	// progress (mark: its state, progress and update time as one opaque
	// string) as seen at at, and returns since when the attempt has reported
	// that mark: at when it differs from the mark stored (or none is), else
	// the time stored with it. The lost-run rule (SERVICE.md §14) measures a
	// stall from it. It changes neither the task nor its version; an unknown
	// attempt is domain.ErrNotFound.
	ObserveProgress(ctx context.Context, taskID string, attempt int, mark string, at time.Time) (since time.Time, err error)
}

// DeliveryLog is the audit log of callback deliveries.
type DeliveryLog interface {
	// RecordDelivery stores an audit record outside a task update (rejected
	// or ignored deliveries). A duplicate DeliveryID → domain.ErrDuplicateDelivery.
	// Rejected deliveries are bounded: at most one is stored per task, reason
	// and time window (the adapter's), so a flood cannot grow the table.
	RecordDelivery(ctx context.Context, d domain.Delivery) error
	// HasDelivery reports whether an accepted delivery with this id was recorded.
	HasDelivery(ctx context.Context, taskID, deliveryID string) (bool, error)
	// ListDeliveries returns a task's delivery log, oldest first.
	ListDeliveries(ctx context.Context, taskID string) ([]domain.Delivery, error)
}

// TaskReader is the read model: tasks, contents and the publish pool as
// they are stored.
type TaskReader interface {
	// GetTask returns a task with its attempts, or domain.ErrNotFound.
	GetTask(ctx context.Context, id string) (*domain.Task, error)
	// GetTaskAndDelivery is GetTask that also reports, in the same read,
	// whether an accepted delivery with deliveryID was recorded for the task
	// (false for ""): a callback's cheapest duplicate check.
	GetTaskAndDelivery(ctx context.Context, id, deliveryID string) (*domain.Task, bool, error)
	// ListTasks returns tasks newest first.
	ListTasks(ctx context.Context, q TaskQuery) (TaskPage, error)
	// GetContent returns content by id, or domain.ErrNotFound.
	GetContent(ctx context.Context, id string) (domain.Content, error)
	// ListPoolItems returns publish-pool entries, highest priority first,
	// each with its article's title.
	ListPoolItems(ctx context.Context, q PoolQuery) ([]PoolItem, error)
}

// TaskStore is every role at once: what one storage adapter implements and
// bootstrap hands out role by role.
type TaskStore interface {
	TaskWriter
	TaskClaimer
	StaleTasks
	DeliveryLog
	TaskReader
}

// PoolQuery filters the publish pool.
type PoolQuery struct {
	Status domain.PoolStatus // "" = any
	Limit  int
}

// PoolItem is a publish-pool entry as people read it: with the title of the
// article it queues.
type PoolItem struct {
	Entry domain.PoolEntry
	Title string
}

// Health reports whether storage can serve.
type Health interface {
	// Ready fails when the database is unreachable or migrations are missing.
	Ready(ctx context.Context) error
}
