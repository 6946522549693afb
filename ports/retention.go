package ports

//go:generate go tool mockgen -typed -source=retention.go -destination=mocks/retention.go -package=mocks

import (
	"context"
	"time"
)

// RetentionQuery selects the finished tasks retention may delete.
type RetentionQuery struct {
	Before time.Time // terminal tasks last changed before this
	Limit  int       // tasks per batch (one transaction)
}

// RetentionCount is what a purge deleted, or would delete.
type RetentionCount struct {
	Tasks           int64
	Attempts        int64
	Deliveries      int64
	Contents        int64 // contents not in the publish pool
	IdempotencyKeys int64
}

// Add returns the sum of two counts.
func (c RetentionCount) Add(o RetentionCount) RetentionCount {
	return RetentionCount{
		Tasks: c.Tasks + o.Tasks, Attempts: c.Attempts + o.Attempts, Deliveries: c.Deliveries + o.Deliveries,
		Contents: c.Contents + o.Contents, IdempotencyKeys: c.IdempotencyKeys + o.IdempotencyKeys,
	}
}

// TaskRetention deletes finished tasks with every row that belongs to them.
// A task is eligible when it is terminal (completed, failed, timeout,
// cancelled), was last changed before the query's time,
// and has no publish-pool entry: an active task and a content in the pool
// are never touched.
type TaskRetention interface {
	// PurgeTerminal deletes up to q.Limit eligible tasks, oldest first, in
	// one transaction, with their attempts, deliveries, contents and
	// idempotency keys. Fewer than q.Limit tasks deleted means none is left.
	// Concurrent callers (replicas) never delete the same task twice.
	PurgeTerminal(ctx context.Context, q RetentionQuery) (RetentionCount, error)
	// CountTerminal counts what purging every eligible task would delete,
	// deleting nothing (a dry run).
	CountTerminal(ctx context.Context, before time.Time) (RetentionCount, error)
}
