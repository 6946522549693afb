package sqlstore_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
	"contenthub/ports"
)

// The contract of the account methods and of the fair claim, on both stores.

func accountLimits(t testing.TB, conc, perHour, weight int) domain.AccountLimits {
	t.Helper()
	l, err := domain.NewAccountLimits(conc, perHour, weight)
	require.NoError(t, err)
	return l
}

// opener opens each claimed task's attempt, as the dispatcher does.
func opener(at time.Time) ports.UpdateFunc {
	return func(tk *domain.Task) (ports.TaskChanges, error) {
		out, err := tk.Apply(openEv(at, "tok-"+tk.ID()), rules)
		return ports.TaskChanges{SaveTask: out.Changed}, err
	}
}

// claimOne claims with q and returns the claimed tasks' accounts.
func claimAccounts(t *testing.T, s *sqlstore.Store, q ports.ClaimQuery) []int64 {
	t.Helper()
	claimed, err := s.ClaimDue(t.Context(), q, opener(q.Now))
	require.NoError(t, err)
	out := make([]int64, len(claimed))
	for i, tk := range claimed {
		out[i] = tk.AccountID()
	}
	return out
}

// finish ends a running attempt (a permanent failure): its slot is free.
func finish(t *testing.T, s *sqlstore.Store, id string, at time.Time) {
	t.Helper()
	require.NoError(t, s.UpdateTask(t.Context(), id, func(tk *domain.Task) (ports.TaskChanges, error) {
		ev := failedEv(at, tk.Attempt(), domain.TaskError{Code: "X"})
		ev.Permanent = true
		out, err := tk.Apply(ev, rules)
		return ports.TaskChanges{SaveTask: out.Changed}, err
	}))
}

func createMany(t *testing.T, s *sqlstore.Store, prefix string, n int, at time.Time, opts ...taskOption) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s-%03d", prefix, i)
		_, _, err := s.CreateTask(t.Context(), newTask(t, ids[i], at.Add(time.Duration(i)*time.Millisecond), opts...), nil)
		require.NoError(t, err)
	}
	return ids
}

// With every slot held by a bulk account, the next free slot goes to the
// account that submitted one task after it, not to the bulk's backlog.
func TestClaimDueGivesTheNextFreeSlotToTheAccountRunningLeast(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		now := base.Add(time.Hour)
		bulk := createMany(t, s, "task-bulk", 40, base, account(1))
		q := ports.ClaimQuery{Owner: "w", Now: now, Lease: time.Minute, Limit: 8, Capacity: 2}
		require.Equal(t, []int64{1, 1}, claimAccounts(t, s, q), "two slots, one account with a backlog")
		_, _, err := s.CreateTask(t.Context(), newTask(t, "task-urgent", base.Add(time.Minute), account(2)), nil)
		require.NoError(t, err)
		require.Empty(t, claimAccounts(t, s, q), "every slot is held by a running attempt")

		finish(t, s, bulk[0], now)
		claimed, err := s.ClaimDue(t.Context(), q, opener(now))
		require.NoError(t, err)
		require.Equal(t, []string{"task-urgent"}, ids(claimed))

		// Both free slots: one each while account 2 has tasks, oldest backlog first.
		createMany(t, s, "task-more", 3, base.Add(2*time.Minute), account(2))
		finish(t, s, bulk[1], now)
		finish(t, s, "task-urgent", now)
		require.Equal(t, []int64{1, 2}, claimAccounts(t, s, q))
	})
}

// Over 60 claims, account 2 with weight 2 gets twice account 1's share,
// within one task at every point.
func TestClaimDueSharesByWeight(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		now := base.Add(time.Hour)
		createMany(t, s, "task-a", 60, base, account(1))
		createMany(t, s, "task-b", 60, base, account(2))
		require.NoError(t, s.PutAccountLimits(ctx, 2, accountLimits(t, 0, 0, 2), now))
		q := ports.ClaimQuery{Owner: "w", Now: now, Lease: time.Minute, Limit: 1}
		got := map[int64]int{}
		for n := 1; n <= 60; n++ {
			picked := claimAccounts(t, s, q)
			require.Len(t, picked, 1)
			got[picked[0]]++
			require.InDelta(t, float64(n)/3, got[1], 1, "after %d claims: %v", n, got)
			require.InDelta(t, 2*float64(n)/3, got[2], 1, "after %d claims: %v", n, got)
		}
		require.Equal(t, map[int64]int{1: 20, 2: 40}, got)
	})
}

