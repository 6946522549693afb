package sqlstore_test

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
	"contenthub/ports"
)

// The store contract suite: tests written against the storage ports
// (sqlstoretest.Ports), each run by sqlstoretest.Contract against every
// implementation of them (today the SQL store on SQLite and PostgreSQL).
// Tests of methods new ports add join it; tests of what only the SQL store
// has (its schema, its connection pools) use sqlstoretest.Each.

func TestCreateGetRoundTrip(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()

		fresh := newTask(t, "task-fresh", base)

		// Two attempts, the first failed, the second running under a lease.
		busy := newTask(t, "task-busy", base, account(42), priority(9), autoApprove(false), maxRetries(2),
			func(p *domain.NewTaskParams) {
				p.Keywords = []string{"go", "数据库", "sql"}
				p.Category = "tech"
				p.Requirements = "Cite sources.\nNo fluff."
				p.Tone = "friendly"
			})
		apply(t, busy, openEv(base.Add(time.Second), "tok-1"))
		apply(t, busy, submittedEv(base.Add(2*time.Second), 1, "cc-ref-1"))
		apply(t, busy, progressEv(base.Add(3*time.Second), 1, 40.7, "half way"))
		apply(t, busy, failedEv(base.Add(4*time.Second), 1, domain.TaskError{Code: "E42", Type: "rate_limit", Message: "slow down"}))
		apply(t, busy, openEv(base.Add(15*time.Second), "tok-2"))
		apply(t, busy, submittedEv(base.Add(16*time.Second), 2, ""))
		apply(t, busy, progressEv(base.Add(17*time.Second), 2, 55, "drafting"))
		busy.Lease("replica-a", base.Add(time.Minute))

		// Timed out, then completed late: completed_at, content_id, late.
		late := submitted(t, "task-late", base, maxRetries(0))
		apply(t, late, domain.Event{Kind: domain.EventDeadline, Source: domain.SourcePoll, Attempt: 1, At: base.Add(31 * time.Minute)})
		apply(t, late, completedEv(base.Add(32*time.Minute), 1, 1))

		// Failed with an error that has no parts: set, but empty.
		blank := submitted(t, "task-blank-error", base, maxRetries(0))
		apply(t, blank, failedEv(base.Add(time.Second), 1, domain.TaskError{}))

		for _, tk := range []*domain.Task{fresh, busy, late, blank} {
			want := storedForm(tk.Snapshot())
			created, replayed, err := s.CreateTask(ctx, tk, nil)
			require.NoError(t, err)
			require.False(t, replayed)
			require.Equal(t, want, created.Snapshot(), "CreateTask returns the stored form")

			got, err := s.GetTask(ctx, tk.ID())
			require.NoError(t, err)
			require.Equal(t, want, got.Snapshot())
			require.Equal(t, time.UTC, got.CreatedAt().Location())
			require.Equal(t, base.Truncate(time.Microsecond), got.CreatedAt())
		}

		got, err := s.GetTask(ctx, "task-fresh")
		require.NoError(t, err)
		_, hasErr := got.LastError()
		require.False(t, hasErr, "no error stays no error")

		got, err = s.GetTask(ctx, "task-blank-error")
		require.NoError(t, err)
		e, hasErr := got.LastError()
		require.True(t, hasErr, "an empty error stays an error")
		require.Equal(t, domain.TaskError{}, e)

		got, err = s.GetTask(ctx, "task-busy")
		require.NoError(t, err)
		require.Len(t, got.Attempts(), 2)
		require.Equal(t, &domain.TaskError{Code: "E42", Type: "rate_limit", Message: "slow down"}, got.Attempts()[0].Error)
		require.Nil(t, got.Attempts()[1].Error)
	})
}

func TestGetTaskUnknown(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		_, err := s.GetTask(t.Context(), "task-nobody")
		require.ErrorIs(t, err, domain.ErrNotFound)
	})
}

func TestCreateTaskDuplicateID(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		_, _, err := s.CreateTask(ctx, newTask(t, "task-1", base), nil)
		require.NoError(t, err)
		_, _, err = s.CreateTask(ctx, newTask(t, "task-1", base.Add(time.Second)), nil)
		require.ErrorIs(t, err, domain.ErrConflict)
	})
}

