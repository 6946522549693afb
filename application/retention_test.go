package application_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"
	"go.uber.org/zap"

	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
	"contenthub/ports/mocks"
)

func newRetention(t *testing.T, cfg application.RetentionConfig) (*application.Retention, *mocks.MockTaskRetention) {
	ctrl := gomock.NewController(t)
	store := mocks.NewMockTaskRetention(ctrl)
	return application.NewRetention(store, newSettableClock(t0), zap.NewNop(), cfg), store
}

func TestRetentionPurgesInBatchesUntilAShortOne(t *testing.T) {
	r, store := newRetention(t, application.RetentionConfig{Batch: 10})
	q := ports.RetentionQuery{Before: t0.Add(-30 * 24 * time.Hour), Limit: 10}
	gomock.InOrder(
		store.EXPECT().PurgeTerminal(gomock.Any(), q).Return(ports.RetentionCount{Tasks: 10, Attempts: 12, Deliveries: 40}, nil),
		store.EXPECT().PurgeTerminal(gomock.Any(), q).Return(ports.RetentionCount{Tasks: 10, Attempts: 10, Contents: 3}, nil),
		store.EXPECT().PurgeTerminal(gomock.Any(), q).Return(ports.RetentionCount{Tasks: 4, Attempts: 4, IdempotencyKeys: 2}, nil),
	)
	got, err := r.Purge(t.Context(), 30*24*time.Hour, false)
	require.NoError(t, err)
	require.Equal(t, ports.RetentionCount{Tasks: 24, Attempts: 26, Deliveries: 40, Contents: 3, IdempotencyKeys: 2}, got)
}

func TestRetentionDryRunOnlyCounts(t *testing.T) {
	r, store := newRetention(t, application.RetentionConfig{})
	want := ports.RetentionCount{Tasks: 7, Attempts: 9}
	store.EXPECT().CountTerminal(gomock.Any(), t0.Add(-2*time.Hour)).Return(want, nil)
	got, err := r.Purge(t.Context(), 2*time.Hour, true)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func TestRetentionRefusesNoAge(t *testing.T) {
	r, _ := newRetention(t, application.RetentionConfig{})
	for _, age := range []time.Duration{0, -time.Hour} {
		_, err := r.Purge(t.Context(), age, false)
		require.ErrorIs(t, err, application.ErrRetentionAge)
	}
}

func TestRetentionStopsOnErrorWithWhatItDeleted(t *testing.T) {
	r, store := newRetention(t, application.RetentionConfig{Batch: 5})
	boom := errors.New("connection lost")
	gomock.InOrder(
		store.EXPECT().PurgeTerminal(gomock.Any(), gomock.Any()).Return(ports.RetentionCount{Tasks: 5}, nil),
		store.EXPECT().PurgeTerminal(gomock.Any(), gomock.Any()).Return(ports.RetentionCount{}, boom),
	)
	got, err := r.Purge(t.Context(), time.Hour, false)
	require.ErrorIs(t, err, boom)
	require.EqualValues(t, 5, got.Tasks)
}

func TestRetentionRunIsOffWithoutAnAge(t *testing.T) {
	r, _ := newRetention(t, application.RetentionConfig{}) // no call expected
	done := make(chan struct{})
	go func() { r.Run(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run without RETENTION did not return")
	}
}

// TestRetentionRunPurgesPeriodically: on a real store, the loop deletes an
// old finished task at start and one that ages past RETENTION later on,
// and stops with its context.
func TestRetentionRunPurgesPeriodically(t *testing.T) {
	store := sqlstoretest.NewSQLite(t)
	clock := newSettableClock(t0)
	finished := func(id string, at time.Time) {
		tk, err := domain.NewTask(domain.NewTaskParams{ID: id, AccountID: 1, Topic: "旧任务 old task"}, at)
		require.NoError(t, err)
		_, err = tk.Apply(domain.Event{Kind: domain.EventCancel, Source: domain.SourceAPI, At: at}, domain.Rules{TaskTimeout: time.Hour})
		require.NoError(t, err)
		_, _, err = store.CreateTask(t.Context(), tk, nil)
		require.NoError(t, err)
	}
	finished("task-ancient", t0.Add(-48*time.Hour))
	finished("task-young", t0.Add(-time.Hour))

	r := application.NewRetention(store, clock, zap.NewNop(), application.RetentionConfig{OlderThan: 24 * time.Hour, Interval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	gone := func(id string) func() bool {
		return func() bool {
			_, err := store.GetTask(t.Context(), id)
			return errors.Is(err, domain.ErrNotFound)
		}
	}
	require.Eventually(t, gone("task-ancient"), 10*time.Second, 10*time.Millisecond)
	_, err := store.GetTask(t.Context(), "task-young")
	require.NoError(t, err, "younger than RETENTION")
	clock.Set(t0.Add(24 * time.Hour))
	require.Eventually(t, gone("task-young"), 10*time.Second, 10*time.Millisecond)
	cancel()
	<-done
}
