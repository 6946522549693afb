package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
	"contenthub/ports"
)

// TestUpdateTaskAtWritesADecisionOnAFreshRead: the whole completion is
// written from the task as read, and the read task moves to its new version.
func TestUpdateTaskAtWritesADecisionOnAFreshRead(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		_, _, err := s.CreateTask(ctx, submitted(t, "task-1", base), nil)
		require.NoError(t, err)
		read, err := s.GetTask(ctx, "task-1")
		require.NoError(t, err)

		var want ports.TaskChanges
		before := read.Version()
		require.NoError(t, s.UpdateTaskAt(ctx, read, func(tk *domain.Task) (ports.TaskChanges, error) {
			want = completion(t, tk, 1, "wh:d-1")
			return want, nil
		}))
		require.Equal(t, before+1, read.Version())
		stored, err := s.GetTask(ctx, "task-1")
		require.NoError(t, err)
		require.Equal(t, storedForm(read.Snapshot()), stored.Snapshot(), "the attempt's new state is written too")
		content, err := s.GetContent(ctx, "content-1")
		require.NoError(t, err)
		require.Equal(t, want.Content.Body, content.Body)
		pool, err := poolEntries(ctx, s, domain.PoolPending, 10)
		require.NoError(t, err)
		require.Len(t, pool, 1)
		seen, err := s.HasDelivery(ctx, "task-1", "wh:d-1")
		require.NoError(t, err)
		require.True(t, seen)
	})
}

// TestUpdateTaskAtRefusesAStaleRead: a decision made on a task that changed
// since it was read writes nothing at all — not the task, not its side
// effects, not the delivery record — and a recorded delivery id refuses the
// whole write.
func TestUpdateTaskAtRefusesAStaleRead(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		_, _, err := s.CreateTask(ctx, submitted(t, "task-1", base), nil)
		require.NoError(t, err)
		stale, err := s.GetTask(ctx, "task-1")
		require.NoError(t, err)
		require.NoError(t, s.UpdateTask(ctx, "task-1", func(tk *domain.Task) (ports.TaskChanges, error) {
			apply(t, tk, progressEv(base.Add(time.Second), 1, 30, "started"))
			return ports.TaskChanges{SaveTask: true, Delivery: delivery("task-1", "progress", "wh:d-1")}, nil
		}))
		current, err := s.GetTask(ctx, "task-1")
		require.NoError(t, err)

		err = s.UpdateTaskAt(ctx, stale, func(tk *domain.Task) (ports.TaskChanges, error) {
			return completion(t, tk, 1, "wh:d-2"), nil
		})
		require.ErrorIs(t, err, domain.ErrVersionConflict)
		assertStored(t, s, current, 1)
		_, err = s.GetContent(ctx, "content-1")
		require.ErrorIs(t, err, domain.ErrNotFound)

		// Even a decision that changes nothing but the log is refused.
		stale, err = s.GetTask(ctx, "task-1")
		require.NoError(t, err)
		require.NoError(t, s.UpdateTask(ctx, "task-1", func(tk *domain.Task) (ports.TaskChanges, error) {
			apply(t, tk, progressEv(base.Add(2*time.Second), 1, 40, "more"))
			return ports.TaskChanges{SaveTask: true}, nil
		}))
		err = s.UpdateTaskAt(ctx, stale, func(tk *domain.Task) (ports.TaskChanges, error) {
			return ports.TaskChanges{Delivery: delivery("task-1", "progress", "wh:d-3")}, nil
		})
		require.ErrorIs(t, err, domain.ErrVersionConflict)
		seen, err := s.HasDelivery(ctx, "task-1", "wh:d-3")
		require.NoError(t, err)
		require.False(t, seen)

		// A fresh read with a delivery id already recorded: nothing written.
		fresh, err := s.GetTask(ctx, "task-1")
		require.NoError(t, err)
		err = s.UpdateTaskAt(ctx, fresh, func(tk *domain.Task) (ports.TaskChanges, error) {
			return completion(t, tk, 1, "wh:d-1"), nil
		})
		require.ErrorIs(t, err, domain.ErrDuplicateDelivery)
		stored, err := s.GetTask(ctx, "task-1")
		require.NoError(t, err)
		require.Equal(t, domain.StatusProcessing, stored.Status())
		_, err = s.GetContent(ctx, "content-1")
		require.ErrorIs(t, err, domain.ErrNotFound)
	})
}

