package sqlstore_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
	"contenthub/ports"
)

// holdWriter runs an UpdateTask on id whose decision waits for release, so
// that the writes started meanwhile queue up and commit as one group.
func holdWriter(t *testing.T, s *sqlstore.Store, id string) (release func(), done <-chan error) {
	t.Helper()
	entered, gate, errc := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		errc <- s.UpdateTask(context.Background(), id, func(tk *domain.Task) (ports.TaskChanges, error) {
			close(entered)
			<-gate
			return ports.TaskChanges{Delivery: delivery(id, "progress", "wh:hold")}, nil
		})
	}()
	<-entered
	return func() { close(gate) }, errc
}

// waitQueued waits until n writes are queued behind the held one.
func waitQueued(t *testing.T, s *sqlstore.Store, n int) {
	t.Helper()
	for sqlstore.QueuedWrites(s) < n {
		runtime.Gosched()
	}
}

// TestSQLiteGroupAnswersEachWriteWithItsOwnOutcome: writes committed as one
// group each get their own answer — a duplicate delivery, a stale version
// and a content that exists fail alone, and their neighbours are written.
func TestSQLiteGroupAnswersEachWriteWithItsOwnOutcome(t *testing.T) {
	t.Parallel()
	url := sqlstoretest.SQLiteURL(t)
	ctx := t.Context()
	s, err := sqlstore.Open(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	for _, id := range []string{"task-0", "task-1", "task-2", "task-3", "task-4", "task-5", "task-9"} {
		_, _, err := s.CreateTask(ctx, submitted(t, id, base), nil)
		require.NoError(t, err)
	}
	// task-2 has delivery wh:dup recorded; content-9 exists (task-9's).
	require.NoError(t, s.UpdateTask(ctx, "task-2", func(tk *domain.Task) (ports.TaskChanges, error) {
		return ports.TaskChanges{Delivery: delivery("task-2", "progress", "wh:dup")}, nil
	}))
	require.NoError(t, s.UpdateTask(ctx, "task-9", func(tk *domain.Task) (ports.TaskChanges, error) {
		return completion(t, tk, 9, "wh:d-9"), nil
	}))
	reads := map[string]*domain.Task{}
	for _, id := range []string{"task-1", "task-2", "task-3", "task-4", "task-5"} {
		reads[id], err = s.GetTask(ctx, id)
		require.NoError(t, err)
	}
	// task-3 moves on after it was read: its read is stale.
	require.NoError(t, s.UpdateTask(ctx, "task-3", func(tk *domain.Task) (ports.TaskChanges, error) {
		apply(t, tk, progressEv(base.Add(time.Second), 1, 30, "started"))
		return ports.TaskChanges{SaveTask: true}, nil
	}))

	release, held := holdWriter(t, s, "task-0")
	writes := map[string]struct {
		content  int
		delivery string
	}{
		"task-1": {1, "wh:d-1"},
		"task-2": {2, "wh:dup"}, // recorded before
		"task-3": {3, "wh:d-3"}, // stale
		"task-4": {4, "wh:d-4"},
		"task-5": {9, "wh:d-5"}, // content-9 exists
	}
	var (
		mu   sync.Mutex
		errs = map[string]error{}
		wg   sync.WaitGroup
	)
	for id, w := range writes {
		wg.Go(func() {
			err := s.UpdateTaskAt(ctx, reads[id], func(tk *domain.Task) (ports.TaskChanges, error) {
				return completion(t, tk, w.content, w.delivery), nil
			})
			mu.Lock()
			errs[id] = err
			mu.Unlock()
		})
	}
	waitQueued(t, s, len(writes))
	release()
	require.NoError(t, <-held)
	wg.Wait()

	require.NoError(t, errs["task-1"])
	require.NoError(t, errs["task-4"])
	require.ErrorIs(t, errs["task-2"], domain.ErrDuplicateDelivery)
	require.ErrorIs(t, errs["task-3"], domain.ErrVersionConflict)
	require.ErrorIs(t, errs["task-5"], domain.ErrConflict)

	// Answered, hence durable: a store opened afresh on the file sees the
	// written ones whole and nothing of the refused ones.
	require.NoError(t, s.Close())
	again, err := sqlstore.Open(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = again.Close() })
	for _, id := range []string{"task-1", "task-4"} {
		got, err := again.GetTask(ctx, id)
		require.NoError(t, err)
		require.Equal(t, domain.StatusCompleted, got.Status(), id)
		require.Equal(t, reads[id].Version(), got.Version(), "%s: the caller's task is at the version written", id)
		seen, err := again.HasDelivery(ctx, id, writes[id].delivery)
		require.NoError(t, err)
		require.True(t, seen, id)
	}
	for _, n := range []int{1, 4} {
		_, err := again.GetContent(ctx, contentID(n))
		require.NoError(t, err)
	}
	for _, id := range []string{"task-2", "task-3", "task-5"} {
		got, err := again.GetTask(ctx, id)
		require.NoError(t, err)
		require.NotEqual(t, domain.StatusCompleted, got.Status(), id)
	}
	for _, c := range []struct{ task, id string }{{"task-3", "wh:d-3"}, {"task-5", "wh:d-5"}} {
		seen, err := again.HasDelivery(ctx, c.task, c.id)
		require.NoError(t, err)
		require.False(t, seen, "%s: a refused write leaves no delivery record", c.task)
	}
	_, err = again.GetContent(ctx, contentID(2))
	require.ErrorIs(t, err, domain.ErrNotFound)
	_, err = again.GetContent(ctx, contentID(3))
	require.ErrorIs(t, err, domain.ErrNotFound)
	seen, err := again.HasDelivery(ctx, "task-0", "wh:hold")
	require.NoError(t, err)
	require.True(t, seen, "the held write committed too")
}

