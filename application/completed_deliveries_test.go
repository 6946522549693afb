package application_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

const completedBody = `{"event":"completed","taskId":"task-a-1","result":{"content":"# T\n\nbody"}}`

func completedID(body string) string {
	return domain.DeliveryID("", "task-a", 1, "completed", []byte(body))
}

// completedTask is submittedTask after its completed callback.
func completedTask(t *testing.T) *domain.Task {
	t.Helper()
	task := submittedTask(t)
	_, err := task.Apply(domain.Event{
		Kind: domain.EventCompleted, Attempt: 1, At: t0, Result: domain.Result{Content: "# T\n\nbody"},
		IDs: domain.CompletionIDs{ContentID: "content-1", PoolEntryID: "pool-1"},
	}, domain.Rules{TaskTimeout: time.Hour})
	require.NoError(t, err)
	require.Equal(t, domain.StatusCompleted, task.Status())
	return task
}

// TestReSendOfAppliedCompletionIsAnsweredWithoutTheStore: once a completed
// callback is committed, its identical re-sends are authenticated and
// answered duplicate without a database read.
func TestReSendOfAppliedCompletionIsAnsweredWithoutTheStore(t *testing.T) {
	f := newCallbackFixture(t)
	var changes ports.TaskChanges
	f.reader.EXPECT().GetTaskAndDelivery(gomock.Any(), "task-a", completedID(completedBody)).Return(submittedTask(t), false, nil).Times(1)
	f.store.EXPECT().UpdateTaskAt(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(runUpdateAt(&changes)).Times(1)
	f.metrics.EXPECT().TaskTransition("submitted", "completed")
	f.publisher.EXPECT().Publish(gomock.Any(), gomock.Any()).Return(nil)
	// Every request is authenticated, the re-sends too.
	f.verifier.EXPECT().Verify(gomock.Any(), gomock.Len(1)).Return(ports.Authentication{Scheme: "token", Attempt: 1}, nil).Times(4)

	res, err := f.callbacks.Handle(context.Background(), input(completedBody))
	require.NoError(t, err)
	require.Equal(t, application.CallbackApplied, res.Disposition)
	require.Equal(t, completedID(completedBody), changes.Delivery.DeliveryID)
	for range 3 {
		res, err = f.callbacks.Handle(context.Background(), input(completedBody))
		require.NoError(t, err)
		require.Equal(t, application.CallbackDuplicate, res.Disposition)
		require.Equal(t, domain.StatusCompleted, res.Status)
		require.Equal(t, "completed", res.Event)
		require.Equal(t, 1, res.Attempt)
		require.Equal(t, "token", res.Scheme)
	}
}

// TestReSendFoundInTheStoreIsRememberedWhenCompleted: a duplicate the
// database found is remembered for a completed task, not for any other.
func TestReSendFoundInTheStoreIsRememberedWhenCompleted(t *testing.T) {
	t.Run("completed", func(t *testing.T) {
		f := newCallbackFixture(t)
		f.reader.EXPECT().GetTaskAndDelivery(gomock.Any(), "task-a", completedID(completedBody)).Return(completedTask(t), true, nil).Times(1)
		f.verifier.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(ports.Authentication{Scheme: "token", Attempt: 1}, nil).Times(2)
		for range 2 {
			res, err := f.callbacks.Handle(context.Background(), input(completedBody))
			require.NoError(t, err)
			require.Equal(t, application.CallbackDuplicate, res.Disposition)
		}
	})
	t.Run("processing", func(t *testing.T) {
		f := newCallbackFixture(t)
		body := `{"event":"progress","taskId":"task-a-1","progress":{"percentage":10}}`
		id := domain.DeliveryID("", "task-a", 1, "progress", []byte(body))
		f.reader.EXPECT().GetTaskAndDelivery(gomock.Any(), "task-a", id).Return(submittedTask(t), true, nil).Times(2)
		f.verifier.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(ports.Authentication{Scheme: "token", Attempt: 1}, nil).Times(2)
		for range 2 {
			res, err := f.callbacks.Handle(context.Background(), input(body))
			require.NoError(t, err)
			require.Equal(t, application.CallbackDuplicate, res.Disposition)
		}
	})
}

// TestRememberedCompletionStillRefusesBadCredentials: a re-send that does
// not authenticate against the remembered attempts is decided by the store
// path, in §3's order, and refused there.
func TestRememberedCompletionStillRefusesBadCredentials(t *testing.T) {
	f := newCallbackFixture(t)
	f.reader.EXPECT().GetTaskAndDelivery(gomock.Any(), "task-a", completedID(completedBody)).Return(completedTask(t), true, nil).Times(2)
	gomock.InOrder(
		f.verifier.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(ports.Authentication{Scheme: "token", Attempt: 1}, nil),
		f.verifier.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(ports.Authentication{}, ports.ErrCredentialInvalid).Times(2),
	)
	f.deliveries.EXPECT().RecordDelivery(gomock.Any(), gomock.Any()).Return(nil)
	res, err := f.callbacks.Handle(context.Background(), input(completedBody))
	require.NoError(t, err)
	require.Equal(t, application.CallbackDuplicate, res.Disposition)

	_, err = f.callbacks.Handle(context.Background(), input(completedBody))
	require.ErrorIs(t, err, ports.ErrCredentialInvalid)
}

// TestRememberedCompletionsUnderConcurrentReSends: many senders re-sending
// at once share what is remembered (run with -race).
func TestRememberedCompletionsUnderConcurrentReSends(t *testing.T) {
	f := newCallbackFixture(t)
	f.reader.EXPECT().GetTaskAndDelivery(gomock.Any(), "task-a", completedID(completedBody)).Return(completedTask(t), true, nil).MinTimes(1)
	f.verifier.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(ports.Authentication{Scheme: "token", Attempt: 1}, nil).AnyTimes()
	var wg sync.WaitGroup
	errs := make(chan error, 16*20)
	for range 16 {
		wg.Go(func() {
			for range 20 {
				res, err := f.callbacks.Handle(context.Background(), input(completedBody))
				if err == nil && res.Disposition != application.CallbackDuplicate {
					err = errUnexpected(res.Disposition)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

type errUnexpected application.CallbackDisposition

func (e errUnexpected) Error() string { return "unexpected disposition " + string(e) }