func TestCreateTaskIdempotency(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		key := &ports.IdempotencyKey{Key: "key-1", RequestHash: "hash-a"}

		first, replayed, err := s.CreateTask(ctx, newTask(t, "task-first", base, account(5)), key)
		require.NoError(t, err)
		require.False(t, replayed)

		again, replayed, err := s.CreateTask(ctx, newTask(t, "task-second", base.Add(time.Second), account(5)), key)
		require.NoError(t, err)
		require.True(t, replayed)
		require.Equal(t, first.Snapshot(), again.Snapshot())

		_, _, err = s.CreateTask(ctx, newTask(t, "task-third", base.Add(time.Second), account(5)),
			&ports.IdempotencyKey{Key: "key-1", RequestHash: "hash-b"})
		require.ErrorIs(t, err, domain.ErrIdempotencyConflict)

		page, err := s.ListTasks(ctx, ports.TaskQuery{AccountID: 5})
		require.NoError(t, err)
		require.Equal(t, []string{"task-first"}, ids(page.Items), "neither the replay nor the conflict stored a task")
	})
}

func TestCreateTaskIdempotencyRace(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		key := &ports.IdempotencyKey{Key: "key-race", RequestHash: "hash"}
		const n = 8
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			created  int
			storedAs = map[string]int{}
		)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				tk := newTask(t, fmt.Sprintf("task-race-%d", i), base, account(9))
				<-start
				got, replayed, err := s.CreateTask(ctx, tk, key)
				if !assertNoError(t, err) {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if !replayed {
					created++
				}
				storedAs[got.ID()]++
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, 1, created, "exactly one request creates the task")
		require.Len(t, storedAs, 1, "every request gets the same task")

		page, err := s.ListTasks(ctx, ports.TaskQuery{AccountID: 9})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
	})
}

// assertNoError reports err from a goroutine other than the test's.
func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}

func TestListTasks(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		var all []*domain.Task
		for i := range 7 {
			acct := int64(100)
			if i%3 == 0 {
				acct = 200
			}
			tk := newTask(t, fmt.Sprintf("task-%02d", i), base.Add(time.Duration(i)*time.Minute), account(acct))
			if i == 2 {
				apply(t, tk, domain.Event{Kind: domain.EventCancel, Source: domain.SourceAPI, At: base.Add(time.Hour)})
			}
			if i == 4 {
				apply(t, tk, openEv(base.Add(time.Hour), "tok"))
			}
			all = append(all, tk)
		}
		// Same creation time: the id breaks the tie.
		all = append(all, newTask(t, "task-tie-a", base.Add(3*time.Minute), account(100)),
			newTask(t, "task-tie-b", base.Add(3*time.Minute), account(100)))
		for _, tk := range all {
			_, _, err := s.CreateTask(ctx, tk, nil)
			require.NoError(t, err)
		}
		newestFirst := func(filter func(*domain.Task) bool) []string {
			var out []*domain.Task
			for _, tk := range all {
				if filter(tk) {
					out = append(out, tk)
				}
			}
			sort.Slice(out, func(i, j int) bool {
				if !out[i].CreatedAt().Equal(out[j].CreatedAt()) {
					return out[i].CreatedAt().After(out[j].CreatedAt())
				}
				return out[i].ID() > out[j].ID()
			})
			return ids(out)
		}
		pages := func(q ports.TaskQuery) ([]string, int) {
			var got []string
			n := 0
			for {
				page, err := s.ListTasks(ctx, q)
				require.NoError(t, err)
				require.LessOrEqual(t, len(page.Items), q.Limit)
				got = append(got, ids(page.Items)...)
				n++
				if page.NextCursor == "" {
					return got, n
				}
				q.Cursor = page.NextCursor
			}
		}

		got, n := pages(ports.TaskQuery{Limit: 3})
		require.Equal(t, newestFirst(func(*domain.Task) bool { return true }), got)
		require.Equal(t, 3, n)

		got, _ = pages(ports.TaskQuery{AccountID: 100, Limit: 2})
		require.Equal(t, newestFirst(func(tk *domain.Task) bool { return tk.AccountID() == 100 }), got)
		require.Contains(t, got, "task-tie-a")

		got, _ = pages(ports.TaskQuery{Status: domain.StatusCancelled, Limit: 2})
		require.Equal(t, []string{"task-02"}, got)

		got, _ = pages(ports.TaskQuery{AccountID: 100, Status: domain.StatusPending, Limit: 50})
		require.Equal(t, newestFirst(func(tk *domain.Task) bool {
			return tk.AccountID() == 100 && tk.Status() == domain.StatusPending
		}), got)

		page, err := s.ListTasks(ctx, ports.TaskQuery{AccountID: 100, Limit: 50})
		require.NoError(t, err)
		require.Empty(t, page.NextCursor)
		for _, tk := range page.Items {
			if tk.ID() == "task-04" {
				require.Len(t, tk.Attempts(), 1, "list items carry their attempts")
			}
		}

		page, err = s.ListTasks(ctx, ports.TaskQuery{})
		require.NoError(t, err)
		require.Len(t, page.Items, len(all), "limit 0 takes the default page size")

		var verr *domain.ValidationError
		for _, bad := range []string{"!!!", "bm90IGEgY3Vyc29y", "MjAyNi0wMS0wMVQwMDowMDowMC4wMDAwMDBaIGJhZCBpZA"} {
			_, err = s.ListTasks(ctx, ports.TaskQuery{Cursor: bad})
			require.ErrorAs(t, err, &verr, "cursor %q", bad)
			require.Equal(t, "cursor", verr.Field)
		}
		_, err = s.ListTasks(ctx, ports.TaskQuery{Status: "sleeping"})
		require.ErrorAs(t, err, &verr)
		require.Equal(t, "status", verr.Field)
	})
}

