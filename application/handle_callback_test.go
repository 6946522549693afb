package application_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"
	"go.uber.org/zap"

	"contenthub/adapters/httpapi"
	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
	"contenthub/ports/mocks"
)

var t0 = time.Date(2026, 2, 9, 12, 0, 0, 0, time.UTC)

type callbackFixture struct {
	store      *mocks.MockTaskWriter
	reader     *mocks.MockTaskReader
	deliveries *mocks.MockDeliveryLog
	verifier   *mocks.MockCallbackVerifier
	publisher  *mocks.MockEventPublisher
	metrics    *mocks.MockMetrics
	ids        *mocks.MockIDGenerator
	callbacks  *application.Callbacks
}

func newCallbackFixture(t *testing.T) *callbackFixture {
	ctrl := gomock.NewController(t)
	f := &callbackFixture{
		store: mocks.NewMockTaskWriter(ctrl), reader: mocks.NewMockTaskReader(ctrl), deliveries: mocks.NewMockDeliveryLog(ctrl),
		verifier:  mocks.NewMockCallbackVerifier(ctrl),
		publisher: mocks.NewMockEventPublisher(ctrl), metrics: mocks.NewMockMetrics(ctrl),
		ids: mocks.NewMockIDGenerator(ctrl),
	}
	clock := mocks.NewMockClock(ctrl)
	clock.EXPECT().Now().Return(t0).AnyTimes()
	f.ids.EXPECT().NewID(gomock.Any()).DoAndReturn(func(prefix string) string { return prefix + "-1" }).AnyTimes()
	f.ids.EXPECT().Jitter().Return(0.5).AnyTimes()
	f.metrics.EXPECT().CallbackHandled(gomock.Any(), gomock.Any(), gomock.Any()).AnyTimes()
	f.metrics.EXPECT().NotificationDelay(gomock.Any()).AnyTimes()
	f.callbacks = application.NewCallbacks(application.Deps{
		Store: f.store, Reader: f.reader, Deliveries: f.deliveries, Clock: clock, IDs: f.ids, Publisher: f.publisher, Metrics: f.metrics, Log: zap.NewNop(),
		Rules: application.Rules{TaskTimeout: time.Hour, Backoff: domain.Backoff{Base: time.Second, Max: time.Minute}},
	}, f.verifier)
	return f
}

// submittedTask is a task on attempt 1, submitted to content-creator.
func submittedTask(t *testing.T) *domain.Task {
	t.Helper()
	task, err := domain.NewTask(domain.NewTaskParams{ID: "task-a", AccountID: 1, Topic: "topic"}, t0)
	require.NoError(t, err)
	rules := domain.Rules{TaskTimeout: time.Hour}
	_, err = task.Apply(domain.Event{Kind: domain.EventOpenAttempt, At: t0, Open: domain.Opening{TokenHash: domain.HashToken("tok")}}, rules)
	require.NoError(t, err)
	_, err = task.Apply(domain.Event{Kind: domain.EventSubmitted, Attempt: 1, At: t0}, rules)
	require.NoError(t, err)
	return task
}

// runUpdate makes the mocked store run the update function on task, as
// the real store does inside its transaction, and captures the changes.
func runUpdate(task *domain.Task, changes *ports.TaskChanges) func(context.Context, string, ports.UpdateFunc) error {
	return func(_ context.Context, _ string, fn ports.UpdateFunc) error {
		c, err := fn(task)
		*changes = c
		return err
	}
}

// runUpdateAt makes the mocked store run the update function on the task
// as read, as the real store does before its one statement, and captures
// the changes.
func runUpdateAt(changes *ports.TaskChanges) func(context.Context, *domain.Task, ports.UpdateFunc) error {
	return func(_ context.Context, t *domain.Task, fn ports.UpdateFunc) error {
		c, err := fn(t)
		*changes = c
		return err
	}
}

func input(body string) application.CallbackInput {
	return application.CallbackInput{
		TaskID: "task-a", Token: "tok", Header: http.Header{}, Body: []byte(body), ReceivedAt: t0.Add(time.Second),
		Wire: httpapi.CallbackWire{},
	}
}

func TestHandleCompletedWritesTaskContentPoolAndDeliveryTogether(t *testing.T) {
	f := newCallbackFixture(t)
	task := submittedTask(t)
	var changes ports.TaskChanges
	body := `{"event":"completed","taskId":"task-a-1","result":{"content":"# T\n\nbody"}}`
	// The body names attempt 1: its delivery id is looked up with the task,
	// and that answer is kept (no HasDelivery).
	f.reader.EXPECT().GetTaskAndDelivery(gomock.Any(), "task-a", domain.DeliveryID("", "task-a", 1, "completed", []byte(body))).Return(task, false, nil)
	f.verifier.EXPECT().Verify(gomock.Any(), gomock.Len(1)).Return(ports.Authentication{Scheme: "token", Attempt: 1}, nil)
	f.store.EXPECT().UpdateTaskAt(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(runUpdateAt(&changes))
	f.metrics.EXPECT().TaskTransition("submitted", "completed")
	f.publisher.EXPECT().Publish(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e ports.TaskEvent) error {
		require.Equal(t, domain.StatusCompleted, e.Status)
		return nil
	})

	res, err := f.callbacks.Handle(context.Background(), input(body))
	require.NoError(t, err)
	require.Equal(t, application.CallbackApplied, res.Disposition)
	require.Equal(t, domain.StatusCompleted, res.Status)
	require.True(t, changes.SaveTask)
	require.NotNil(t, changes.Content)
	require.Equal(t, "T", changes.Content.Title)
	require.NotNil(t, changes.PoolEntry)
	require.NotNil(t, changes.Delivery)
	require.Equal(t, domain.DeliveryApplied, changes.Delivery.Outcome)
	require.Equal(t, "token", changes.Delivery.Scheme)
	require.NotEmpty(t, changes.Delivery.DeliveryID)
}

