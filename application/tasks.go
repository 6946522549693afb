package application

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"contenthub/domain"
	"contenthub/ports"
)

// CreateTaskInput is a client's request for an article. Create assigns
// the task id; NewTaskParams.ID is ignored.
type CreateTaskInput struct {
	domain.NewTaskParams
	IdempotencyKey string
}

// Tasks are the task API's use cases (§5).
type Tasks struct {
	deps    Deps
	creator ports.ContentCreator
	wakeup  *Wakeup
}

// NewTasks builds the task use cases; creator is asked to stop cancelled work.
func NewTasks(deps Deps, creator ports.ContentCreator, wakeup *Wakeup) *Tasks {
	return &Tasks{deps: deps, creator: creator, wakeup: wakeup}
}

// Create validates and stores a task; submission happens asynchronously.
// With an idempotency key, the same request returns the stored task
// (replayed) and another request fails with domain.ErrIdempotencyConflict.
func (u *Tasks) Create(ctx context.Context, in CreateTaskInput) (*domain.Task, bool, error) {
	params := in.NewTaskParams
	params.ID = u.deps.IDs.NewID("task")
	task, err := domain.NewTask(params, u.deps.now())
	if err != nil {
		return nil, false, err
	}
	var key *ports.IdempotencyKey
	if in.IdempotencyKey != "" {
		key = &ports.IdempotencyKey{Key: in.IdempotencyKey, RequestHash: requestHash(task)}
	}
	stored, replayed, err := u.deps.Store.CreateTask(ctx, task, key)
	switch {
	case errors.Is(err, domain.ErrIdempotencyConflict):
		return nil, false, err
	case err != nil:
		return nil, false, unavailable("create task", err)
	}
	if !replayed {
		u.deps.applied(ctx, domain.Event{Source: domain.SourceAPI, At: stored.CreatedAt()}, stored,
			domain.Outcome{From: "", To: domain.StatusPending, Changed: true})
		u.wakeup.Notify()
	}
	return stored, replayed, nil
}

// requestHash fingerprints a create request for Idempotency-Key
// comparisons from the validated task, defaults applied: key order,
// spacing, and spelling out a default do not make a request different.
func requestHash(t *domain.Task) string {
	b, _ := json.Marshal(struct {
		AccountID    int64
		Topic        string
		Keywords     []string
		Category     string
		Requirements string
		Tone         string
		Priority     int
		AutoApprove  bool
		MaxAttempts  int
	}{t.AccountID(), t.Topic(), t.Keywords(), t.Category(), t.Requirements(), t.Tone(), t.Priority(), t.AutoApprove(), t.MaxAttempts()})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Get returns a task with its attempts.
func (u *Tasks) Get(ctx context.Context, id string) (*domain.Task, error) {
	if !domain.ValidTaskID(id) {
		return nil, fmt.Errorf("task %q: %w", id, domain.ErrNotFound)
	}
	t, err := u.deps.Reader.GetTask(ctx, id)
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return nil, unavailable("get task", err)
	}
	return t, err
}

// List pages through tasks, newest first.
func (u *Tasks) List(ctx context.Context, q ports.TaskQuery) (ports.TaskPage, error) {
	if q.Status != "" && !q.Status.Valid() {
		return ports.TaskPage{}, &domain.ValidationError{Field: "status", Message: "unknown status"}
	}
	if q.Limit < 0 || q.Limit > 200 {
		return ports.TaskPage{}, &domain.ValidationError{Field: "limit", Message: "must be between 1 and 200"}
	}
	if q.Limit == 0 {
		q.Limit = 50
	}
	page, err := u.deps.Reader.ListTasks(ctx, q)
	var ve *domain.ValidationError
	if err != nil && !errors.As(err, &ve) {
		return page, unavailable("list tasks", err)
	}
	return page, err
}

// Cancel stops a task that has not ended and asks content-creator to stop
// its attempt. A task that already ended is a domain.ErrConflict.
func (u *Tasks) Cancel(ctx context.Context, id string) (*domain.Task, error) {
	t, out, err := u.operate(ctx, id, domain.EventCancel)
	if err != nil {
		return nil, err
	}
	stopAbandoned(ctx, u.creator, u.deps.Log.With(zap.String("task_id", id)), out)
	return t, nil
}

// Retry opens a new attempt for a failed, timed-out or cancelled task.
func (u *Tasks) Retry(ctx context.Context, id string) (*domain.Task, error) {
	t, _, err := u.operate(ctx, id, domain.EventRetry)
	if err != nil {
		return nil, err
	}
	u.wakeup.Notify()
	return t, nil
}

func (u *Tasks) operate(ctx context.Context, id string, kind domain.EventKind) (*domain.Task, domain.Outcome, error) {
	if !domain.ValidTaskID(id) {
		return nil, domain.Outcome{}, fmt.Errorf("task %q: %w", id, domain.ErrNotFound)
	}
	out, task, err := u.deps.applyEvent(ctx, id, domain.Event{Kind: kind, Source: domain.SourceAPI, At: u.deps.now()}, nil)
	switch {
	case errors.Is(err, domain.ErrNotFound), errors.Is(err, domain.ErrConflict):
		return nil, out, err
	case err != nil:
		return nil, out, unavailable(string(kind)+" task", err)
	}
	return task, out, nil
}

// Deliveries returns a task's callback log.
func (u *Tasks) Deliveries(ctx context.Context, id string) ([]domain.Delivery, error) {
	ds, err := u.deps.Deliveries.ListDeliveries(ctx, id)
	if err != nil {
		return nil, unavailable("list deliveries", err)
	}
	return ds, nil
}

// Content returns a content record.
func (u *Tasks) Content(ctx context.Context, id string) (domain.Content, error) {
	c, err := u.deps.Reader.GetContent(ctx, id)
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return c, unavailable("get content", err)
	}
	return c, err
}
