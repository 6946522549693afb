package events_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	_ "github.com/lib/pq"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"contenthub/adapters/events"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
	"contenthub/ports"
)

// replicas are events.Postgres instances on one fresh schema, each with its
// own connections, as separate processes would have. They share a channel
// unique to the test: NOTIFY channels are database-wide.
type replicas struct {
	url     string
	channel string
	admin   *sql.DB
}

func newReplicas(t *testing.T) replicas {
	t.Helper()
	url := sqlstoretest.PostgresURL(t)
	var b [8]byte
	_, _ = rand.Read(b[:])
	admin, err := sql.Open("postgres", url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	return replicas{url: url, channel: "contenthub_test_" + hex.EncodeToString(b[:]), admin: admin}
}

func (r replicas) start(t *testing.T) *events.Postgres {
	t.Helper()
	db, err := sql.Open("postgres", r.url)
	require.NoError(t, err)
	p, err := events.NewPostgres(db, r.url, zap.NewNop(), events.WithChannel(r.channel))
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, p.Close())
		require.NoError(t, db.Close())
	})
	return p
}

func TestPostgresEventReachesEveryReplica(t *testing.T) {
	t.Parallel()
	r := newReplicas(t)
	a, b := r.start(t), r.start(t)
	ctx := t.Context()

	onA, err := a.Subscribe(ctx, ports.EventFilter{})
	require.NoError(t, err)
	onB, err := b.Subscribe(ctx, ports.EventFilter{AccountID: 2})
	require.NoError(t, err)
	taskOnB, err := b.Subscribe(ctx, ports.EventFilter{TaskID: "task-a"})
	require.NoError(t, err)

	first := event("task-a", 1, domain.StatusProcessing)
	first.ContentID = "content-1"
	require.NoError(t, a.Publish(ctx, first))
	require.NoError(t, a.Publish(ctx, event("task-b", 2, domain.StatusSubmitted)))
	// The publisher's own subscribers get its events through the database too.
	a1, a2 := receive(t, onA), receive(t, onA)
	require.NoError(t, b.Publish(ctx, event("task-c", 2, domain.StatusCompleted)))
	a3 := receive(t, onA)
	require.Equal(t, []string{"task-a", "task-b", "task-c"}, taskIDs([]ports.TaskEvent{a1, a2, a3}))
	require.Positive(t, a1.Sequence)
	require.Less(t, a1.Sequence, a2.Sequence, "sequences increase")
	require.Less(t, a2.Sequence, a3.Sequence, "sequences increase across replicas")
	want := first
	want.Sequence = a1.Sequence
	require.Equal(t, want, a1, "every field survives the trip")

	b1, b2 := receive(t, onB), receive(t, onB)
	require.Equal(t, []string{"task-b", "task-c"}, taskIDs([]ports.TaskEvent{b1, b2}), "B filters by account")
	require.Equal(t, a2, b1, "both replicas see the same event with the same sequence")
	require.Equal(t, a3, b2)
	require.Equal(t, a1, receive(t, taskOnB), "B filters by task")
}

func TestPostgresSubscribeFromReplaysAcrossReplicas(t *testing.T) {
	t.Parallel()
	r := newReplicas(t)
	a, b := r.start(t), r.start(t)
	ctx := t.Context()
	watch, err := b.Subscribe(ctx, ports.EventFilter{})
	require.NoError(t, err)

	for _, e := range []ports.TaskEvent{
		event("task-a", 1, domain.StatusSubmitted),
		event("task-b", 1, domain.StatusSubmitted),
		event("task-a", 1, domain.StatusProcessing),
	} {
		require.NoError(t, a.Publish(ctx, e))
	}
	seen := []ports.TaskEvent{receive(t, watch), receive(t, watch), receive(t, watch)} // B has them buffered

	// A client that saw the first event on A resumes on B.
	resumed, err := b.SubscribeFrom(ctx, ports.EventFilter{TaskID: "task-a"}, seen[0].Sequence)
	require.NoError(t, err)
	require.Equal(t, seen[2], receive(t, resumed))
	require.NoError(t, a.Publish(ctx, event("task-a", 1, domain.StatusCompleted)))
	live := receive(t, resumed)
	require.Equal(t, domain.StatusCompleted, live.Status)
	require.Greater(t, live.Sequence, seen[2].Sequence)

	t.Run("an id this replica has not reached yet replays nothing", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		ch, err := b.SubscribeFrom(ctx, ports.EventFilter{}, live.Sequence+1000)
		require.NoError(t, err)
		cancel()
		require.Empty(t, drain(t, ch), "sequences are global: older events must not come back as new")
	})
}