// TestUpdateTaskAtRacesWriteOnce: many writers deciding on the same read
// (identical completions with distinct delivery ids): exactly one wins, the
// others are told the task changed, and one content and one pool entry exist.
func TestUpdateTaskAtRacesWriteOnce(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		_, _, err := s.CreateTask(ctx, submitted(t, "task-1", base), nil)
		require.NoError(t, err)
		const n = 12
		reads := make([]*domain.Task, n)
		for i := range reads {
			reads[i], err = s.GetTask(ctx, "task-1")
			require.NoError(t, err)
		}
		var (
			wg        sync.WaitGroup
			won, lost atomic.Int32
		)
		for i := range n {
			wg.Go(func() {
				err := s.UpdateTaskAt(ctx, reads[i], func(tk *domain.Task) (ports.TaskChanges, error) {
					out, err := tk.Apply(completedEv(base.Add(time.Minute), 1, 1), rules)
					if err != nil {
						return ports.TaskChanges{}, err
					}
					return ports.TaskChanges{SaveTask: true, Content: out.Content, PoolEntry: out.PoolEntry,
						Delivery: delivery("task-1", "completed", fmt.Sprint("wh:race-", i))}, nil
				})
				switch {
				case err == nil:
					won.Add(1)
				case errors.Is(err, domain.ErrVersionConflict), errors.Is(err, domain.ErrConflict):
					lost.Add(1)
				default:
					assertNoError(t, err)
				}
			})
		}
		wg.Wait()
		require.EqualValues(t, 1, won.Load())
		require.EqualValues(t, n-1, lost.Load())
		pool, err := poolEntries(ctx, s, "", 10)
		require.NoError(t, err)
		require.Len(t, pool, 1)
		log, err := s.ListDeliveries(ctx, "task-1")
		require.NoError(t, err)
		require.Len(t, log, 1, "only the winner's delivery is recorded")
	})
}

// TestGetTaskAndDelivery: the task with its attempts and whether a delivery
// id is recorded for it, in one read.
func TestGetTaskAndDelivery(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		_, _, err := s.GetTaskAndDelivery(ctx, "task-1", "wh:d-1")
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, _, err = s.CreateTask(ctx, submitted(t, "task-1", base), nil)
		require.NoError(t, err)
		_, _, err = s.CreateTask(ctx, submitted(t, "task-2", base), nil)
		require.NoError(t, err)
		require.NoError(t, s.UpdateTask(ctx, "task-1", func(tk *domain.Task) (ports.TaskChanges, error) {
			apply(t, tk, progressEv(base.Add(time.Second), 1, 30, "started"))
			return ports.TaskChanges{SaveTask: true, Delivery: delivery("task-1", "progress", "wh:d-1")}, nil
		}))
		want, err := s.GetTask(ctx, "task-1")
		require.NoError(t, err)
		require.Len(t, want.Attempts(), 1)

		for _, c := range []struct {
			task, id string
			seen     bool
		}{{"task-1", "wh:d-1", true}, {"task-1", "wh:d-2", false}, {"task-1", "", false}, {"task-2", "wh:d-1", false}} {
			got, seen, err := s.GetTaskAndDelivery(ctx, c.task, c.id)
			require.NoError(t, err)
			require.Equal(t, c.seen, seen, "%s %q", c.task, c.id)
			if c.task == "task-1" {
				require.Equal(t, want.Snapshot(), got.Snapshot())
			}
		}
	})
}

// TestMixedWritersOnAFreshStore: writers deciding on reads (UpdateTaskAt)
// and under lock (UpdateTask) at once, on a store whose statements are not
// prepared yet, on one task's row, with more writers than connections: all
// finish (a statement prepared while transactions wait for rows must not
// wait for them in turn).
func TestMixedWritersOnAFreshStore(t *testing.T) {
	t.Parallel()
	for round := range 3 {
		sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			_, _, err := s.CreateTask(ctx, submitted(t, "task-1", base), nil)
			require.NoError(t, err)
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Go(func() {
					report := func(tk *domain.Task) (ports.TaskChanges, error) {
						out, err := tk.Apply(progressEv(base.Add(time.Second), 1, float64(i%100), fmt.Sprint("r", round, "-", i)), rules)
						return ports.TaskChanges{SaveTask: out.Changed, Delivery: delivery("task-1", "progress", fmt.Sprint("wh:", i))}, err
					}
					if i%2 == 0 {
						assertNoError(t, s.UpdateTask(ctx, "task-1", report))
						return
					}
					read, err := s.GetTask(ctx, "task-1")
					if err == nil {
						if err = s.UpdateTaskAt(ctx, read, report); errors.Is(err, domain.ErrVersionConflict) {
							err = s.UpdateTask(ctx, "task-1", report)
						}
					}
					assertNoError(t, err)
				})
			}
			wg.Wait()
			log, err := s.ListDeliveries(ctx, "task-1")
			require.NoError(t, err)
			require.Len(t, log, 40, "every writer's delivery is recorded")
		})
	}
}