func TestUpdateTaskSaves(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		created, _, err := s.CreateTask(ctx, newTask(t, "task-1", base), nil)
		require.NoError(t, err)
		require.EqualValues(t, 1, created.Version())

		var inFn *domain.Task
		err = s.UpdateTask(ctx, "task-1", func(tk *domain.Task) (ports.TaskChanges, error) {
			apply(t, tk, openEv(base.Add(time.Second), "tok"))
			apply(t, tk, submittedEv(base.Add(2*time.Second), 1, "ref-1"))
			inFn = tk
			return ports.TaskChanges{SaveTask: true}, nil
		})
		require.NoError(t, err)
		require.EqualValues(t, 2, inFn.Version(), "the task is marked saved at its new version")

		got, err := s.GetTask(ctx, "task-1")
		require.NoError(t, err)
		require.Equal(t, storedForm(inFn.Snapshot()), got.Snapshot())

		// Without SaveTask nothing is written.
		err = s.UpdateTask(ctx, "task-1", func(tk *domain.Task) (ports.TaskChanges, error) {
			apply(t, tk, progressEv(base.Add(3*time.Second), 1, 10, "ignored"))
			return ports.TaskChanges{}, nil
		})
		require.NoError(t, err)
		again, err := s.GetTask(ctx, "task-1")
		require.NoError(t, err)
		require.Equal(t, got.Snapshot(), again.Snapshot())
	})
}

func TestUpdateTaskErrors(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		_, _, err := s.CreateTask(ctx, newTask(t, "task-1", base), nil)
		require.NoError(t, err)

		err = s.UpdateTask(ctx, "task-unknown", func(*domain.Task) (ports.TaskChanges, error) {
			t.Fatal("fn must not run for an unknown task")
			return ports.TaskChanges{}, nil
		})
		require.ErrorIs(t, err, domain.ErrNotFound)

		// fn's error rolls everything back and comes back unchanged.
		errDecided := errors.New("decided against it")
		err = s.UpdateTask(ctx, "task-1", func(tk *domain.Task) (ports.TaskChanges, error) {
			apply(t, tk, openEv(base.Add(time.Second), "tok"))
			return ports.TaskChanges{SaveTask: true, Delivery: &domain.Delivery{
				TaskID: "task-1", Attempt: 1, Event: "progress", DeliveryID: "d-1",
				Outcome: domain.DeliveryApplied, ReceivedAt: base,
			}}, errDecided
		})
		require.Same(t, errDecided, err)
		got, err := s.GetTask(ctx, "task-1")
		require.NoError(t, err)
		require.EqualValues(t, 1, got.Version())
		require.False(t, got.AttemptOpen())
		log, err := s.ListDeliveries(ctx, "task-1")
		require.NoError(t, err)
		require.Empty(t, log)
	})
}