func TestClaimDueHoldsAccountLimits(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		now := base.Add(time.Hour).Truncate(time.Microsecond)
		createMany(t, s, "task-c", 5, base, account(1))
		createMany(t, s, "task-r", 5, base, account(2))
		require.NoError(t, s.PutAccountLimits(ctx, 1, accountLimits(t, 2, 0, 1), now))
		require.NoError(t, s.PutAccountLimits(ctx, 2, accountLimits(t, 0, 3, 1), now))
		q := ports.ClaimQuery{Owner: "w", Now: now, Lease: time.Minute, Limit: 10}
		require.ElementsMatch(t, []int64{1, 1, 2, 2, 2}, claimAccounts(t, s, q))
		require.Empty(t, claimAccounts(t, s, q))

		// Ending attempts frees account 1's slots at once; account 2's hour
		// still counts the attempts it opened, ended or not.
		finish(t, s, "task-c-000", now)
		finish(t, s, "task-r-000", now)
		require.Equal(t, []int64{1}, claimAccounts(t, s, q))

		// A sliding hour: the window reopens an hour after the openings.
		q.Now = now.Add(time.Hour)
		require.Equal(t, []int64{2, 2}, claimAccounts(t, s, q), "account 1 runs two again; account 2 has two tasks left")

		// Defaults apply to an account without limits of its own.
		createMany(t, s, "task-d", 3, base, account(3))
		q.Defaults = accountLimits(t, 1, 0, 1)
		require.Equal(t, []int64{3}, claimAccounts(t, s, q))
	})
}

// Limits and the hour's openings are the database's: a store reopened on
// the same database (a restart) keeps them.
func TestAccountLimitsHoldAcrossARestart(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, url string) {
		ctx := t.Context()
		now := base.Add(time.Hour)
		first, err := sqlstore.Open(ctx, url)
		require.NoError(t, err)
		createMany(t, first, "task-h", 6, base, account(5))
		require.NoError(t, first.PutAccountLimits(ctx, 5, accountLimits(t, 0, 2, 1), now))
		q := ports.ClaimQuery{Owner: "w", Now: now, Lease: time.Minute, Limit: 10}
		require.Equal(t, []int64{5, 5}, claimAccounts(t, first, q))
		finish(t, first, "task-h-000", now)
		require.NoError(t, first.Close())

		second, err := sqlstore.Open(ctx, url)
		require.NoError(t, err)
		t.Cleanup(func() { _ = second.Close() })
		q.Now = now.Add(59 * time.Minute)
		require.Empty(t, claimAccounts(t, second, q), "two attempts opened within the hour")
		state, err := second.GetAccount(ctx, 5, ports.AccountQuery{Now: q.Now})
		require.NoError(t, err)
		require.True(t, state.Own)
		require.Equal(t, 2, state.Limits.MaxTasksPerHour())
		require.Equal(t, domain.Waiting{Reason: domain.WaitingAccountRateLimited, NotBefore: now.Add(time.Hour).Truncate(time.Microsecond)},
			state.Load.Held())
		q.Now = now.Add(time.Hour)
		require.Equal(t, []int64{5, 5}, claimAccounts(t, second, q))
	}
	t.Run("sqlite", func(t *testing.T) { run(t, sqlstoretest.SQLiteURL(t)) })
	t.Run("postgres", func(t *testing.T) { run(t, sqlstoretest.PostgresURL(t)) })
}

