package sqlstore_test

import (
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

// approvedEntry makes content, approves it with the approval given, and
// returns the pool entry's id.
func approvedEntry(t testing.TB, s *sqlstore.Store, n int, a domain.Approval, opts ...taskOption) string {
	t.Helper()
	contentID := awaitingReview(t, s, n, base, opts...)
	a.PoolEntryID = fmt.Sprintf("pool-%03d", n)
	_, err := s.ReviewContent(t.Context(), contentID, approveFn(a, base.Add(time.Minute)))
	require.NoError(t, err)
	return a.PoolEntryID
}

func claim(t testing.TB, s *sqlstore.Store, secret string, at time.Time, lease time.Duration, limit int, account int64) []domain.PoolEntry {
	t.Helper()
	c, err := domain.NewClaim(secret, at, lease)
	require.NoError(t, err)
	got, err := s.ClaimPool(t.Context(), ports.PoolClaimQuery{Claim: c, Limit: limit, AccountID: account})
	require.NoError(t, err)
	return got
}

func entryIDs(entries []domain.PoolEntry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.ID
	}
	return out
}

func publishFn(p domain.Publication, at time.Time) ports.PoolUpdateFunc {
	return func(e *domain.PoolEntry) (ports.PoolChanges, error) {
		out, err := e.MarkPublished(p, at)
		return ports.PoolChanges{SaveEntry: out.Changed, Notify: outboxOf(out.Announcement)}, err
	}
}

func failFn(f domain.PublishFailure, at time.Time) ports.PoolUpdateFunc {
	return func(e *domain.PoolEntry) (ports.PoolChanges, error) {
		out, err := e.MarkFailed(f, at)
		return ports.PoolChanges{SaveEntry: out.Changed, Notify: outboxOf(out.Announcement)}, err
	}
}

func TestPoolClaimOrderAndFilters(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		now := base.Add(time.Hour)
		low := approvedEntry(t, s, 1, domain.Approval{Priority: 2})
		high := approvedEntry(t, s, 2, domain.Approval{Priority: 9})
		highLater := approvedEntry(t, s, 3, domain.Approval{Priority: 9, ScheduledAt: base.Add(30 * time.Minute)})
		future := approvedEntry(t, s, 4, domain.Approval{Priority: 10, ScheduledAt: now.Add(time.Hour)})
		otherAccount := approvedEntry(t, s, 5, domain.Approval{Priority: 5}, account(99))

		got := claim(t, s, "first", now, time.Minute, 2, 0)
		require.Equal(t, []string{high, highLater}, entryIDs(got), "priority desc, then scheduled_at; the future entry is not due")
		for _, e := range got {
			require.Equal(t, domain.PoolClaimed, e.Status)
			require.Equal(t, domain.HashToken("first"), e.ClaimTokenHash)
			require.Equal(t, now.Add(time.Minute).Truncate(time.Microsecond), e.LeaseExpiresAt)
			require.Equal(t, now.Truncate(time.Microsecond), e.ClaimedAt)
		}
		require.Equal(t, []string{otherAccount}, entryIDs(claim(t, s, "acct", now, time.Minute, 5, 99)), "account filter")
		require.Equal(t, []string{low}, entryIDs(claim(t, s, "rest", now, time.Minute, 5, 0)))
		require.Empty(t, claim(t, s, "none", now, time.Minute, 5, 0), "claimed entries are not claimed twice")
		require.Equal(t, []string{future}, entryIDs(claim(t, s, "later", now.Add(time.Hour), time.Minute, 5, 0)), "due once scheduled")

		counts, err := s.CountPool(t.Context(), 0)
		require.NoError(t, err)
		require.Equal(t, ports.PoolCounts{domain.PoolPending: 0, domain.PoolClaimed: 5, domain.PoolPublished: 0, domain.PoolFailed: 0}, counts)
		counts, err = s.CountPool(t.Context(), 99)
		require.NoError(t, err)
		require.Equal(t, 1, counts[domain.PoolClaimed])
		claimed, err := s.ListPoolEntries(t.Context(), ports.PoolEntryQuery{Status: domain.PoolClaimed, AccountID: 7})
		require.NoError(t, err)
		require.Len(t, claimed, 4)
		require.Equal(t, future, claimed[0].Entry.ID, "the list is in claim order")
	})
}

