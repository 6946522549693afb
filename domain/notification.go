package domain

import "time"

// NotificationType names an outbound event (§13, §15).
type NotificationType string

// The events of the review and the publish pool (§15). A publication that
// fails and will be retried sends nothing, like a task's retried attempt.
const (
	NotifyContentApproved NotificationType = "content.approved"
	NotifyContentRejected NotificationType = "content.rejected"
	NotifyPoolPublished   NotificationType = "pool.published"
	NotifyPoolFailed      NotificationType = "pool.failed"
)

// Announcement is an outbound event a change causes, decided by the move
// that makes the change and written with it in the same transaction. It is
// thin: receivers fetch the content or the entry for more.
type Announcement struct {
	Type        NotificationType
	At          time.Time
	AccountID   int64
	TaskID      string
	ContentID   string
	PoolEntryID string
	Reviewer    string // content.*
	Reason      string // content.rejected
	URL         string // pool.published
	PlatformID  string // pool.published
	Error       string // pool.failed
	RetryCount  int    // pool.failed
}
