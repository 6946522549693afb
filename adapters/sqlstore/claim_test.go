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

func TestClaimDue(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		now := base.Add(time.Hour)
		create := func(tk *domain.Task) {
			t.Helper()
			_, _, err := s.CreateTask(ctx, tk, nil)
			require.NoError(t, err)
		}
		create(newTask(t, "task-old-p5", base, priority(5)))
		create(newTask(t, "task-new-p5", base.Add(time.Minute), priority(5)))
		create(newTask(t, "task-p9", base.Add(2*time.Minute), priority(9)))
		create(newTask(t, "task-p1", base, priority(1)))
		create(newTask(t, "task-not-due", now.Add(45*time.Second), priority(10)))
		opened := newTask(t, "task-open", base, priority(10))
		apply(t, opened, openEv(base, "tok"))
		create(opened)
		cancelled := newTask(t, "task-cancelled", base, priority(10))
		apply(t, cancelled, domain.Event{Kind: domain.EventCancel, Source: domain.SourceAPI, At: base})
		create(cancelled)
		create(submitted(t, "task-submitted", base, priority(10)))

		claimed, err := s.ClaimDue(ctx, ports.ClaimQuery{Owner: "replica-a", Now: now, Lease: time.Minute, Limit: 2}, nil)
		require.NoError(t, err)
		require.Equal(t, []string{"task-p9", "task-old-p5"}, ids(claimed), "priority first, then oldest")
		for _, tk := range claimed {
			require.Equal(t, "replica-a", tk.LeaseOwner())
			require.Equal(t, now.Add(time.Minute).Truncate(time.Microsecond), tk.LeaseUntil())
			require.EqualValues(t, 2, tk.Version(), "a claim bumps the version")
			stored, err := s.GetTask(ctx, tk.ID())
			require.NoError(t, err)
			require.Equal(t, tk.Snapshot(), stored.Snapshot())
		}

		// Leased tasks are not claimed again while the lease lives.
		claimed, err = s.ClaimDue(ctx, ports.ClaimQuery{Owner: "replica-b", Now: now.Add(30 * time.Second), Lease: time.Minute, Limit: 10}, nil)
		require.NoError(t, err)
		require.Equal(t, []string{"task-new-p5", "task-p1"}, ids(claimed))
		claimed, err = s.ClaimDue(ctx, ports.ClaimQuery{Owner: "replica-b", Now: now.Add(30 * time.Second), Lease: time.Minute, Limit: 10}, nil)
		require.NoError(t, err)
		require.Empty(t, claimed)

		// Once the first leases expire (the claimer died before opening an
		// attempt), those tasks are due again; the not-yet-due one too.
		claimed, err = s.ClaimDue(ctx, ports.ClaimQuery{Owner: "replica-c", Now: now.Add(61 * time.Second), Lease: time.Minute, Limit: 10}, nil)
		require.NoError(t, err)
		require.Equal(t, []string{"task-not-due", "task-p9", "task-old-p5"}, ids(claimed))
		require.EqualValues(t, 3, claimed[1].Version())

		claimed, err = s.ClaimDue(ctx, ports.ClaimQuery{Owner: "replica-c", Now: now, Lease: time.Minute, Limit: 0}, nil)
		require.NoError(t, err)
		require.Empty(t, claimed)
	})
}

// TestClaimDueOpens: with open, each claimed task is decided and written in
// the claim's own transaction; a task open refuses stays leased, unchanged
// and unreturned.
func TestClaimDueOpens(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		now := base.Add(time.Hour).Truncate(time.Microsecond) // as stored
		for _, id := range []string{"task-a", "task-refused", "task-b"} {
			_, _, err := s.CreateTask(ctx, newTask(t, id, base), nil)
			require.NoError(t, err)
		}
		claimed, err := s.ClaimDue(ctx, ports.ClaimQuery{Owner: "replica-a", Now: now, Lease: time.Minute, Limit: 10}, func(tk *domain.Task) (ports.TaskChanges, error) {
			if tk.ID() == "task-refused" {
				return ports.TaskChanges{}, domain.ErrConflict
			}
			out, err := tk.Apply(openEv(now, "tok-"+tk.ID()), domain.Rules{TaskTimeout: time.Hour})
			return ports.TaskChanges{SaveTask: out.Changed}, err
		})
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"task-a", "task-b"}, ids(claimed))
		for _, tk := range claimed {
			require.True(t, tk.AttemptOpen())
			require.EqualValues(t, 3, tk.Version(), "claimed, then opened")
			stored, err := s.GetTask(ctx, tk.ID())
			require.NoError(t, err)
			require.Equal(t, tk.Snapshot(), stored.Snapshot(), "written as returned")
		}
		refused, err := s.GetTask(ctx, "task-refused")
		require.NoError(t, err)
		require.False(t, refused.AttemptOpen())
		require.Equal(t, "replica-a", refused.LeaseOwner(), "leased until the lease ends")

		// An error writing the changes rolls the whole claim back.
		_, err = s.ClaimDue(ctx, ports.ClaimQuery{Owner: "replica-b", Now: now.Add(2 * time.Minute), Lease: time.Minute, Limit: 10}, func(tk *domain.Task) (ports.TaskChanges, error) {
			return ports.TaskChanges{SaveTask: true, Content: &domain.Content{}}, nil
		})
		require.Error(t, err)
		refused, err = s.GetTask(ctx, "task-refused")
		require.NoError(t, err)
		require.Equal(t, "replica-a", refused.LeaseOwner(), "nothing of the failed claim was written")
	})
}