func TestSaveTaskRefusesStaleVersion(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		_, _, err := s.CreateTask(ctx, newTask(t, "task-1", base), nil)
		require.NoError(t, err)
		stale, err := s.GetTask(ctx, "task-1")
		require.NoError(t, err)

		require.NoError(t, s.UpdateTask(ctx, "task-1", func(tk *domain.Task) (ports.TaskChanges, error) {
			apply(t, tk, openEv(base.Add(time.Second), "tok-winner"))
			return ports.TaskChanges{SaveTask: true}, nil
		}))

		apply(t, stale, openEv(base.Add(2*time.Second), "tok-loser"))
		err = saveTask(ctx, s, stale)
		require.ErrorIs(t, err, domain.ErrVersionConflict)

		got, err := s.GetTask(ctx, "task-1")
		require.NoError(t, err)
		require.EqualValues(t, 2, got.Version())
		a, ok := got.CurrentAttempt()
		require.True(t, ok)
		require.Equal(t, domain.HashToken("tok-winner"), a.TokenHash, "the loser wrote nothing")
	})
}

func TestUpdateTaskConcurrentUpdatesSerialise(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		tk := submitted(t, "task-1", base)
		_, _, err := s.CreateTask(ctx, tk, nil)
		require.NoError(t, err)

		const n = 6
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				err := s.UpdateTask(ctx, "task-1", func(tk *domain.Task) (ports.TaskChanges, error) {
					_, err := tk.Apply(progressEv(base.Add(time.Second), 1, 1, fmt.Sprint("report ", i)), rules)
					return ports.TaskChanges{SaveTask: true}, err
				})
				assertNoError(t, err)
			})
		}
		wg.Wait()
		got, err := s.GetTask(ctx, "task-1")
		require.NoError(t, err)
		require.EqualValues(t, 1+n, got.Version(), "each update saw the previous one")
	})
}

func delivery(taskID, event, id string) *domain.Delivery {
	return &domain.Delivery{
		TaskID: taskID, Attempt: 1, Event: event, DeliveryID: id, Scheme: "token",
		Outcome: domain.DeliveryApplied, HTTPStatus: 200, RequestID: "req-" + id, ReceivedAt: base.Add(time.Minute),
	}
}

// completion applies a completion (content contentN) to the task inside fn
// and returns what a callback handler would write.
func completion(t *testing.T, tk *domain.Task, contentN int, deliveryID string) ports.TaskChanges {
	out := apply(t, tk, completedEv(base.Add(time.Minute), 1, contentN))
	require.NotNil(t, out.Content)
	require.NotNil(t, out.PoolEntry)
	return ports.TaskChanges{
		SaveTask: true, Content: out.Content, PoolEntry: out.PoolEntry,
		Delivery: delivery(tk.ID(), "completed", deliveryID),
	}
}

