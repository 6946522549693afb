package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
)

var reviewAt = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func pendingContent() domain.Content {
	return domain.Content{
		ID: "content-1", TaskID: "task-1", AccountID: 9, Title: "边缘计算", ReviewStatus: domain.ReviewPending,
		TaskPriority: 7, CreatedAt: reviewAt.Add(-time.Hour),
	}
}

// TestReviewTable walks every cell of the review table: which moves change
// the content, which repeat as no-ops and which are refused.
func TestReviewTable(t *testing.T) {
	approve := func(c *domain.Content) (domain.ReviewOutcome, error) {
		return c.Approve(domain.Approval{Reviewer: "王编辑", Note: "好", PoolEntryID: "pool-1"}, reviewAt)
	}
	reject := func(c *domain.Content) (domain.ReviewOutcome, error) {
		return c.Reject(domain.Rejection{Reviewer: "王编辑", Reason: "事实错误"}, reviewAt)
	}
	cases := []struct {
		from    domain.ReviewStatus
		move    func(*domain.Content) (domain.ReviewOutcome, error)
		name    string
		changed bool
		refused bool
		to      domain.ReviewStatus
	}{
		{domain.ReviewPending, approve, "approve pending", true, false, domain.ReviewApproved},
		{domain.ReviewPending, reject, "reject pending", true, false, domain.ReviewRejected},
		{domain.ReviewApproved, approve, "approve approved", false, false, domain.ReviewApproved},
		{domain.ReviewApproved, reject, "reject approved", false, true, domain.ReviewApproved},
		{domain.ReviewRejected, reject, "reject rejected", false, false, domain.ReviewRejected},
		{domain.ReviewRejected, approve, "approve rejected", false, true, domain.ReviewRejected},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := pendingContent()
			c.ReviewStatus = tc.from
			before := c
			out, err := tc.move(&c)
			if tc.refused {
				require.ErrorIs(t, err, domain.ErrConflict)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.changed, out.Changed)
			require.Equal(t, tc.to, c.ReviewStatus)
			if !tc.changed {
				require.Equal(t, before, c, "a refused or repeated move leaves the content as it was")
				require.Nil(t, out.PoolEntry)
				require.Nil(t, out.Announcement)
			}
		})
	}
}

func TestApproveQueuesTheContent(t *testing.T) {
	t.Run("defaults: the task's priority, scheduled now", func(t *testing.T) {
		c := pendingContent()
		out, err := c.Approve(domain.Approval{Reviewer: "li", Note: "ok", PoolEntryID: "pool-9"}, reviewAt)
		require.NoError(t, err)
		require.Equal(t, &domain.PoolEntry{
			ID: "pool-9", ContentID: "content-1", TaskID: "task-1", AccountID: 9, Priority: 7,
			Status: domain.PoolPending, ScheduledAt: reviewAt, AvailableAt: reviewAt,
			MaxRetries: 3, CreatedAt: reviewAt, UpdatedAt: reviewAt,
		}, out.PoolEntry)
		require.Equal(t, domain.ReviewApproved, c.ReviewStatus)
		require.Equal(t, reviewAt, c.ReviewedAt)
		require.Equal(t, "li", c.Reviewer)
		require.Equal(t, "ok", c.ReviewNote)
		require.Equal(t, "pool-9", c.PoolEntryID)
		require.Equal(t, &domain.Announcement{
			Event: domain.EventContentApproved, At: reviewAt, AccountID: 9, TaskID: "task-1",
			ContentID: "content-1", PoolEntryID: "pool-9", Reviewer: "li",
		}, out.Announcement)
	})
	t.Run("priority and schedule given", func(t *testing.T) {
		c := pendingContent()
		later := reviewAt.Add(3 * time.Hour)
		out, err := c.Approve(domain.Approval{Priority: 2, ScheduledAt: later, PoolEntryID: "pool-2"}, reviewAt)
		require.NoError(t, err)
		require.Equal(t, 2, out.PoolEntry.Priority)
		require.Equal(t, later, out.PoolEntry.ScheduledAt)
		require.Equal(t, later, out.PoolEntry.AvailableAt)
	})
}

func TestReviewRefusesBadInput(t *testing.T) {
	long := strings.Repeat("长", domain.MaxReviewReason+1)
	cases := []struct {
		name  string
		move  func(*domain.Content) error
		field string
	}{
		{"reason missing", func(c *domain.Content) error { _, err := c.Reject(domain.Rejection{}, reviewAt); return err }, "reason"},
		{"reason blank", func(c *domain.Content) error {
			_, err := c.Reject(domain.Rejection{Reason: " \n\t"}, reviewAt)
			return err
		}, "reason"},
		{"reason over 1000 characters", func(c *domain.Content) error {
			_, err := c.Reject(domain.Rejection{Reason: long}, reviewAt)
			return err
		}, "reason"},
		{"reviewer too long", func(c *domain.Content) error {
			_, err := c.Reject(domain.Rejection{Reason: "x", Reviewer: strings.Repeat("a", 101)}, reviewAt)
			return err
		}, "reviewer"},
		{"priority out of range", func(c *domain.Content) error {
			_, err := c.Approve(domain.Approval{Priority: 11, PoolEntryID: "p"}, reviewAt)
			return err
		}, "priority"},
		{"note too long", func(c *domain.Content) error {
			_, err := c.Approve(domain.Approval{Note: long, PoolEntryID: "p"}, reviewAt)
			return err
		}, "note"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := pendingContent()
			before := c
			err := tc.move(&c)
			var ve *domain.ValidationError
			require.True(t, errors.As(err, &ve), "%v", err)
			require.Equal(t, tc.field, ve.Field)
			require.Equal(t, before, c)
		})
	}
	// 1,000 characters of Chinese is within bounds.
	c := pendingContent()
	_, err := c.Reject(domain.Rejection{Reason: strings.Repeat("长", domain.MaxReviewReason)}, reviewAt)
	require.NoError(t, err)
}