// TestClaimDueConcurrentClaimersNeverShare runs claimers through separate
// stores (separate connection pools, as separate replicas have) until
// nothing is left: every task must be claimed exactly once.
func TestClaimDueConcurrentClaimersNeverShare(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, url string) {
		ctx := t.Context()
		stores := make([]*sqlstore.Store, 4)
		for i := range stores {
			s, err := sqlstore.Open(ctx, url)
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			stores[i] = s
		}
		const tasks = 200
		for i := range tasks {
			_, _, err := stores[0].CreateTask(ctx,
				newTask(t, fmt.Sprintf("task-%03d", i), base.Add(time.Duration(i)*time.Millisecond), priority(1+i%10)), nil)
			require.NoError(t, err)
		}

		var (
			mu     sync.Mutex
			owners = map[string][]string{}
			wg     sync.WaitGroup
		)
		now := base.Add(time.Hour)
		for i, s := range stores {
			owner := fmt.Sprintf("replica-%d", i)
			wg.Go(func() {
				for {
					claimed, err := s.ClaimDue(ctx, ports.ClaimQuery{Owner: owner, Now: now, Lease: time.Hour, Limit: 7}, nil)
					if !assertNoError(t, err) || len(claimed) == 0 {
						return
					}
					mu.Lock()
					for _, tk := range claimed {
						owners[tk.ID()] = append(owners[tk.ID()], owner)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Len(t, owners, tasks)
		for id, o := range owners {
			require.Len(t, o, 1, "task %s claimed by %v", id, o)
		}
	}
	t.Run("sqlite", func(t *testing.T) { run(t, sqlstoretest.SQLiteURL(t)) })
	t.Run("postgres", func(t *testing.T) { run(t, sqlstoretest.PostgresURL(t)) })
}

func TestFindStale(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		now := base.Add(time.Hour)
		create := func(tk *domain.Task) {
			t.Helper()
			_, _, err := s.CreateTask(ctx, tk, nil)
			require.NoError(t, err)
		}
		// Submitted long ago, nothing heard since.
		create(submitted(t, "task-silent", now.Add(-10*time.Minute)))
		// Submitted recently: fine.
		create(submitted(t, "task-fresh", now.Add(-10*time.Second)))
		// Processing, heard recently, but past its deadline.
		late := submitted(t, "task-overdue", now.Add(-31*time.Minute))
		apply(t, late, progressEv(now.Add(-5*time.Second), 1, 50, "still going"))
		create(late)
		// Processing and heard recently.
		busy := submitted(t, "task-busy", now.Add(-10*time.Minute))
		apply(t, busy, progressEv(now.Add(-5*time.Second), 1, 50, "still going"))
		create(busy)
		// Open attempt whose claimer's lease ran out: the replica died while submitting.
		orphan := newTask(t, "task-orphan", base)
		orphan.Lease("replica-dead", now.Add(-time.Second))
		apply(t, orphan, openEv(now.Add(-2*time.Minute), "tok"))
		create(orphan)
		// Open attempt under a live lease.
		opening := newTask(t, "task-opening", base)
		opening.Lease("replica-alive", now.Add(time.Minute))
		apply(t, opening, openEv(now.Add(-time.Second), "tok"))
		create(opening)
		// Pending without an open attempt, and finished tasks: never stale.
		create(newTask(t, "task-waiting", base))
		done := submitted(t, "task-done", base)
		apply(t, done, completedEv(base.Add(time.Minute), 1, 1))
		create(done)

		stale, err := s.FindStale(ctx, ports.StaleQuery{HeardBefore: now.Add(-time.Minute), Now: now})
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"task-silent", "task-overdue", "task-orphan"}, ids(stale))
		for _, tk := range stale {
			require.NotEmpty(t, tk.Attempts(), "stale tasks carry their attempts")
		}

		stale, err = s.FindStale(ctx, ports.StaleQuery{HeardBefore: now.Add(-time.Minute), Now: now, Limit: 2})
		require.NoError(t, err)
		require.Len(t, stale, 2)
	})
}