func TestAccountsListGetAndLoads(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		now := base.Add(time.Hour).Truncate(time.Microsecond)
		createMany(t, s, "task-x", 4, base, account(10))
		createMany(t, s, "task-y", 1, base, account(20))
		require.NoError(t, s.PutAccountLimits(ctx, 30, accountLimits(t, 4, 100, 7), now)) // limits, no tasks
		require.NoError(t, s.PutAccountLimits(ctx, 30, accountLimits(t, 3, 50, 9), now))  // replaced
		q := ports.ClaimQuery{Owner: "w", Now: now, Lease: time.Minute, Limit: 3}
		require.ElementsMatch(t, []int64{10, 10, 20}, claimAccounts(t, s, q))
		finish(t, s, "task-y-000", now) // failed for good
		require.NoError(t, s.UpdateTask(ctx, "task-x-000", func(tk *domain.Task) (ports.TaskChanges, error) {
			out, err := tk.Apply(completedEv(now, 1, 1), rules)
			return ports.TaskChanges{SaveTask: out.Changed, Content: out.Content, PoolEntry: out.PoolEntry}, err
		}))

		defaults := accountLimits(t, 0, 10, 1)
		list, err := s.ListAccounts(ctx, ports.AccountQuery{Now: now, Defaults: defaults})
		require.NoError(t, err)
		require.Len(t, list, 3)
		require.Equal(t, []int64{10, 20, 30}, []int64{list[0].AccountID, list[1].AccountID, list[2].AccountID})
		x := list[0]
		require.False(t, x.Own)
		require.Equal(t, defaults, x.Limits)
		require.Equal(t, ports.AccountCounts{Pending: 3, Running: 1, Completed24h: 1}, x.Counts,
			"three pending (one with its attempt open), one running, one completed")
		require.Equal(t, 2, x.Load.OpenedInWindow)
		require.Equal(t, ports.AccountCounts{Failed24h: 1}, list[1].Counts)
		require.True(t, list[2].Own)
		require.Equal(t, accountLimits(t, 3, 50, 9), list[2].Limits)

		unknown, err := s.GetAccount(ctx, 99, ports.AccountQuery{Now: now, Defaults: defaults})
		require.NoError(t, err)
		require.Equal(t, ports.AccountState{AccountID: 99, Limits: defaults, Load: domain.AccountLoad{AccountID: 99, Limits: defaults}}, unknown)

		loads, err := s.AccountLoads(ctx, ports.LoadQuery{AccountIDs: []int64{10, 20}, Now: now, Defaults: defaults})
		require.NoError(t, err)
		require.Equal(t, 1, loads.Running, "running attempts of every account")
		require.Equal(t, 1, loads.Accounts[10].Running)
		require.Equal(t, 0, loads.Accounts[20].Running)
		require.Equal(t, 1, loads.Accounts[20].OpenedInWindow)

		// A day later what ended is no longer counted.
		later, err := s.GetAccount(ctx, 10, ports.AccountQuery{Now: now.Add(25 * time.Hour), Defaults: defaults})
		require.NoError(t, err)
		require.Zero(t, later.Counts.Completed24h)
		require.Zero(t, later.Load.OpenedInWindow)
	})
}

func TestCreateTasksIsAllOrNothing(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		batch := make([]*domain.Task, 500)
		for i := range batch {
			batch[i] = newTask(t, fmt.Sprintf("task-batch-%03d", i), base, account(int64(1+i%3)))
		}
		key := &ports.IdempotencyKey{Key: "batch-key", RequestHash: "h1"}
		stored, replayed, err := s.CreateTasks(ctx, batch, key)
		require.NoError(t, err)
		require.False(t, replayed)
		require.Len(t, stored, 500)
		for i, tk := range stored {
			require.Equal(t, storedForm(batch[i].Snapshot()), tk.Snapshot())
		}
		again, replayed, err := s.CreateTasks(ctx, batch, key)
		require.NoError(t, err)
		require.True(t, replayed)
		require.Equal(t, ids(stored), ids(again), "the replay returns the batch in its order")
		_, _, err = s.CreateTasks(ctx, batch[:1], &ports.IdempotencyKey{Key: "batch-key", RequestHash: "h2"})
		require.True(t, errors.Is(err, domain.ErrIdempotencyConflict))
		_, _, err = s.CreateTask(ctx, newTask(t, "task-single", base), &ports.IdempotencyKey{Key: "batch-key", RequestHash: "h1"})
		require.Error(t, err, "a batch's key is not a single create's")

		// One task that cannot be stored (its id exists) refuses the batch.
		clash := []*domain.Task{newTask(t, "task-new-1", base), newTask(t, "task-batch-007", base), newTask(t, "task-new-2", base)}
		_, _, err = s.CreateTasks(ctx, clash, nil)
		require.True(t, errors.Is(err, domain.ErrConflict))
		for _, id := range []string{"task-new-1", "task-new-2"} {
			_, err := s.GetTask(ctx, id)
			require.True(t, errors.Is(err, domain.ErrNotFound), "nothing of a refused batch is stored: %s", id)
		}
		page, err := s.ListTasks(ctx, ports.TaskQuery{Limit: 200})
		require.NoError(t, err)
		require.Len(t, page.Items, 200)
		require.NotEmpty(t, page.NextCursor)
	})
}

