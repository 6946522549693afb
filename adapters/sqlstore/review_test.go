package sqlstore_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
	"contenthub/ports"
)

// awaitingReview stores a task that is not auto-approved and completes it:
// its content waits for review. It returns the content's id.
func awaitingReview(t testing.TB, s *sqlstore.Store, n int, at time.Time, opts ...taskOption) string {
	t.Helper()
	ctx := t.Context()
	id := fmt.Sprintf("task-review-%d", n)
	_, _, err := s.CreateTask(ctx, submitted(t, id, at, append([]taskOption{autoApprove(false)}, opts...)...), nil)
	require.NoError(t, err)
	var contentID string
	require.NoError(t, s.UpdateTask(ctx, id, func(tk *domain.Task) (ports.TaskChanges, error) {
		out, err := tk.Apply(completedEv(at.Add(time.Second), 1, n), rules)
		require.NoError(t, err)
		require.Nil(t, out.PoolEntry, "a task that is not auto-approved makes no pool entry")
		contentID = out.Content.ID
		return ports.TaskChanges{SaveTask: true, Content: out.Content}, nil
	}))
	return contentID
}

func approveFn(a domain.Approval, at time.Time) ports.ReviewFunc {
	return func(c *domain.Content) (ports.ReviewChanges, error) {
		out, err := c.Approve(a, at)
		if err != nil {
			return ports.ReviewChanges{}, err
		}
		return ports.ReviewChanges{SaveContent: out.Changed, PoolEntry: out.PoolEntry, Notify: outboxOf(out.Announcement)}, nil
	}
}

func rejectFn(r domain.Rejection, at time.Time) ports.ReviewFunc {
	return func(c *domain.Content) (ports.ReviewChanges, error) {
		out, err := c.Reject(r, at)
		if err != nil {
			return ports.ReviewChanges{}, err
		}
		return ports.ReviewChanges{SaveContent: out.Changed, Notify: outboxOf(out.Announcement)}, nil
	}
}

func TestReviewApproveAndReject(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		approvedID := awaitingReview(t, s, 1, base, priority(8))
		rejectedID := awaitingReview(t, s, 2, base)
		at := base.Add(time.Hour)

		pending, err := s.GetContent(ctx, approvedID)
		require.NoError(t, err)
		require.Equal(t, domain.ReviewPending, pending.ReviewStatus)
		require.Empty(t, pending.PoolEntryID)
		require.Equal(t, 8, pending.TaskPriority)

		// Approve: the review fields and the pool entry, in one transaction.
		got, err := s.ReviewContent(ctx, approvedID, approveFn(domain.Approval{
			Reviewer: "王编辑", Note: "可以发布", PoolEntryID: "pool-approved"}, at))
		require.NoError(t, err)
		require.Equal(t, domain.ReviewApproved, got.ReviewStatus)
		require.Equal(t, "pool-approved", got.PoolEntryID)
		stored, err := s.GetContent(ctx, approvedID)
		require.NoError(t, err)
		require.Equal(t, got, stored)
		require.Equal(t, at.Truncate(time.Microsecond), stored.ReviewedAt)
		require.Equal(t, "王编辑", stored.Reviewer)
		require.Equal(t, "可以发布", stored.ReviewNote)
		entry, err := s.GetPoolEntry(ctx, "pool-approved")
		require.NoError(t, err)
		require.Equal(t, approvedID, entry.Entry.ContentID)
		require.Equal(t, domain.PoolPending, entry.Entry.Status)
		require.Equal(t, 8, entry.Entry.Priority, "the task's priority")
		require.Equal(t, at.Truncate(time.Microsecond), entry.Entry.ScheduledAt, "scheduled now")
		require.Equal(t, 3, entry.Entry.MaxRetries)
		require.Equal(t, "Title", entry.Title)

		// The same move again: a no-op, one entry.
		again, err := s.ReviewContent(ctx, approvedID, approveFn(domain.Approval{
			Reviewer: "someone else", PoolEntryID: "pool-second"}, at.Add(time.Minute)))
		require.NoError(t, err)
		require.Equal(t, stored, again)
		_, err = s.GetPoolEntry(ctx, "pool-second")
		require.ErrorIs(t, err, domain.ErrNotFound)

		// Reject after approve: refused, nothing changes.
		_, err = s.ReviewContent(ctx, approvedID, rejectFn(domain.Rejection{Reason: "晚了"}, at))
		require.ErrorIs(t, err, domain.ErrConflict)
		after, err := s.GetContent(ctx, approvedID)
		require.NoError(t, err)
		require.Equal(t, stored, after)

		// Reject: the reason is kept, no pool entry.
		got, err = s.ReviewContent(ctx, rejectedID, rejectFn(domain.Rejection{Reviewer: "li", Reason: "事实有误"}, at))
		require.NoError(t, err)
		require.Equal(t, domain.ReviewRejected, got.ReviewStatus)
		stored, err = s.GetContent(ctx, rejectedID)
		require.NoError(t, err)
		require.Equal(t, "事实有误", stored.ReviewNote)
		require.Equal(t, "li", stored.Reviewer)
		require.Empty(t, stored.PoolEntryID)
		_, err = s.ReviewContent(ctx, rejectedID, approveFn(domain.Approval{PoolEntryID: "pool-x"}, at))
		require.ErrorIs(t, err, domain.ErrConflict, "approve after reject")
		counts, err := s.CountPool(ctx, 0)
		require.NoError(t, err)
		require.Equal(t, ports.PoolCounts{domain.PoolPending: 1, domain.PoolClaimed: 0, domain.PoolPublished: 0, domain.PoolFailed: 0}, counts)

		// A decision that fails rolls back; an unknown content is not found.
		third := awaitingReview(t, s, 3, base)
		boom := errors.New("boom")
		_, err = s.ReviewContent(ctx, third, func(c *domain.Content) (ports.ReviewChanges, error) {
			out, _ := c.Approve(domain.Approval{PoolEntryID: "pool-rolled-back"}, at)
			_ = out
			return ports.ReviewChanges{}, boom
		})
		require.ErrorIs(t, err, boom)
		unchanged, err := s.GetContent(ctx, third)
		require.NoError(t, err)
		require.Equal(t, domain.ReviewPending, unchanged.ReviewStatus)
		_, err = s.ReviewContent(ctx, "content-none", approveFn(domain.Approval{PoolEntryID: "p"}, at))
		require.ErrorIs(t, err, domain.ErrNotFound)
	})
}

