package domain

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// ReviewerAuto is the reviewer of content whose task was auto-approved.
const ReviewerAuto = "auto"

// Bounds of what a reviewer writes (§15).
const (
	MaxReviewReason = 1000 // characters of a rejection's reason (required, at least 1)
	MaxReviewNote   = 1000 // characters of an approval's note
	MaxReviewer     = 100  // characters of a reviewer's name
)

// ReviewAction is what a reviewer does to a content.
type ReviewAction string

const (
	ReviewApprove ReviewAction = "approve"
	ReviewReject  ReviewAction = "reject"
)

// reviewMove is what a cell of the review table does.
type reviewMove int

const (
	reviewRefuse reviewMove = iota // a move from the wrong state: ErrConflict
	reviewRepeat                   // the same move again: acknowledged, nothing changes
	reviewApproveMove
	reviewRejectMove
)

// reviewMoves is §15's review as data: only pending_review content moves; the
// same move repeated is a no-op; approve after reject (and the reverse) is
// refused. Content.Approve and Content.Reject are its only readers.
var reviewMoves = map[ReviewStatus]map[ReviewAction]reviewMove{
	ReviewPending:  {ReviewApprove: reviewApproveMove, ReviewReject: reviewRejectMove},
	ReviewApproved: {ReviewApprove: reviewRepeat, ReviewReject: reviewRefuse},
	ReviewRejected: {ReviewApprove: reviewRefuse, ReviewReject: reviewRepeat},
}

// Approval is a reviewer's approve request.
type Approval struct {
	Reviewer string
	Note     string
	// ScheduledAt is when the entry may be published; zero means now.
	ScheduledAt time.Time
	// Priority of the pool entry, 1–10; 0 means the task's.
	Priority int
	// PoolEntryID is the id the new entry gets; the caller generates it so
	// the move stays deterministic.
	PoolEntryID string
}

// Validate names the first field of a that is out of bounds.
func (a Approval) Validate() error {
	if err := checkReviewer(a.Reviewer); err != nil {
		return err
	}
	if utf8.RuneCountInString(a.Note) > MaxReviewNote {
		return invalid("note", "must be at most %d characters", MaxReviewNote)
	}
	if a.Priority != 0 && (a.Priority < MinPriority || a.Priority > MaxPriority) {
		return invalid("priority", "must be between %d and %d", MinPriority, MaxPriority)
	}
	return nil
}

// Rejection is a reviewer's reject request.
type Rejection struct {
	Reviewer string
	Reason   string
}

// Validate names the first field of r that is missing or out of bounds.
func (r Rejection) Validate() error {
	n := utf8.RuneCountInString(r.Reason)
	if strings.TrimSpace(r.Reason) == "" {
		return invalid("reason", "is required (1–%d characters)", MaxReviewReason)
	}
	if n > MaxReviewReason {
		return invalid("reason", "must be at most %d characters", MaxReviewReason)
	}
	return checkReviewer(r.Reviewer)
}

func checkReviewer(name string) error {
	if utf8.RuneCountInString(name) > MaxReviewer {
		return invalid("reviewer", "must be at most %d characters", MaxReviewer)
	}
	return nil
}

// ReviewOutcome is what a review move decided. Changed false means the
// move repeated one already made: nothing is to be written.
type ReviewOutcome struct {
	Changed      bool
	PoolEntry    *PoolEntry    // to insert with the content (approve)
	Announcement *Announcement // to write with the change (§15 notifications)
}

// Approve moves pending_review content to approved and queues it: the
// returned pool entry is to be written in the same transaction. Approving
// approved content again is a no-op; approving rejected content is
// ErrConflict.
func (c *Content) Approve(a Approval, at time.Time) (ReviewOutcome, error) {
	if err := a.Validate(); err != nil {
		return ReviewOutcome{}, err
	}
	if err := c.reviewMove(ReviewApprove); err != nil || c.ReviewStatus == ReviewApproved {
		return ReviewOutcome{}, err
	}
	at = at.UTC()
	priority := a.Priority
	if priority == 0 {
		priority = c.TaskPriority
	}
	scheduled := a.ScheduledAt.UTC()
	if a.ScheduledAt.IsZero() {
		scheduled = at
	}
	entry := NewPoolEntry(a.PoolEntryID, *c, priority, scheduled, at)
	c.ReviewStatus, c.ReviewedAt, c.Reviewer, c.ReviewNote = ReviewApproved, at, a.Reviewer, a.Note
	c.PoolEntryID = entry.ID
	return ReviewOutcome{Changed: true, PoolEntry: &entry, Announcement: &Announcement{
		Event: EventContentApproved, At: at, AccountID: c.AccountID, TaskID: c.TaskID, ContentID: c.ID,
		PoolEntryID: entry.ID, Reviewer: a.Reviewer,
	}}, nil
}

// Reject moves pending_review content to rejected; it never enters the
// pool. Rejecting rejected content again is a no-op; rejecting approved
// content is ErrConflict.
func (c *Content) Reject(r Rejection, at time.Time) (ReviewOutcome, error) {
	if err := r.Validate(); err != nil {
		return ReviewOutcome{}, err
	}
	if err := c.reviewMove(ReviewReject); err != nil || c.ReviewStatus == ReviewRejected {
		return ReviewOutcome{}, err
	}
	at = at.UTC()
	c.ReviewStatus, c.ReviewedAt, c.Reviewer, c.ReviewNote = ReviewRejected, at, r.Reviewer, r.Reason
	return ReviewOutcome{Changed: true, Announcement: &Announcement{
		Event: EventContentRejected, At: at, AccountID: c.AccountID, TaskID: c.TaskID, ContentID: c.ID,
		Reviewer: r.Reviewer, Reason: r.Reason,
	}}, nil
}

// reviewMove reads the table: nil for a move to make or a repeat, ErrConflict
// (wrapped) for a move from the wrong state.
func (c *Content) reviewMove(action ReviewAction) error {
	row, ok := reviewMoves[c.ReviewStatus]
	if !ok {
		return fmt.Errorf("content %s has unknown review status %q", c.ID, c.ReviewStatus)
	}
	if row[action] == reviewRefuse {
		return fmt.Errorf("%s %s content %s: %w", action, c.ReviewStatus, c.ID, ErrConflict)
	}
	return nil
}