// The fair claim reads each account's dispatch state (migration 00009)
// instead of counting its tasks: whatever changes the tasks — single and
// batch creates, claims that open attempts, submissions, completions,
// failures with and without a retry, cancellations, an operator's retry,
// limits set and changed — the state kept equals a recount, in the
// transaction of the change.
func TestDispatchStateFollowsEveryChange(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		now := base.Add(time.Hour).Truncate(time.Microsecond)
		checked := func(step string) {
			t.Helper()
			drift, err := sqlstore.DispatchDrift(ctx, s)
			require.NoError(t, err)
			require.Empty(t, drift, "after %s", step)
		}
		update := func(id string, ev func(tk *domain.Task) domain.Event) {
			t.Helper()
			require.NoError(t, s.UpdateTask(ctx, id, func(tk *domain.Task) (ports.TaskChanges, error) {
				out, err := tk.Apply(ev(tk), rules)
				return ports.TaskChanges{SaveTask: out.Changed}, err
			}))
		}
		createMany(t, s, "task-a", 4, base, account(1))
		createMany(t, s, "task-b", 3, base.Add(time.Second), account(2), maxRetries(2))
		_, _, err := s.CreateTasks(ctx, []*domain.Task{
			newTask(t, "task-c-0", base, account(3)), newTask(t, "task-c-1", base.Add(-time.Minute), account(3)),
			newTask(t, "task-a-9", base.Add(-time.Hour), account(1)),
		}, nil)
		require.NoError(t, err)
		checked("creates")
		require.NoError(t, s.PutAccountLimits(ctx, 2, accountLimits(t, 0, 0, 3), now))
		require.NoError(t, s.PutAccountLimits(ctx, 4, accountLimits(t, 0, 0, 5), now))
		checked("limits set")

		q := ports.ClaimQuery{Owner: "w", Now: now, Lease: time.Minute, Limit: 5}
		require.Len(t, claimAccounts(t, s, q), 5)
		checked("a claim")
		update("task-b-000", func(tk *domain.Task) domain.Event { return submittedEv(now, tk.Attempt(), "ref-b") })
		update("task-b-000", func(tk *domain.Task) domain.Event {
			return failedEv(now, tk.Attempt(), domain.TaskError{Code: "X", Type: "transient"})
		})
		checked("a failure with a retry left")
		update("task-a-9", func(tk *domain.Task) domain.Event { return completedEv(now, tk.Attempt(), 1) })
		checked("a completion")
		finish(t, s, "task-c-1", now)
		update("task-c-1", func(*domain.Task) domain.Event {
			return domain.Event{Kind: domain.EventRetry, Source: domain.SourceAPI, At: now}
		})
		checked("an operator's retry")
		update("task-a-003", func(*domain.Task) domain.Event {
			return domain.Event{Kind: domain.EventCancel, Source: domain.SourceAPI, At: now}
		})
		checked("a cancellation")
		require.NoError(t, s.PutAccountLimits(ctx, 2, accountLimits(t, 0, 0, 1), now))
		checked("a weight changed back")
		require.NotEmpty(t, claimAccounts(t, s, ports.ClaimQuery{Owner: "w", Now: now.Add(time.Hour), Lease: time.Minute, Limit: 10}))
		checked("a second claim")
	})
}

// Accounts that cannot take a slot (here: rate-limited, first in the fair
// share's order with no attempt running and the oldest tasks) are read
// past, page after page, to the first account that can.
func TestClaimDueReadsPastHeldAccounts(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		now := base.Add(time.Hour).Truncate(time.Microsecond)
		var first []string
		for a := int64(1); a <= 12; a++ {
			ids := createMany(t, s, fmt.Sprintf("task-%02d", a), 2, base.Add(time.Duration(a)*time.Second), account(a))
			first = append(first, ids[0])
			require.NoError(t, s.PutAccountLimits(ctx, a, accountLimits(t, 0, 1, 1), now))
		}
		q := ports.ClaimQuery{Owner: "w", Now: now, Lease: time.Minute, Limit: 12}
		require.Len(t, claimAccounts(t, s, q), 12, "one each: the hour allows one")
		for _, id := range first {
			finish(t, s, id, now)
		}
		createMany(t, s, "task-late", 2, now.Add(-time.Minute), account(13))
		q.Limit = 1
		require.Equal(t, []int64{13}, claimAccounts(t, s, q))
		require.Equal(t, []int64{13}, claimAccounts(t, s, q))
		require.Empty(t, claimAccounts(t, s, q))
	})
}

// An account with fewer due tasks than the share would give it takes what
// it has; the other accounts take the rest of the free slots.
func TestClaimDueFillsTheSlotsAnAccountCannot(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		now := base.Add(time.Hour)
		createMany(t, s, "task-few", 2, base, account(1))
		createMany(t, s, "task-many", 10, base.Add(time.Second), account(2))
		createMany(t, s, "task-later", 3, now.Add(time.Minute), account(3)) // not due yet
		q := ports.ClaimQuery{Owner: "w", Now: now, Lease: time.Minute, Limit: 8}
		got := map[int64]int{}
		for _, a := range claimAccounts(t, s, q) {
			got[a]++
		}
		require.Equal(t, map[int64]int{1: 2, 2: 6}, got)
	})
}
