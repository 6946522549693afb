package sqlstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
	"contenthub/ports"
)

// retentionFixture is a store holding one task of every kind retention must
// tell apart, all changed at base except "recent-*", changed 40 days later.
type retentionFixture struct {
	gone, kept []string // task ids retention must delete, and keep
	// rows of the tasks to delete: attempts, deliveries, contents, keys
	want ports.RetentionCount
}

func newRetentionFixture(t *testing.T, s sqlstoretest.Ports) retentionFixture {
	t.Helper()
	ctx := t.Context()
	var f retentionFixture
	old, recent := base, base.Add(40*24*time.Hour)
	contentN := 0
	// create stores a task, with an idempotency key when key is set, and
	// two refused and one accepted delivery.
	create := func(tk *domain.Task, key string) {
		var k *ports.IdempotencyKey
		if key != "" {
			k = &ports.IdempotencyKey{Key: key, RequestHash: "h-" + key}
		}
		_, _, err := s.CreateTask(ctx, tk, k)
		require.NoError(t, err)
		for i, reason := range []string{"bad token", "no credential"} {
			require.NoError(t, s.RecordDelivery(ctx, domain.Delivery{
				TaskID: tk.ID(), Outcome: domain.DeliveryRejected, Reason: reason, HTTPStatus: 401 + i, ReceivedAt: tk.UpdatedAt(),
			}))
		}
		require.NoError(t, s.RecordDelivery(ctx, domain.Delivery{
			TaskID: tk.ID(), Event: "progress", DeliveryID: "wh:" + tk.ID(), Outcome: domain.DeliveryIgnored, HTTPStatus: 200,
			ReceivedAt: tk.UpdatedAt(),
		}))
	}
	// complete finishes a submitted task by callback at at, writing its
	// content and (auto-approved) its pool entry.
	complete := func(id string, at time.Time) {
		contentN++
		n := contentN
		require.NoError(t, s.UpdateTask(ctx, id, func(tk *domain.Task) (ports.TaskChanges, error) {
			out := apply(t, tk, completedEv(at, tk.Attempt(), n))
			return ports.TaskChanges{SaveTask: true, Content: out.Content, PoolEntry: out.PoolEntry}, nil
		}))
	}
	gone := func(id string, attempts, contents, keys int64) {
		f.gone = append(f.gone, id)
		f.want = f.want.Add(ports.RetentionCount{Tasks: 1, Attempts: attempts, Deliveries: 3, Contents: contents, IdempotencyKeys: keys})
	}

	// Deleted: terminal, old, nothing in the pool.
	create(submitted(t, "task-completed-unpooled", old, autoApprove(false)), "key-1")
	complete("task-completed-unpooled", old)
	gone("task-completed-unpooled", 1, 1, 1)

	failed := submitted(t, "task-failed", old, maxRetries(0))
	apply(t, failed, failedEv(old, 1, domain.TaskError{Code: "E", Message: "boom"}))
	create(failed, "")
	gone("task-failed", 1, 0, 0)

	cancelled := newTask(t, "task-cancelled", old)
	apply(t, cancelled, domain.Event{Kind: domain.EventCancel, Source: domain.SourceAPI, At: old})
	create(cancelled, "key-2")
	gone("task-cancelled", 0, 0, 1)

	timedOut := submitted(t, "task-timeout", old, maxRetries(0))
	apply(t, timedOut, domain.Event{Kind: domain.EventDeadline, Source: domain.SourcePoll, Attempt: 1, At: old.Add(31 * time.Minute)})
	create(timedOut, "")
	gone("task-timeout", 1, 0, 0)

	// Kept: its content is in the publish pool.
	create(submitted(t, "task-completed-pooled", old), "key-3")
	complete("task-completed-pooled", old)
	f.kept = append(f.kept, "task-completed-pooled")

	// Kept: not terminal (pending, claimed with an open attempt, running).
	create(newTask(t, "task-pending", old), "key-4")
	claimed := newTask(t, "task-claimed", old)
	apply(t, claimed, openEv(old, "tok"))
	create(claimed, "")
	create(submitted(t, "task-submitted", old), "")
	processing := submitted(t, "task-processing", old)
	apply(t, processing, progressEv(old, 1, 50, "half"))
	create(processing, "")
	f.kept = append(f.kept, "task-pending", "task-claimed", "task-submitted", "task-processing")

	// Kept: terminal but changed recently.
	create(submitted(t, "recent-completed", recent, autoApprove(false)), "")
	complete("recent-completed", recent)
	recentFailed := submitted(t, "recent-failed", recent, maxRetries(0))
	apply(t, recentFailed, failedEv(recent, 1, domain.TaskError{Message: "boom"}))
	create(recentFailed, "")
	f.kept = append(f.kept, "recent-completed", "recent-failed")
	return f
}

// cutoff is 30 days after the old tasks and 10 days before the recent ones.
var cutoff = base.Add(30 * 24 * time.Hour)

