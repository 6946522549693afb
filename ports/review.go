package ports

//go:generate go tool mockgen -typed -source=review.go -destination=mocks/review.go -package=mocks

import (
	"context"
	"time"

	"contenthub/domain"
)

// ContentQuery filters and pages the contents list (the review queue),
// newest first.
type ContentQuery struct {
	ReviewStatus domain.ReviewStatus // "" = any
	AccountID    int64               // 0 = any
	TaskID       string              // "" = any
	Limit        int
	Cursor       string // opaque, from a previous page
}

// ContentPage is one page of contents.
type ContentPage struct {
	Items      []domain.Content
	NextCursor string // "" on the last page
}

// ReviewChanges are what a review move writes, in one transaction with the
// content itself.
type ReviewChanges struct {
	SaveContent bool              // write the content's review fields
	PoolEntry   *domain.PoolEntry // insert (approve)
	// Notify is the outbox (§13, §15): the change's notification, fanned out
	// to one message per subscribed enabled endpoint in the same
	// transaction. nil: the move announces nothing.
	Notify *domain.Notification
}

// ReviewFunc decides a review move on the content as stored (locked for the
// transaction). Returning an error rolls everything back and is returned
// unchanged.
type ReviewFunc func(c *domain.Content) (ReviewChanges, error)

// ContentReview keeps the review of contents (§15).
type ContentReview interface {
	// ListContents returns contents newest first. A malformed cursor is an
	// error wrapping *domain.ValidationError.
	ListContents(ctx context.Context, q ContentQuery) (ContentPage, error)
	// ReviewContent loads a content (locked for the transaction), lets fn
	// decide, and writes the content and its changes atomically; it returns
	// the content as it is afterwards. Unknown → domain.ErrNotFound.
	ReviewContent(ctx context.Context, id string, fn ReviewFunc) (domain.Content, error)
}

// PoolEntryQuery filters the publish pool for people and publishers reading it.
type PoolEntryQuery struct {
	Status    domain.PoolStatus // "" = any
	AccountID int64             // 0 = any
	Limit     int
}

// PoolCounts are the number of entries per status.
type PoolCounts map[domain.PoolStatus]int

// PoolClaimQuery asks for due pending entries, leased to claim.
type PoolClaimQuery struct {
	Claim     domain.Claim
	Limit     int
	AccountID int64 // 0 = any
}

// PoolChanges are what a publisher's move writes, in one transaction with
// the entry.
type PoolChanges struct {
	SaveEntry bool
	Notify    *domain.Notification // as in ReviewChanges
}

// PoolUpdateFunc decides a move on the entry as stored (locked for the
// transaction).
type PoolUpdateFunc func(e *domain.PoolEntry) (PoolChanges, error)

// PublishPool keeps the publish pool for publishers (§15).
type PublishPool interface {
	// ListPoolEntries returns entries with their titles in claim order
	// (priority desc, then scheduled_at).
	ListPoolEntries(ctx context.Context, q PoolEntryQuery) ([]PoolItem, error)
	// CountPool counts entries per status (of one account; 0 = all).
	CountPool(ctx context.Context, accountID int64) (PoolCounts, error)
	// GetPoolEntry returns one entry with its title, or domain.ErrNotFound.
	GetPoolEntry(ctx context.Context, id string) (PoolItem, error)
	// ClaimPool leases up to q.Limit due pending entries (available_at ≤ the
	// claim's time) in claim order to q.Claim; concurrent claimers, on any
	// replica, never get the same entry.
	ClaimPool(ctx context.Context, q PoolClaimQuery) ([]domain.PoolEntry, error)
	// UpdatePoolEntry loads an entry (locked for the transaction), lets fn
	// decide, and writes it; it returns the entry as it is afterwards.
	UpdatePoolEntry(ctx context.Context, id string, fn PoolUpdateFunc) (domain.PoolEntry, error)
	// ReleaseExpiredLeases returns every claimed entry whose lease ended at or
	// before now to pending (domain.PoolEntry.ReleaseExpired), in one statement.
	ReleaseExpiredLeases(ctx context.Context, now time.Time) (int, error)
}

// TaskCounts are the number of tasks per status.
type TaskCounts map[domain.Status]int

// TaskCounter counts tasks for the task list's totals.
type TaskCounter interface {
	// CountTasks counts tasks per status (of one account; 0 = all).
	CountTasks(ctx context.Context, accountID int64) (TaskCounts, error)
}