func TestListContents(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		var ids []string
		for i := range 5 {
			ids = append(ids, awaitingReview(t, s, i, base.Add(time.Duration(i)*time.Minute), account(int64(1+i%2))))
		}
		_, err := s.ReviewContent(ctx, ids[1], approveFn(domain.Approval{PoolEntryID: "pool-1"}, base.Add(time.Hour)))
		require.NoError(t, err)
		_, err = s.ReviewContent(ctx, ids[2], rejectFn(domain.Rejection{Reason: "no"}, base.Add(time.Hour)))
		require.NoError(t, err)

		list := func(q ports.ContentQuery) []string {
			page, err := s.ListContents(ctx, q)
			require.NoError(t, err)
			out := make([]string, len(page.Items))
			for i, c := range page.Items {
				out[i] = c.ID
			}
			return out
		}
		require.Equal(t, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}, list(ports.ContentQuery{}), "newest first")
		require.Equal(t, []string{ids[4], ids[3], ids[0]}, list(ports.ContentQuery{ReviewStatus: domain.ReviewPending}), "the review queue")
		require.Equal(t, []string{ids[1]}, list(ports.ContentQuery{ReviewStatus: domain.ReviewApproved}))
		require.Equal(t, []string{ids[4], ids[2], ids[0]}, list(ports.ContentQuery{AccountID: 1}))
		require.Equal(t, []string{ids[3]}, list(ports.ContentQuery{TaskID: "task-review-3"}))

		page, err := s.ListContents(ctx, ports.ContentQuery{Limit: 2})
		require.NoError(t, err)
		require.Len(t, page.Items, 2)
		require.NotEmpty(t, page.NextCursor)
		require.Equal(t, "pool-1", mustFind(t, s, ids[1]).PoolEntryID)
		rest := list(ports.ContentQuery{Limit: 2, Cursor: page.NextCursor})
		require.Equal(t, []string{ids[2], ids[1]}, rest)

		_, err = s.ListContents(ctx, ports.ContentQuery{Cursor: "garbage!"})
		var ve *domain.ValidationError
		require.True(t, errors.As(err, &ve))
		_, err = s.ListContents(ctx, ports.ContentQuery{ReviewStatus: "maybe"})
		require.True(t, errors.As(err, &ve))
		require.Equal(t, "review_status", ve.Field)
	})
}

func mustFind(t *testing.T, s *sqlstore.Store, id string) domain.Content {
	t.Helper()
	c, err := s.GetContent(t.Context(), id)
	require.NoError(t, err)
	return c
}

// TestConcurrentApprovalsMakeOnePoolEntry: 20 approvals of one content at
// once, from two replicas (two stores on one database), make one pool
// entry; every one of them succeeds (the repeats are no-ops) and exactly one
// changed the content.
func TestConcurrentApprovalsMakeOnePoolEntry(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, url string) {
		ctx := t.Context()
		replicas := make([]*sqlstore.Store, 2)
		for i := range replicas {
			s, err := sqlstore.Open(ctx, url)
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			replicas[i] = s
		}
		contentID := awaitingReview(t, replicas[0], 1, base)
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			changed []string
			start   = make(chan struct{})
		)
		for i := range 20 {
			s := replicas[i%2]
			entryID := fmt.Sprintf("pool-%02d", i)
			wg.Go(func() {
				<-start
				_, err := s.ReviewContent(ctx, contentID, func(c *domain.Content) (ports.ReviewChanges, error) {
					out, err := c.Approve(domain.Approval{Reviewer: entryID, PoolEntryID: entryID}, base.Add(time.Hour))
					if err != nil {
						return ports.ReviewChanges{}, err
					}
					if out.Changed {
						mu.Lock()
						changed = append(changed, entryID)
						mu.Unlock()
					}
					return ports.ReviewChanges{SaveContent: out.Changed, PoolEntry: out.PoolEntry}, nil
				})
				assertNoError(t, err)
			})
		}
		close(start)
		wg.Wait()
		require.Len(t, changed, 1, "exactly one approval moved the content")
		entries, err := replicas[1].ListPoolEntries(ctx, ports.PoolEntryQuery{})
		require.NoError(t, err)
		require.Len(t, entries, 1)
		require.Equal(t, changed[0], entries[0].Entry.ID)
		c := mustFind(t, replicas[1], contentID)
		require.Equal(t, changed[0], c.Reviewer)
		require.Equal(t, changed[0], c.PoolEntryID)
	}
	t.Run("sqlite", func(t *testing.T) { run(t, sqlstoretest.SQLiteURL(t)) })
	t.Run("postgres", func(t *testing.T) { run(t, sqlstoretest.PostgresURL(t)) })
}
