package events_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/events"
	"contenthub/domain"
	"contenthub/ports"
)

func TestLocalFiltersByTaskAndAccount(t *testing.T) {
	hub := events.NewLocal()
	ctx, cancel := context.WithCancel(context.Background())
	all, err := hub.Subscribe(ctx, ports.EventFilter{})
	require.NoError(t, err)
	byTask, err := hub.Subscribe(ctx, ports.EventFilter{TaskID: "task-a"})
	require.NoError(t, err)
	byAccount, err := hub.Subscribe(ctx, ports.EventFilter{AccountID: 2})
	require.NoError(t, err)
	both, err := hub.Subscribe(ctx, ports.EventFilter{TaskID: "task-a", AccountID: 2})
	require.NoError(t, err)

	for _, e := range []ports.TaskEvent{
		event("task-a", 1, domain.StatusSubmitted),
		event("task-b", 2, domain.StatusSubmitted),
		event("task-a", 1, domain.StatusProcessing),
		event("task-c", 2, domain.StatusCompleted),
	} {
		require.NoError(t, hub.Publish(ctx, e))
	}
	cancel() // the channels close after what was delivered

	got := drain(t, all)
	require.Equal(t, []string{"task-a", "task-b", "task-a", "task-c"}, taskIDs(got))
	for i, e := range got {
		require.Equal(t, int64(i+1), e.Sequence, "the hub numbers events in publication order")
	}
	byTaskGot := drain(t, byTask)
	require.Equal(t, []string{"task-a", "task-a"}, taskIDs(byTaskGot))
	require.Equal(t, []domain.Status{domain.StatusSubmitted, domain.StatusProcessing},
		[]domain.Status{byTaskGot[0].Status, byTaskGot[1].Status})
	require.Equal(t, []string{"task-b", "task-c"}, taskIDs(drain(t, byAccount)))
	require.Empty(t, drain(t, both), "task-a is account 1's")
}

func TestLocalKeepsAGivenSequence(t *testing.T) {
	hub := events.NewLocal()
	ctx := t.Context()
	ch, err := hub.Subscribe(ctx, ports.EventFilter{})
	require.NoError(t, err)
	e := event("task-a", 1, domain.StatusPending)
	e.Sequence = 42
	require.NoError(t, hub.Publish(ctx, e))
	got := receive(t, ch)
	require.Equal(t, e, got, "the event arrives unchanged")
}

func TestLocalSlowSubscriberDoesNotBlockPublishers(t *testing.T) {
	hub := events.NewLocal()
	ctx, cancel := context.WithCancel(context.Background())
	slow, err := hub.Subscribe(ctx, ports.EventFilter{})
	require.NoError(t, err)

	published := numbered(3 * events.SubscriberBuffer)
	for _, e := range published {
		require.NoError(t, hub.Publish(ctx, e)) // would block forever on a full subscriber
	}
	cancel()
	got := drain(t, slow)
	require.Len(t, got, events.SubscriberBuffer, "a full subscriber misses later events")
	require.Equal(t, taskIDs(published[:events.SubscriberBuffer]), taskIDs(got))

	// What it missed is still there for a resume.
	resumed, err := hub.SubscribeFrom(t.Context(), ports.EventFilter{}, got[len(got)-1].Sequence)
	require.NoError(t, err)
	require.Equal(t, taskIDs(published[events.SubscriberBuffer:])[0], receive(t, resumed).TaskID)
}

func TestLocalSubscriptionEnds(t *testing.T) {
	t.Run("when its context ends", func(t *testing.T) {
		hub := events.NewLocal()
		ctx, cancel := context.WithCancel(context.Background())
		ch, err := hub.Subscribe(ctx, ports.EventFilter{})
		require.NoError(t, err)
		other, err := hub.Subscribe(t.Context(), ports.EventFilter{})
		require.NoError(t, err)
		cancel()
		require.Empty(t, drain(t, ch))
		require.NoError(t, hub.Publish(t.Context(), event("task-a", 1, domain.StatusPending)),
			"publishing after a subscriber left works")
		require.Equal(t, "task-a", receive(t, other).TaskID, "other subscriptions continue")
	})
	t.Run("when the hub closes", func(t *testing.T) {
		hub := events.NewLocal()
		ch, err := hub.Subscribe(t.Context(), ports.EventFilter{})
		require.NoError(t, err)
		require.NoError(t, hub.Close())
		require.Empty(t, drain(t, ch))
		require.NoError(t, hub.Close(), "closing twice is fine")
		_, err = hub.Subscribe(t.Context(), ports.EventFilter{})
		require.ErrorIs(t, err, events.ErrClosed)
		require.NoError(t, hub.Publish(t.Context(), event("task-a", 1, domain.StatusPending)))
	})
}

func TestLocalSubscribeFromReplaysBufferedEvents(t *testing.T) {
	hub := events.NewLocal()
	ctx := t.Context()
	for _, e := range []ports.TaskEvent{
		event("task-a", 1, domain.StatusPending),    // 1
		event("task-b", 2, domain.StatusPending),    // 2
		event("task-a", 1, domain.StatusSubmitted),  // 3
		event("task-b", 2, domain.StatusSubmitted),  // 4
		event("task-a", 1, domain.StatusProcessing), // 5
	} {
		require.NoError(t, hub.Publish(ctx, e))
	}

	ch, err := hub.SubscribeFrom(ctx, ports.EventFilter{TaskID: "task-a"}, 1)
	require.NoError(t, err)
	require.NoError(t, hub.Publish(ctx, event("task-a", 1, domain.StatusCompleted))) // 6, live
	var seqs []int64
	for range 3 {
		seqs = append(seqs, receive(t, ch).Sequence)
	}
	require.Equal(t, []int64{3, 5, 6}, seqs, "the missed events of task-a, then live ones, nothing twice")

	all, err := hub.SubscribeFrom(ctx, ports.EventFilter{AccountID: 2}, 0)
	require.NoError(t, err)
	require.Equal(t, int64(2), receive(t, all).Sequence)
	require.Equal(t, int64(4), receive(t, all).Sequence)

	t.Run("an id from before a restart replays everything buffered", func(t *testing.T) {
		ch, err := hub.SubscribeFrom(ctx, ports.EventFilter{AccountID: 2}, 9000)
		require.NoError(t, err)
		require.Equal(t, int64(2), receive(t, ch).Sequence)
	})
}

func TestLocalBufferKeepsTheMostRecentEvents(t *testing.T) {
	hub := events.NewLocal()
	ctx, cancel := context.WithCancel(context.Background())
	published := numbered(events.RecentEvents + 10)
	for _, e := range published {
		require.NoError(t, hub.Publish(ctx, e))
	}
	ch, err := hub.SubscribeFrom(ctx, ports.EventFilter{}, 0)
	require.NoError(t, err)
	cancel()
	got := drain(t, ch)
	require.Len(t, got, events.RecentEvents)
	require.Equal(t, taskIDs(published[10:]), taskIDs(got), "the oldest ten left the buffer; the rest come in order")
	require.Equal(t, int64(11), got[0].Sequence)
}