// TestSQLiteGroupWithdrawsAWriteWhoseCallerLeft: a caller whose context ends
// while its write is queued gets the context's error and nothing is
// written; the rest of the group is.
func TestSQLiteGroupWithdrawsAWriteWhoseCallerLeft(t *testing.T) {
	t.Parallel()
	s := sqlstoretest.NewSQLite(t)
	ctx := t.Context()
	for _, id := range []string{"task-0", "task-1", "task-2"} {
		_, _, err := s.CreateTask(ctx, submitted(t, id, base), nil)
		require.NoError(t, err)
	}
	release, held := holdWriter(t, s, "task-0")
	leaving, leave := context.WithCancel(ctx)
	errc := make(chan error, 2)
	for id, c := range map[string]context.Context{"task-1": leaving, "task-2": ctx} {
		go func() {
			errc <- s.UpdateTask(c, id, func(tk *domain.Task) (ports.TaskChanges, error) {
				return ports.TaskChanges{Delivery: delivery(id, "progress", "wh:"+id)}, nil
			})
		}()
	}
	waitQueued(t, s, 2)
	leave()
	first := <-errc // the leaving caller answers without waiting for the group
	require.ErrorIs(t, first, context.Canceled)
	release()
	require.NoError(t, <-held)
	require.NoError(t, <-errc)
	seen, err := s.HasDelivery(ctx, "task-1", "wh:task-1")
	require.NoError(t, err)
	require.False(t, seen, "the withdrawn write is not written")
	seen, err = s.HasDelivery(ctx, "task-2", "wh:task-2")
	require.NoError(t, err)
	require.True(t, seen)
}

func contentID(n int) string { return fmt.Sprintf("content-%d", n) }

// TestSQLiteWriteAfterCloseIsUnavailable: a write after Close is answered,
// as unavailable, instead of waiting for a committer that has stopped.
func TestSQLiteWriteAfterCloseIsUnavailable(t *testing.T) {
	t.Parallel()
	s, err := sqlstore.Open(t.Context(), sqlstoretest.SQLiteURL(t))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, _, err = s.CreateTask(t.Context(), submitted(t, "task-1", base), nil)
	require.Error(t, err)
	require.True(t, sqlstore.IsUnavailable(err), "%v", err)
}
