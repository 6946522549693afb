package application

import (
	"context"
	"errors"
	"fmt"

	"contenthub/domain"
	"contenthub/ports"
)

// Reviews are the review use cases (§15): the review queue, approve and
// reject. Every move goes through domain.Content's review table, in one
// store transaction with the pool entry an approval makes.
type Reviews struct {
	deps  Deps
	store ports.ContentReview
}

// NewReviews builds the review use cases on the store's review port.
func NewReviews(deps Deps, store ports.ContentReview) *Reviews {
	return &Reviews{deps: deps, store: store}
}

// List pages through contents, newest first; q.Limit 0 means 50, at most 200.
func (u *Reviews) List(ctx context.Context, q ports.ContentQuery) (ports.ContentPage, error) {
	if q.ReviewStatus != "" && !q.ReviewStatus.Valid() {
		return ports.ContentPage{}, &domain.ValidationError{Field: "review_status", Message: "must be pending_review, approved or rejected"}
	}
	if q.Limit < 0 || q.Limit > 200 {
		return ports.ContentPage{}, &domain.ValidationError{Field: "limit", Message: "must be between 1 and 200"}
	}
	if q.TaskID != "" && !domain.ValidTaskID(q.TaskID) {
		return ports.ContentPage{}, &domain.ValidationError{Field: "task_id", Message: "is not a task id"}
	}
	if q.Limit == 0 {
		q.Limit = 50
	}
	page, err := u.store.ListContents(ctx, q)
	var ve *domain.ValidationError
	if err != nil && !errors.As(err, &ve) {
		return page, unavailable("list contents", err)
	}
	return page, err
}

// Approve approves pending_review content and queues it for publishing;
// approving it again is a no-op, approving rejected content a
// domain.ErrConflict.
func (u *Reviews) Approve(ctx context.Context, id string, a domain.Approval) (domain.Content, error) {
	a.PoolEntryID = u.deps.IDs.NewID("pool")
	if err := a.Validate(); err != nil { // refused before anything is read
		return domain.Content{}, err
	}
	now := u.deps.now()
	return u.review(ctx, id, func(c *domain.Content) (domain.ReviewOutcome, error) { return c.Approve(a, now) })
}

// Reject rejects pending_review content with a reason; rejecting it again is
// a no-op, rejecting approved content a domain.ErrConflict.
func (u *Reviews) Reject(ctx context.Context, id string, r domain.Rejection) (domain.Content, error) {
	if err := r.Validate(); err != nil {
		return domain.Content{}, err
	}
	now := u.deps.now()
	return u.review(ctx, id, func(c *domain.Content) (domain.ReviewOutcome, error) { return c.Reject(r, now) })
}

func (u *Reviews) review(ctx context.Context, id string, move func(*domain.Content) (domain.ReviewOutcome, error)) (domain.Content, error) {
	if !domain.ValidTaskID(id) {
		return domain.Content{}, fmt.Errorf("content %q: %w", id, domain.ErrNotFound)
	}
	c, err := u.store.ReviewContent(ctx, id, func(c *domain.Content) (ports.ReviewChanges, error) {
		out, err := move(c)
		if err != nil {
			return ports.ReviewChanges{}, err
		}
		return ports.ReviewChanges{SaveContent: out.Changed, PoolEntry: out.PoolEntry, Notify: u.deps.outbox(out.Announcement)}, nil
	})
	var ve *domain.ValidationError
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, domain.ErrNotFound), errors.Is(err, domain.ErrConflict), errors.As(err, &ve):
		return domain.Content{}, err
	}
	return domain.Content{}, unavailable("review content", err)
}

// TaskCounts count tasks per status for the task list's totals.
type TaskCounts struct {
	counter ports.TaskCounter
}

// NewTaskCounts builds the task counts on the store's counter.
func NewTaskCounts(counter ports.TaskCounter) *TaskCounts { return &TaskCounts{counter: counter} }

// Count counts the tasks of an account (0: of all) per status.
func (u *TaskCounts) Count(ctx context.Context, accountID int64) (ports.TaskCounts, error) {
	counts, err := u.counter.CountTasks(ctx, accountID)
	if err != nil {
		return nil, unavailable("count tasks", err)
	}
	return counts, nil
}