func TestPoolPublishedAndFailed(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		now := base.Add(time.Hour)
		a := approvedEntry(t, s, 1, domain.Approval{Priority: 9})
		b := approvedEntry(t, s, 2, domain.Approval{Priority: 1})
		require.Len(t, claim(t, s, "sec", now, time.Minute, 2, 0), 2)

		// A wrong token, another entry's token, an expired lease: refused, nothing changes.
		before, err := s.GetPoolEntry(ctx, a)
		require.NoError(t, err)
		for token, is := range map[string]error{
			domain.ClaimToken("guess", a): domain.ErrClaimToken,
			domain.ClaimToken("sec", b):   domain.ErrClaimToken,
		} {
			_, err := s.UpdatePoolEntry(ctx, a, publishFn(domain.Publication{ClaimToken: token}, now))
			require.ErrorIs(t, err, is)
		}
		_, err = s.UpdatePoolEntry(ctx, a, publishFn(domain.Publication{ClaimToken: domain.ClaimToken("sec", a)}, now.Add(time.Minute)))
		require.ErrorIs(t, err, domain.ErrLeaseExpired)
		after, err := s.GetPoolEntry(ctx, a)
		require.NoError(t, err)
		require.Equal(t, before, after)

		// Published by its holder.
		at := now.Add(10 * time.Second)
		got, err := s.UpdatePoolEntry(ctx, a, publishFn(domain.Publication{
			ClaimToken: domain.ClaimToken("sec", a), URL: "https://mp.example/s/1", PlatformID: "wx-1"}, at))
		require.NoError(t, err)
		stored, err := s.GetPoolEntry(ctx, a)
		require.NoError(t, err)
		require.Equal(t, got, stored.Entry)
		require.Equal(t, domain.PoolPublished, stored.Entry.Status)
		require.Equal(t, at.Truncate(time.Microsecond), stored.Entry.PublishedAt)
		require.Equal(t, "https://mp.example/s/1", stored.Entry.PublishedURL)
		require.Equal(t, "wx-1", stored.Entry.PlatformID)

		// Failed three times: back to pending after each backoff, then failed.
		token := domain.ClaimToken("sec", b)
		for round := 1; round <= 3; round++ {
			got, err := s.UpdatePoolEntry(ctx, b, failFn(domain.PublishFailure{
				ClaimToken: token, Error: fmt.Sprintf("平台错误 %d", round), Backoff: time.Minute}, at))
			require.NoError(t, err)
			require.Equal(t, round, got.RetryCount)
			if round == 3 {
				require.Equal(t, domain.PoolFailed, got.Status)
				break
			}
			require.Equal(t, domain.PoolPending, got.Status)
			require.Equal(t, at.Add(time.Minute).Truncate(time.Microsecond), got.AvailableAt)
			require.Empty(t, claim(t, s, "early", at.Add(59*time.Second), time.Minute, 5, 0), "not claimable during the backoff")
			at = at.Add(time.Minute)
			secret := fmt.Sprintf("round%d", round)
			require.Equal(t, []string{b}, entryIDs(claim(t, s, secret, at, time.Minute, 5, 0)))
			token = domain.ClaimToken(secret, b)
		}
		stored, err = s.GetPoolEntry(ctx, b)
		require.NoError(t, err)
		require.Equal(t, domain.PoolFailed, stored.Entry.Status)
		require.Equal(t, 3, stored.Entry.RetryCount)
		require.Equal(t, "平台错误 3", stored.Entry.LastError)
		require.Empty(t, claim(t, s, "again", at.Add(time.Hour), time.Minute, 5, 0), "a failed entry is not claimed")

		_, err = s.UpdatePoolEntry(ctx, "pool-none", publishFn(domain.Publication{ClaimToken: "x.y"}, at))
		require.ErrorIs(t, err, domain.ErrNotFound)
		counts, err := s.CountPool(ctx, 0)
		require.NoError(t, err)
		require.Equal(t, ports.PoolCounts{domain.PoolPending: 0, domain.PoolClaimed: 0, domain.PoolPublished: 1, domain.PoolFailed: 1}, counts)
	})
}