// TestRetentionDeletesOldTerminalTasksOnly: old terminal tasks go with their
// attempts, deliveries, contents and idempotency keys, in batches; active
// tasks, recent ones and tasks whose content is in the publish pool stay
// whole. The dry run counts exactly what the purge then deletes.
func TestRetentionDeletesOldTerminalTasksOnly(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		f := newRetentionFixture(t, s)
		keptBefore := map[string]*domain.Task{}
		for _, id := range f.kept {
			tk, err := s.GetTask(ctx, id)
			require.NoError(t, err)
			keptBefore[id] = tk
		}
		poolBefore, err := poolEntries(ctx, s, "", 100)
		require.NoError(t, err)
		require.Len(t, poolBefore, 1)

		dry, err := s.CountTerminal(ctx, cutoff)
		require.NoError(t, err)
		require.Equal(t, f.want, dry)
		again, err := s.CountTerminal(ctx, cutoff)
		require.NoError(t, err)
		require.Equal(t, dry, again, "a dry run deletes nothing")

		// Batches of 3: 4 tasks take two batches, then an empty one.
		var total ports.RetentionCount
		var batches []int64
		for {
			n, err := s.PurgeTerminal(ctx, ports.RetentionQuery{Before: cutoff, Limit: 3})
			require.NoError(t, err)
			batches = append(batches, n.Tasks)
			total = total.Add(n)
			if n.Tasks < 3 {
				break
			}
		}
		require.Equal(t, []int64{3, 1}, batches)
		require.Equal(t, f.want, total)

		for _, id := range f.gone {
			_, err := s.GetTask(ctx, id)
			require.ErrorIs(t, err, domain.ErrNotFound, id)
		}
		_, err = s.GetContent(ctx, "content-1")
		require.ErrorIs(t, err, domain.ErrNotFound, "the unpooled content went with its task")
		// Its idempotency key is free again.
		_, replayed, err := s.CreateTask(ctx, newTask(t, "task-new", cutoff), &ports.IdempotencyKey{Key: "key-1", RequestHash: "other"})
		require.NoError(t, err)
		require.False(t, replayed)

		for id, before := range keptBefore {
			tk, err := s.GetTask(ctx, id)
			require.NoError(t, err, id)
			require.Equal(t, before.Snapshot(), tk.Snapshot(), id)
			log, err := s.ListDeliveries(ctx, id)
			require.NoError(t, err)
			require.Len(t, log, 3, id)
		}
		pool, err := poolEntries(ctx, s, "", 100)
		require.NoError(t, err)
		require.Equal(t, poolBefore, pool)
		_, err = s.GetContent(ctx, pool[0].ContentID)
		require.NoError(t, err, "the pooled content stays")
		_, replayed, err = s.CreateTask(ctx, newTask(t, "task-other", cutoff), &ports.IdempotencyKey{Key: "key-3", RequestHash: "h-key-3"})
		require.NoError(t, err)
		require.True(t, replayed, "a kept task's key still replays")

		left, err := s.CountTerminal(ctx, cutoff)
		require.NoError(t, err)
		require.Equal(t, ports.RetentionCount{}, left)
	})
}

// TestRetentionLeavesNoRowOfADeletedTask: whatever tables hold per-task rows
// (every table with a task_id column, found in the schema itself), a purged
// task has none left.
func TestRetentionLeavesNoRowOfADeletedTask(t *testing.T) {
	t.Parallel()
	// The SQL store's own schema: a test of this adapter, not of the ports.
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		f := newRetentionFixture(t, s)
		tables, err := sqlstore.TaskIDColumns(ctx, s)
		require.NoError(t, err)
		require.Subset(t, tables, []string{"contents", "idempotency_keys", "publish_pool", "task_attempts", "webhook_deliveries"})
		_, err = s.PurgeTerminal(ctx, ports.RetentionQuery{Before: cutoff})
		require.NoError(t, err)
		for _, table := range tables {
			for _, id := range f.gone {
				n, err := sqlstore.RowsOfTask(ctx, s, table, id)
				require.NoError(t, err)
				require.Zero(t, n, "%s still has rows of %s", table, id)
			}
		}
		for _, id := range f.kept {
			n, err := sqlstore.RowsOfTask(ctx, s, "task_attempts", id)
			require.NoError(t, err)
			tk, err := s.GetTask(ctx, id)
			require.NoError(t, err)
			require.Len(t, tk.Attempts(), n, id)
		}
	})
}

// TestRetentionConcurrentPurgersShareTheWork: two purgers at once (replicas)
// delete every eligible task exactly once between them.
func TestRetentionConcurrentPurgersShareTheWork(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		const n = 40
		for i := range n {
			tk := newTask(t, "task-c-"+string(rune('a'+i/26))+string(rune('a'+i%26)), base)
			apply(t, tk, domain.Event{Kind: domain.EventCancel, Source: domain.SourceAPI, At: base})
			_, _, err := s.CreateTask(ctx, tk, nil)
			require.NoError(t, err)
		}
		totals := make(chan int64, 2)
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				var sum int64
				for {
					c, err := s.PurgeTerminal(ctx, ports.RetentionQuery{Before: cutoff, Limit: 5})
					if err != nil {
						errs <- err
						return
					}
					sum += c.Tasks
					if c.Tasks < 5 {
						totals <- sum
						return
					}
				}
			}()
		}
		var sum int64
		for range 2 {
			select {
			case err := <-errs:
				require.NoError(t, err)
			case n := <-totals:
				sum += n
			}
		}
		require.EqualValues(t, n, sum)
		left, err := s.CountTerminal(ctx, cutoff)
		require.NoError(t, err)
		require.Zero(t, left.Tasks)
	})
}
