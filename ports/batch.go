package ports

//go:generate go tool mockgen -typed -source=batch.go -destination=mocks/batch.go -package=mocks

import (
	"context"

	"contenthub/domain"
)

// TaskBatches stores many new tasks at once (§11 batch create).
type TaskBatches interface {
	// CreateTasks stores every task in one transaction, or none. With a key
	// it works as CreateTask's: a replay of the same key and request returns
	// the stored tasks, in the batch's order, and replayed=true; the same key
	// with a different request fails with domain.ErrIdempotencyConflict.
	CreateTasks(ctx context.Context, tasks []*domain.Task, key *IdempotencyKey) (stored []*domain.Task, replayed bool, err error)
}