func TestHandleDuplicateSeenBeforeSkipsTheUpdate(t *testing.T) {
	f := newCallbackFixture(t)
	f.reader.EXPECT().GetTaskAndDelivery(gomock.Any(), "task-a", gomock.Any()).Return(submittedTask(t), false, nil)
	f.verifier.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(ports.Authentication{Scheme: "token", Attempt: 1}, nil)
	f.deliveries.EXPECT().HasDelivery(gomock.Any(), "task-a", gomock.Any()).Return(true, nil)
	// No UpdateTask and no Publish expected: gomock fails the test on any.
	res, err := f.callbacks.Handle(context.Background(), input(`{"event":"progress","progress":{"percentage":10}}`))
	require.NoError(t, err)
	require.Equal(t, application.CallbackDuplicate, res.Disposition)
}

func TestHandleDuplicateRaceLostInsideTheTransaction(t *testing.T) {
	f := newCallbackFixture(t)
	f.reader.EXPECT().GetTaskAndDelivery(gomock.Any(), "task-a", gomock.Any()).Return(submittedTask(t), false, nil)
	f.verifier.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(ports.Authentication{Scheme: "token", Attempt: 1}, nil)
	f.deliveries.EXPECT().HasDelivery(gomock.Any(), "task-a", gomock.Any()).Return(false, nil)
	f.store.EXPECT().UpdateTaskAt(gomock.Any(), gomock.Any(), gomock.Any()).Return(domain.ErrDuplicateDelivery)
	res, err := f.callbacks.Handle(context.Background(), input(`{"event":"progress","progress":{"percentage":10}}`))
	require.NoError(t, err)
	require.Equal(t, application.CallbackDuplicate, res.Disposition)
}

func TestHandleRefusalsAreRecordedWithoutDeliveryID(t *testing.T) {
	for name, cause := range map[string]error{"missing": ports.ErrCredentialMissing, "invalid": ports.ErrCredentialInvalid} {
		t.Run(name, func(t *testing.T) {
			f := newCallbackFixture(t)
			f.reader.EXPECT().GetTaskAndDelivery(gomock.Any(), "task-a", gomock.Any()).Return(submittedTask(t), false, nil)
			f.verifier.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(ports.Authentication{}, cause)
			f.deliveries.EXPECT().RecordDelivery(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, d domain.Delivery) error {
				require.Equal(t, domain.DeliveryRejected, d.Outcome)
				require.Empty(t, d.DeliveryID)
				return nil
			})
			_, err := f.callbacks.Handle(context.Background(), input(`{"event":"completed"}`))
			require.ErrorIs(t, err, cause)
		})
	}
}

func TestHandleStoreFailuresAreUnavailable(t *testing.T) {
	f := newCallbackFixture(t)
	f.reader.EXPECT().GetTaskAndDelivery(gomock.Any(), "task-a", gomock.Any()).Return(submittedTask(t), false, nil)
	f.verifier.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(ports.Authentication{Scheme: "token", Attempt: 1}, nil)
	f.deliveries.EXPECT().HasDelivery(gomock.Any(), "task-a", gomock.Any()).Return(false, nil)
	f.store.EXPECT().UpdateTaskAt(gomock.Any(), gomock.Any(), gomock.Any()).Return(errors.New("connection reset"))
	_, err := f.callbacks.Handle(context.Background(), input(`{"event":"completed","result":{"content":"x"}}`))
	require.ErrorIs(t, err, application.ErrUnavailable)
}

// TestHandleVersionConflictIsRetried: a decision on a read that went stale
// is made again on the task read under lock, and that is retried too.
func TestHandleVersionConflictIsRetried(t *testing.T) {
	f := newCallbackFixture(t)
	task := submittedTask(t)
	var changes ports.TaskChanges
	f.reader.EXPECT().GetTaskAndDelivery(gomock.Any(), "task-a", gomock.Any()).Return(task, false, nil)
	f.verifier.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(ports.Authentication{Scheme: "token", Attempt: 1}, nil)
	f.deliveries.EXPECT().HasDelivery(gomock.Any(), "task-a", gomock.Any()).Return(false, nil)
	gomock.InOrder(
		f.store.EXPECT().UpdateTaskAt(gomock.Any(), gomock.Any(), gomock.Any()).Return(domain.ErrVersionConflict),
		f.store.EXPECT().UpdateTask(gomock.Any(), "task-a", gomock.Any()).Return(domain.ErrVersionConflict),
		f.store.EXPECT().UpdateTask(gomock.Any(), "task-a", gomock.Any()).DoAndReturn(runUpdate(task, &changes)),
	)
	f.metrics.EXPECT().TaskTransition("submitted", "processing")
	f.publisher.EXPECT().Publish(gomock.Any(), gomock.Any()).Return(nil)
	res, err := f.callbacks.Handle(context.Background(), input(`{"event":"progress","progress":{"percentage":10}}`))
	require.NoError(t, err)
	require.Equal(t, application.CallbackApplied, res.Disposition)
}

func TestHandleBadBodiesNeverReachTheStore(t *testing.T) {
	f := newCallbackFixture(t)
	for _, body := range []string{``, `nope`, `[1]`, `"s"`, `{"event":`} {
		_, err := f.callbacks.Handle(context.Background(), input(body))
		var pe *application.PayloadError
		require.ErrorAs(t, err, &pe, "body %q", body)
	}
}