func TestPostgresBoundsLongProgressText(t *testing.T) {
	t.Parallel()
	r := newReplicas(t)
	a := r.start(t)
	ctx := t.Context()
	ch, err := a.Subscribe(ctx, ports.EventFilter{})
	require.NoError(t, err)

	e := event("task-a", 1, domain.StatusProcessing)
	e.Progress.Message = strings.Repeat("进", 5000)  // 15000 bytes: over the NOTIFY limit on its own
	e.Progress.Stage = strings.Repeat("\x01", 5000) // six bytes each once JSON-escaped
	require.NoError(t, a.Publish(ctx, e))
	got := receive(t, ch)
	require.LessOrEqual(t, len(got.Progress.Message), events.MaxTextBytes)
	require.True(t, utf8.ValidString(got.Progress.Message), "cut between characters")
	require.True(t, strings.HasPrefix(e.Progress.Message, got.Progress.Message))
	require.LessOrEqual(t, len(got.Progress.Stage), events.MaxTextBytes)
}

func TestPostgresCloseEndsSubscriptions(t *testing.T) {
	t.Parallel()
	r := newReplicas(t)
	a, b := r.start(t), r.start(t)
	ch, err := a.Subscribe(t.Context(), ports.EventFilter{})
	require.NoError(t, err)
	onB, err := b.Subscribe(t.Context(), ports.EventFilter{})
	require.NoError(t, err)

	require.NoError(t, a.Close())
	require.Empty(t, drain(t, ch))
	_, err = a.Subscribe(t.Context(), ports.EventFilter{})
	require.ErrorIs(t, err, events.ErrClosed)
	require.NoError(t, a.Publish(t.Context(), event("task-a", 1, domain.StatusPending)), "a closed replica still publishes")
	require.Equal(t, "task-a", receive(t, onB).TaskID)
}

func TestPostgresListenerReconnects(t *testing.T) {
	t.Parallel()
	r := newReplicas(t)
	a, b := r.start(t), r.start(t)
	ctx := t.Context()
	onB, err := b.Subscribe(ctx, ports.EventFilter{})
	require.NoError(t, err)

	// Kill every listening backend of this test's channel (A's and B's).
	res, err := r.admin.ExecContext(ctx,
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN "' || $1 || '"'`, r.channel)
	require.NoError(t, err)
	killed, err := res.RowsAffected()
	require.NoError(t, err)
	require.EqualValues(t, 2, killed, "both listeners were found")

	// Events sent while B is reconnecting are lost; keep publishing until
	// one gets through the new connection.
	deadline := time.Now().Add(waitLimit)
	for {
		require.NoError(t, a.Publish(ctx, event("task-a", 1, domain.StatusProcessing)))
		select {
		case e := <-onB:
			require.Equal(t, "task-a", e.TaskID)
			return
		case <-time.After(100 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "the listener did not come back within %s", waitLimit)
	}
}

func TestNewPostgresFailsWithoutAServer(t *testing.T) {
	t.Parallel()
	dsn := "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1"
	db, err := sql.Open("postgres", dsn)
	require.NoError(t, err)
	defer db.Close()
	_, err = events.NewPostgres(db, dsn, zap.NewNop(), events.WithConnectTimeout(200*time.Millisecond))
	require.Error(t, err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), "connect", "the last connection error is told")
}

func TestNewPostgresValidatesItsArguments(t *testing.T) {
	_, err := events.NewPostgres(nil, "postgres://x", zap.NewNop())
	require.Error(t, err)
	db, err := sql.Open("postgres", "postgres://x")
	require.NoError(t, err)
	defer db.Close()
	_, err = events.NewPostgres(db, "postgres://x", zap.NewNop(), events.WithChannel(strings.Repeat("c", 64)))
	require.ErrorContains(t, err, "channel name")
}

// TestPostgresEventsKeepTheirOrder: events queued faster than they are sent
// go out together, in publish order, numbered in that order, none lost.
func TestPostgresEventsKeepTheirOrder(t *testing.T) {
	t.Parallel()
	r := newReplicas(t)
	a, b := r.start(t), r.start(t)
	ctx := t.Context()
	onB, err := b.Subscribe(ctx, ports.EventFilter{})
	require.NoError(t, err)
	const n = 60 // fewer than a subscriber may lag behind
	require.Less(t, n, events.SubscriberBuffer)
	for i := range n {
		require.NoError(t, a.Publish(ctx, event(fmt.Sprint("task-", i), 1, domain.StatusSubmitted)))
	}
	var last int64
	for i := range n {
		e := receive(t, onB)
		require.Equal(t, fmt.Sprint("task-", i), e.TaskID)
		require.Greater(t, e.Sequence, last)
		last = e.Sequence
	}
}

// TestPostgresCloseSendsQueuedEvents: a replica shutting down notifies what
// its last changes published before it stops.
func TestPostgresCloseSendsQueuedEvents(t *testing.T) {
	t.Parallel()
	r := newReplicas(t)
	b := r.start(t)
	onB, err := b.Subscribe(t.Context(), ports.EventFilter{})
	require.NoError(t, err)

	a := r.start(t) // closed below, and again (a no-op) by the cleanup
	const n = 60
	require.Less(t, n, events.SubscriberBuffer)
	for i := range n {
		require.NoError(t, a.Publish(t.Context(), event(fmt.Sprint("task-", i), 1, domain.StatusCompleted)))
	}
	require.NoError(t, a.Close())
	for i := range n {
		require.Equal(t, fmt.Sprint("task-", i), receive(t, onB).TaskID)
	}
}