func TestFindStaleServesLeastRecentlyPolledFirst(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		now := base.Add(time.Hour)
		for _, id := range []string{"task-a", "task-b", "task-c"} {
			_, _, err := s.CreateTask(ctx, submitted(t, id, base), nil)
			require.NoError(t, err)
		}
		before, err := s.GetTask(ctx, "task-a")
		require.NoError(t, err)
		q := ports.StaleQuery{HeardBefore: now, Now: now, Limit: 2}

		first, err := s.FindStale(ctx, q)
		require.NoError(t, err)
		require.Equal(t, []string{"task-a", "task-b"}, ids(first))
		require.NoError(t, s.MarkPolled(ctx, ids(first), now))

		second, err := s.FindStale(ctx, q)
		require.NoError(t, err)
		require.Equal(t, []string{"task-c", "task-a"}, ids(second), "the never polled first")
		require.NoError(t, s.MarkPolled(ctx, []string{"task-c"}, now.Add(time.Second)))
		require.NoError(t, s.MarkPolled(ctx, []string{"task-a"}, now.Add(2*time.Second)))

		third, err := s.FindStale(ctx, q)
		require.NoError(t, err)
		require.Equal(t, []string{"task-b", "task-c"}, ids(third))

		require.NoError(t, s.MarkPolled(ctx, nil, now))
		after, err := s.GetTask(ctx, "task-a")
		require.NoError(t, err)
		require.Equal(t, before.Snapshot(), after.Snapshot(), "polling is not a change of the task")
	})
}

// TestObserveProgressRemembersSinceWhenAMarkIsReported: the lost-run rule
// (§14) measures a stall from the first time the attempt reported what it
// still reports; a new mark restarts it, rewriting the task does not, and
// each attempt has its own.
func TestObserveProgressRemembersSinceWhenAMarkIsReported(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		tk := submitted(t, "task-mark", base, maxRetries(2))
		_, _, err := s.CreateTask(ctx, tk, nil)
		require.NoError(t, err)
		before, err := s.GetTask(ctx, "task-mark")
		require.NoError(t, err)
		at := func(d time.Duration) time.Time { return base.Add(d).UTC().Truncate(time.Microsecond) }

		since, err := s.ObserveProgress(ctx, "task-mark", 1, "running|40|drafting|t1", at(time.Minute))
		require.NoError(t, err)
		require.Equal(t, at(time.Minute), since, "a first mark starts now")

		since, err = s.ObserveProgress(ctx, "task-mark", 1, "running|40|drafting|t1", at(5*time.Minute))
		require.NoError(t, err)
		require.Equal(t, at(time.Minute), since, "the same mark keeps its start")

		after, err := s.GetTask(ctx, "task-mark")
		require.NoError(t, err)
		require.Equal(t, before.Snapshot(), after.Snapshot(), "observing progress is not a change of the task")

		// The task is written (a progress callback, say): the mark stays.
		require.NoError(t, s.UpdateTask(ctx, "task-mark", func(t *domain.Task) (ports.TaskChanges, error) {
			_, err := t.Apply(progressEv(base.Add(6*time.Minute), 1, 10, "outline"), domain.Rules{TaskTimeout: time.Hour})
			return ports.TaskChanges{SaveTask: true}, err
		}))
		since, err = s.ObserveProgress(ctx, "task-mark", 1, "running|40|drafting|t1", at(7*time.Minute))
		require.NoError(t, err)
		require.Equal(t, at(time.Minute), since)

		since, err = s.ObserveProgress(ctx, "task-mark", 1, "running|40|drafting|t2", at(8*time.Minute))
		require.NoError(t, err)
		require.Equal(t, at(8*time.Minute), since, "a new update time is an advance")

		since, err = s.ObserveProgress(ctx, "task-mark", 1, "running|40|drafting|t1", at(9*time.Minute))
		require.NoError(t, err)
		require.Equal(t, at(9*time.Minute), since, "any change is an advance, even back to an older mark")

		// A second attempt starts from nothing.
		require.NoError(t, s.UpdateTask(ctx, "task-mark", func(t *domain.Task) (ports.TaskChanges, error) {
			rules := domain.Rules{TaskTimeout: time.Hour}
			if _, err := t.Apply(failedEv(base.Add(10*time.Minute), 1, domain.TaskError{Message: "x"}), rules); err != nil {
				return ports.TaskChanges{}, err
			}
			_, err := t.Apply(openEv(base.Add(11*time.Minute), "tok-2"), rules)
			return ports.TaskChanges{SaveTask: true}, err
		}))
		since, err = s.ObserveProgress(ctx, "task-mark", 2, "running|40|drafting|t1", at(12*time.Minute))
		require.NoError(t, err)
		require.Equal(t, at(12*time.Minute), since)

		_, err = s.ObserveProgress(ctx, "task-mark", 3, "m", at(13*time.Minute))
		require.ErrorIs(t, err, domain.ErrNotFound, "no such attempt")
		_, err = s.ObserveProgress(ctx, "task-none", 1, "m", at(13*time.Minute))
		require.ErrorIs(t, err, domain.ErrNotFound)
	})
}