func TestPoolLeaseExpiry(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		now := base.Add(time.Hour)
		id := approvedEntry(t, s, 1, domain.Approval{})
		require.Len(t, claim(t, s, "old", now, 10*time.Second, 1, 0), 1)

		n, err := s.ReleaseExpiredLeases(ctx, now.Add(9*time.Second))
		require.NoError(t, err)
		require.Zero(t, n, "a live lease stays")
		n, err = s.ReleaseExpiredLeases(ctx, now.Add(10*time.Second))
		require.NoError(t, err)
		require.Equal(t, 1, n)
		e, err := s.GetPoolEntry(ctx, id)
		require.NoError(t, err)
		require.Equal(t, domain.PoolPending, e.Entry.Status)
		require.Zero(t, e.Entry.RetryCount, "an expired lease is not a failure")
		require.True(t, e.Entry.LeaseExpiresAt.IsZero())

		// The old holder is refused; a new claim takes it.
		_, err = s.UpdatePoolEntry(ctx, id, publishFn(domain.Publication{ClaimToken: domain.ClaimToken("old", id)}, now.Add(11*time.Second)))
		require.ErrorIs(t, err, domain.ErrConflict)
		require.Equal(t, []string{id}, entryIDs(claim(t, s, "new", now.Add(11*time.Second), time.Minute, 1, 0)))
		_, err = s.UpdatePoolEntry(ctx, id, publishFn(domain.Publication{ClaimToken: domain.ClaimToken("old", id)}, now.Add(12*time.Second)))
		require.ErrorIs(t, err, domain.ErrClaimToken)
		_, err = s.UpdatePoolEntry(ctx, id, publishFn(domain.Publication{ClaimToken: domain.ClaimToken("new", id)}, now.Add(12*time.Second)))
		require.NoError(t, err)
	})
}

// TestConcurrentPoolClaimersNeverShare: 10 claimers at once over 10
// entries, on two replicas (two stores on one database): every entry is
// claimed, each exactly once.
func TestConcurrentPoolClaimersNeverShare(t *testing.T) {
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
		const entries = 10
		for i := range entries {
			approvedEntry(t, replicas[0], i, domain.Approval{Priority: 1 + i%3})
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			holders = map[string][]string{}
			start   = make(chan struct{})
		)
		now := base.Add(time.Hour)
		for i := range 10 {
			s := replicas[i%2]
			secret := fmt.Sprintf("claimer%d", i)
			wg.Go(func() {
				<-start
				for {
					c, err := domain.NewClaim(secret, now, time.Minute)
					if !assertNoError(t, err) {
						return
					}
					got, err := s.ClaimPool(ctx, ports.PoolClaimQuery{Claim: c, Limit: 2})
					if !assertNoError(t, err) || len(got) == 0 {
						return
					}
					mu.Lock()
					for _, e := range got {
						holders[e.ID] = append(holders[e.ID], secret)
					}
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		require.Len(t, holders, entries)
		for id, h := range holders {
			require.Len(t, h, 1, "entry %s claimed by %v", id, h)
			stored, err := replicas[1].GetPoolEntry(ctx, id)
			require.NoError(t, err)
			require.Equal(t, domain.HashToken(h[0]), stored.Entry.ClaimTokenHash, "the stored claim is the one returned")
		}
	}
	t.Run("sqlite", func(t *testing.T) { run(t, sqlstoretest.SQLiteURL(t)) })
	t.Run("postgres", func(t *testing.T) { run(t, sqlstoretest.PostgresURL(t)) })
}

func TestCountTasks(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		for i := range 3 {
			_, _, err := s.CreateTask(ctx, newTask(t, fmt.Sprintf("task-p%d", i), base, account(int64(1+i%2))), nil)
			require.NoError(t, err)
		}
		_, _, err := s.CreateTask(ctx, submitted(t, "task-s", base, account(2)), nil)
		require.NoError(t, err)
		counts, err := s.CountTasks(ctx, 0)
		require.NoError(t, err)
		require.Equal(t, 3, counts[domain.StatusPending])
		require.Equal(t, 1, counts[domain.StatusSubmitted])
		require.Equal(t, 0, counts[domain.StatusFailed])
		require.Len(t, counts, len(domain.Statuses), "every status, zero included")
		counts, err = s.CountTasks(ctx, 2)
		require.NoError(t, err)
		require.Equal(t, 1, counts[domain.StatusPending])
		require.Equal(t, 1, counts[domain.StatusSubmitted])
	})
}
