package application

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"contenthub/domain"
	"contenthub/ports"
)

// MaxBatchTasks is the most tasks one batch may create (§11).
const MaxBatchTasks = 500

// BatchItemError is why one item of a batch was refused.
type BatchItemError struct {
	Index   int // 0-based position in the batch
	Field   string
	Message string
}

// BatchError refuses a whole batch: every invalid item, by index.
type BatchError struct{ Items []BatchItemError }

func (e *BatchError) Error() string {
	parts := make([]string, len(e.Items))
	for i, it := range e.Items {
		parts[i] = fmt.Sprintf("tasks[%d].%s: %s", it.Index, it.Field, it.Message)
	}
	return "invalid batch: " + strings.Join(parts, "; ")
}

// Batches create many tasks at once, all or nothing (§11).
type Batches struct {
	deps   Deps
	store  ports.TaskBatches
	wakeup *Wakeup
}

// NewBatches builds the batch use case.
func NewBatches(deps Deps, store ports.TaskBatches, wakeup *Wakeup) *Batches {
	return &Batches{deps: deps, store: store, wakeup: wakeup}
}

// Create validates every item and stores them in one transaction, or none.
// Items that failed to decode come in as refused (their index and field);
// any refused or invalid item refuses the batch with a *BatchError naming
// them all. An empty or oversized batch is a *domain.ValidationError on
// "tasks". With an idempotency key, the same batch returns the stored tasks
// (replayed) and another fails with domain.ErrIdempotencyConflict. The
// dispatcher is woken once.
func (u *Batches) Create(ctx context.Context, params []domain.NewTaskParams, refused []BatchItemError, idempotencyKey string) ([]*domain.Task, bool, error) {
	switch n := len(params); {
	case n == 0:
		return nil, false, &domain.ValidationError{Field: "tasks", Message: "must hold at least one task"}
	case n > MaxBatchTasks:
		return nil, false, &domain.ValidationError{Field: "tasks", Message: fmt.Sprintf("must hold at most %d tasks", MaxBatchTasks)}
	}
	bad := map[int]bool{}
	errs := append([]BatchItemError(nil), refused...)
	for _, r := range refused {
		bad[r.Index] = true
	}
	now := u.deps.now()
	tasks := make([]*domain.Task, 0, len(params))
	h := sha256.New()
	for i, p := range params {
		if bad[i] {
			continue
		}
		p.ID = u.deps.IDs.NewID("task")
		t, err := domain.NewTask(p, now)
		var ve *domain.ValidationError
		switch {
		case errors.As(err, &ve):
			errs = append(errs, BatchItemError{Index: i, Field: ve.Field, Message: ve.Message})
			continue
		case err != nil:
			return nil, false, err
		}
		tasks = append(tasks, t)
		h.Write([]byte(requestHash(t)))
	}
	if len(errs) > 0 {
		sortItemErrors(errs)
		return nil, false, &BatchError{Items: errs}
	}
	var key *ports.IdempotencyKey
	if idempotencyKey != "" {
		key = &ports.IdempotencyKey{Key: idempotencyKey, RequestHash: "batch:" + hex.EncodeToString(h.Sum(nil))}
	}
	stored, replayed, err := u.store.CreateTasks(ctx, tasks, key)
	switch {
	case errors.Is(err, domain.ErrIdempotencyConflict):
		return nil, false, err
	case err != nil:
		return nil, false, unavailable("create batch", err)
	}
	if !replayed {
		for _, t := range stored {
			u.deps.applied(ctx, domain.Event{Source: domain.SourceAPI, At: t.CreatedAt()}, t, domain.Outcome{From: "", To: domain.StatusPending, Changed: true})
		}
		u.wakeup.Notify()
	}
	return stored, replayed, nil
}

func sortItemErrors(errs []BatchItemError) {
	for i := 1; i < len(errs); i++ { // few, nearly sorted
		for j := i; j > 0 && errs[j].Index < errs[j-1].Index; j-- {
			errs[j], errs[j-1] = errs[j-1], errs[j]
		}
	}
}
