package sqlstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
	"contenthub/ports"
)

func TestDeliveries(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		accepted := domain.Delivery{
			TaskID: "task-1", Attempt: 2, Event: "completed", DeliveryID: "wh:msg_1", Scheme: "standard-webhooks",
			Outcome: domain.DeliveryApplied, Reason: "", HTTPStatus: 200, RequestID: "req-1",
			ReceivedAt: base.Add(2 * time.Second), SentAt: base.Add(time.Second),
		}
		rejected := domain.Delivery{
			TaskID: "task-1", Attempt: 2, Event: "completed", Scheme: "token",
			Outcome: domain.DeliveryRejected, Reason: "invalid token", HTTPStatus: 401, RequestID: "req-2",
			ReceivedAt: base.Add(time.Second),
		}
		require.NoError(t, s.RecordDelivery(ctx, accepted))
		require.ErrorIs(t, s.RecordDelivery(ctx, accepted), domain.ErrDuplicateDelivery)
		// Deliveries without an id (unauthenticated) never collide; the same
		// refusal again within its window is not stored again.
		require.NoError(t, s.RecordDelivery(ctx, rejected))
		require.NoError(t, s.RecordDelivery(ctx, rejected))
		// The same id for another task is another delivery.
		other := accepted
		other.TaskID = "task-2"
		require.NoError(t, s.RecordDelivery(ctx, other))

		seen, err := s.HasDelivery(ctx, "task-1", "wh:msg_1")
		require.NoError(t, err)
		require.True(t, seen)
		for _, q := range [][2]string{{"task-1", "wh:msg_2"}, {"task-3", "wh:msg_1"}, {"task-1", ""}} {
			seen, err = s.HasDelivery(ctx, q[0], q[1])
			require.NoError(t, err)
			require.False(t, seen, "%v", q)
		}

		log, err := s.ListDeliveries(ctx, "task-1")
		require.NoError(t, err)
		trunc := func(d domain.Delivery) domain.Delivery {
			d.ReceivedAt = d.ReceivedAt.Truncate(time.Microsecond)
			d.SentAt = d.SentAt.Truncate(time.Microsecond)
			return d
		}
		require.Equal(t, []domain.Delivery{trunc(rejected), trunc(accepted)}, log, "oldest first")
	})
}

func TestContentAndPoolAreUniqueInTheDatabase(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		_, _, err := s.CreateTask(ctx, newTask(t, "task-1", base), nil)
		require.NoError(t, err)
		content := func(id string) *domain.Content {
			return &domain.Content{
				ID: id, TaskID: "task-1", AccountID: 7, Attempt: 1, Title: "T", Summary: "S", Body: "# T",
				WordCount: 1, ReviewStatus: domain.ReviewPending, CreatedAt: base,
			}
		}
		entry := func(id string) *domain.PoolEntry {
			e := domain.NewPoolEntry(id, domain.Content{ID: "content-a", TaskID: "task-1", AccountID: 7}, 5, base, base)
			return &e
		}
		write := func(c ports.TaskChanges) error {
			return s.UpdateTask(ctx, "task-1", func(*domain.Task) (ports.TaskChanges, error) { return c, nil })
		}

		require.NoError(t, write(ports.TaskChanges{Content: content("content-a")}))
		// Both dialects refuse through one mapping, so with the same words.
		err = write(ports.TaskChanges{Content: content("content-b")})
		require.ErrorIs(t, err, domain.ErrConflict, "one content per task")
		require.ErrorContains(t, err, "content content-b of task task-1 exists")
		require.ErrorIs(t, write(ports.TaskChanges{Content: content("content-a")}), domain.ErrConflict)

		require.NoError(t, write(ports.TaskChanges{PoolEntry: entry("pool-a")}))
		err = write(ports.TaskChanges{PoolEntry: entry("pool-b")})
		require.ErrorIs(t, err, domain.ErrConflict, "one pool entry per content")
		require.ErrorContains(t, err, "pool entry pool-b for content content-a of task task-1 exists")

		_, err = s.GetContent(ctx, "content-b")
		require.ErrorIs(t, err, domain.ErrNotFound)
		pool, err := poolEntries(ctx, s, "", 0)
		require.NoError(t, err)
		require.Len(t, pool, 1)
		require.Equal(t, "pool-a", pool[0].ID)
	})
}

func TestContentRoundTripOptionalFields(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		score := 0.0
		full := domain.Content{
			ID: "content-full", TaskID: "task-full", AccountID: 3, Attempt: 2, Title: "标题", Summary: "Summary",
			Body: "# 标题\n\ntext", HTMLContent: "<h1>标题</h1>", Images: []string{"a.png", "b.png"},
			CoverImage: "a.png", QualityScore: &score, WordCount: 3, Metrics: []byte(`{"a": [1, 2]}`),
			ReviewStatus: domain.ReviewApproved, Late: true, CreatedAt: base,
			ReviewedAt: base.Add(time.Second), Reviewer: "王编辑", ReviewNote: "可以发布",
		}
		bare := domain.Content{
			ID: "content-bare", TaskID: "task-bare", AccountID: 3, Attempt: 1, Title: "T",
			ReviewStatus: domain.ReviewPending, CreatedAt: base,
		}
		for _, c := range []domain.Content{full, bare} {
			_, _, err := s.CreateTask(ctx, newTask(t, c.TaskID, base), nil)
			require.NoError(t, err)
			require.NoError(t, s.UpdateTask(ctx, c.TaskID, func(*domain.Task) (ports.TaskChanges, error) {
				return ports.TaskChanges{Content: &c}, nil
			}))
			got, err := s.GetContent(ctx, c.ID)
			require.NoError(t, err)
			c.CreatedAt = c.CreatedAt.Truncate(time.Microsecond)
			c.ReviewedAt = c.ReviewedAt.Truncate(time.Microsecond)
			c.TaskPriority = domain.DefaultPriority // read with the content, from its task
			require.Equal(t, c, got)
		}
		_, err := s.GetContent(ctx, "content-none")
		require.ErrorIs(t, err, domain.ErrNotFound)
	})
}

func TestListPoolOrder(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		entries := []struct {
			id       string
			priority int
			at       time.Duration
		}{
			{"pool-low", 2, 0},
			{"pool-high-late", 9, time.Minute},
			{"pool-high-early", 9, 0},
			{"pool-mid", 5, -time.Hour},
		}
		for _, e := range entries {
			taskID := "task-" + e.id
			_, _, err := s.CreateTask(ctx, newTask(t, taskID, base), nil)
			require.NoError(t, err)
			c := domain.Content{ID: "content-" + e.id, TaskID: taskID, AccountID: 7, Attempt: 1,
				ReviewStatus: domain.ReviewApproved, CreatedAt: base}
			p := domain.NewPoolEntry(e.id, c, e.priority, base.Add(e.at), base)
			require.NoError(t, s.UpdateTask(ctx, taskID, func(*domain.Task) (ports.TaskChanges, error) {
				return ports.TaskChanges{Content: &c, PoolEntry: &p}, nil
			}))
		}
		pool, err := poolEntries(ctx, s, domain.PoolPending, 0)
		require.NoError(t, err)
		var got []string
		for _, p := range pool {
			got = append(got, p.ID)
		}
		require.Equal(t, []string{"pool-high-early", "pool-high-late", "pool-mid", "pool-low"}, got)

		pool, err = poolEntries(ctx, s, domain.PoolPending, 2)
		require.NoError(t, err)
		require.Len(t, pool, 2)

		pool, err = poolEntries(ctx, s, "published", 0)
		require.NoError(t, err)
		require.Empty(t, pool)
	})
}
