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

// TestListPoolItems: entries come with their article's title, in ListPool's
// order, filtered and limited the same way.
func TestListPoolItems(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		for i, e := range []struct {
			id, title string
			priority  int
		}{
			{"pool-a", "边缘计算入门", 3},
			{"pool-b", "Rust 所有权详解", 8},
			{"pool-c", "", 5},
		} {
			taskID := "task-" + e.id
			_, _, err := s.CreateTask(ctx, newTask(t, taskID, base), nil)
			require.NoError(t, err)
			c := domain.Content{ID: "content-" + e.id, TaskID: taskID, AccountID: int64(10 + i), Attempt: 1,
				Title: e.title, ReviewStatus: domain.ReviewApproved, CreatedAt: base}
			p := domain.NewPoolEntry(e.id, c, e.priority, base.Add(time.Duration(i)*time.Second), base)
			require.NoError(t, s.UpdateTask(ctx, taskID, func(*domain.Task) (ports.TaskChanges, error) {
				return ports.TaskChanges{Content: &c, PoolEntry: &p}, nil
			}))
		}
		items, err := s.ListPoolItems(ctx, ports.PoolQuery{Status: domain.PoolPending})
		require.NoError(t, err)
		entries, err := s.ListPool(ctx, domain.PoolPending, 0)
		require.NoError(t, err)
		require.Len(t, items, 3)
		for i, item := range items {
			require.Equal(t, entries[i], item.Entry, "same entries, same order as ListPool")
		}
		require.Equal(t, "Rust 所有权详解", items[0].Title)
		require.Equal(t, "task-pool-b", items[0].Entry.TaskID)
		require.Equal(t, int64(11), items[0].Entry.AccountID)
		require.Equal(t, "", items[1].Title)
		require.Equal(t, "边缘计算入门", items[2].Title)

		items, err = s.ListPoolItems(ctx, ports.PoolQuery{Limit: 1})
		require.NoError(t, err)
		require.Len(t, items, 1)
		items, err = s.ListPoolItems(ctx, ports.PoolQuery{Status: "published"})
		require.NoError(t, err)
		require.Empty(t, items)
	})
}