func TestUpdateTaskWritesSideEffectsAtomically(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		_, _, err := s.CreateTask(ctx, submitted(t, "task-1", base, priority(8)), nil)
		require.NoError(t, err)

		require.NoError(t, s.UpdateTask(ctx, "task-1", func(tk *domain.Task) (ports.TaskChanges, error) {
			apply(t, tk, progressEv(base.Add(time.Second), 1, 30, "started"))
			return ports.TaskChanges{SaveTask: true, Delivery: delivery("task-1", "progress", "wh:d-1")}, nil
		}))
		processing, err := s.GetTask(ctx, "task-1")
		require.NoError(t, err)

		// A completion arriving with an already recorded delivery id: the
		// task, content, pool entry and delivery are all rolled back.
		err = s.UpdateTask(ctx, "task-1", func(tk *domain.Task) (ports.TaskChanges, error) {
			return completion(t, tk, 1, "wh:d-1"), nil
		})
		require.ErrorIs(t, err, domain.ErrDuplicateDelivery)
		require.ErrorContains(t, err, "delivery wh:d-1 of task task-1", "the same words on both dialects")
		assertStored(t, s, processing, 1)
		_, err = s.GetContent(ctx, "content-1")
		require.ErrorIs(t, err, domain.ErrNotFound)
		pool, err := poolEntries(ctx, s, "", 10)
		require.NoError(t, err)
		require.Empty(t, pool)

		// The same completion with a new delivery id: all of it is written.
		var want ports.TaskChanges
		require.NoError(t, s.UpdateTask(ctx, "task-1", func(tk *domain.Task) (ports.TaskChanges, error) {
			want = completion(t, tk, 1, "wh:d-2")
			return want, nil
		}))
		completed, err := s.GetTask(ctx, "task-1")
		require.NoError(t, err)
		require.Equal(t, domain.StatusCompleted, completed.Status())
		require.Equal(t, "content-1", completed.ContentID())
		require.EqualValues(t, processing.Version()+1, completed.Version())
		content, err := s.GetContent(ctx, "content-1")
		require.NoError(t, err)
		wantContent := *want.Content
		wantContent.CreatedAt = wantContent.CreatedAt.Truncate(time.Microsecond)
		wantContent.ReviewedAt = wantContent.ReviewedAt.Truncate(time.Microsecond)
		wantContent.TaskPriority = 8 // read with the content, from its task
		require.Equal(t, wantContent, content)
		pool, err = poolEntries(ctx, s, domain.PoolPending, 10)
		require.NoError(t, err)
		wantEntry := *want.PoolEntry
		wantEntry.CreatedAt = wantEntry.CreatedAt.Truncate(time.Microsecond)
		wantEntry.ScheduledAt = wantEntry.ScheduledAt.Truncate(time.Microsecond)
		wantEntry.AvailableAt = wantEntry.AvailableAt.Truncate(time.Microsecond)
		wantEntry.UpdatedAt = wantEntry.UpdatedAt.Truncate(time.Microsecond)
		require.Equal(t, []domain.PoolEntry{wantEntry}, pool)
		require.Equal(t, 8, pool[0].Priority)
		assertStored(t, s, completed, 2)

		// Another task completing with a content id already taken: its task
		// and delivery are rolled back with the refused content.
		_, _, err = s.CreateTask(ctx, submitted(t, "task-2", base), nil)
		require.NoError(t, err)
		before, err := s.GetTask(ctx, "task-2")
		require.NoError(t, err)
		err = s.UpdateTask(ctx, "task-2", func(tk *domain.Task) (ports.TaskChanges, error) {
			return completion(t, tk, 1, "wh:d-3"), nil
		})
		require.ErrorIs(t, err, domain.ErrConflict)
		assertStored(t, s, before, 0)
		pool, err = poolEntries(ctx, s, "", 10)
		require.NoError(t, err)
		require.Len(t, pool, 1)
	})
}

// assertStored requires the stored task to equal want, with n deliveries logged.
func assertStored(t *testing.T, s sqlstoretest.Ports, want *domain.Task, n int) {
	t.Helper()
	got, err := s.GetTask(t.Context(), want.ID())
	require.NoError(t, err)
	require.Equal(t, want.Snapshot(), got.Snapshot())
	log, err := s.ListDeliveries(t.Context(), want.ID())
	require.NoError(t, err)
	require.Len(t, log, n)
}

// TestALockedReadSeesTheWholeCommitItWaitedFor: an update that waits for
// another one's row lock decides on the task and the attempts that other
// update committed. On PostgreSQL a locking read joined to the attempts
// returned the new task row with the attempts of its own older snapshot
// (READ COMMITTED re-reads only the locked row), so a completed task was read
// with its attempt still submitted and written back so.
func TestALockedReadSeesTheWholeCommitItWaitedFor(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		_, _, err := s.CreateTask(ctx, submitted(t, "task-1", base), nil)
		require.NoError(t, err)

		holding, release := make(chan struct{}), make(chan struct{})
		first := make(chan error, 1)
		go func() {
			first <- s.UpdateTask(ctx, "task-1", func(tk *domain.Task) (ports.TaskChanges, error) {
				changes := completion(t, tk, 1, "wh:d-1")
				close(holding) // the row is locked (PostgreSQL) or the writer held (SQLite)
				<-release
				return changes, nil
			})
		}()
		<-holding
		var seen []domain.Attempt
		var status domain.Status
		second := make(chan error, 1)
		go func() {
			second <- s.UpdateTask(ctx, "task-1", func(tk *domain.Task) (ports.TaskChanges, error) {
				status, seen = tk.Status(), tk.Attempts()
				return ports.TaskChanges{}, nil
			})
		}()
		// Long enough for the second update to reach the lock and wait; were
		// it later, it would read after the commit and pass all the same.
		time.Sleep(300 * time.Millisecond)
		close(release)
		require.NoError(t, <-first)
		require.NoError(t, <-second)
		require.Equal(t, domain.StatusCompleted, status)
		require.Len(t, seen, 1)
		require.Equal(t, domain.AttemptCompleted, seen[0].State, "the attempt as the commit it waited for left it")
	})
}
