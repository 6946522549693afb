package application_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

// TestHandleDuplicateIsAnsweredBeforeDecoding: a recorded delivery id is
// found in the same read as the task and answered without decoding the body.
// (The store says this id is recorded; decoding would have refused this
// body, which shows it was not decoded. A real recorded id only ever belongs
// to a body that decoded.)
func TestHandleDuplicateIsAnsweredBeforeDecoding(t *testing.T) {
	f := newCallbackFixture(t)
	body := `{"event":"completed","taskId":"task-a-1","result":{"content":42}}`
	f.reader.EXPECT().GetTaskAndDelivery(gomock.Any(), "task-a", domain.DeliveryID("", "task-a", 1, "completed", []byte(body))).Return(submittedTask(t), true, nil)
	f.verifier.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(ports.Authentication{Scheme: "token", Attempt: 1}, nil)
	// No HasDelivery, no update expected: gomock fails the test on any call.
	res, err := f.callbacks.Handle(context.Background(), input(body))
	require.NoError(t, err)
	require.Equal(t, application.CallbackDuplicate, res.Disposition)
	require.Equal(t, "completed", res.Event)
	require.Equal(t, 1, res.Attempt)
}

// TestHandleWebhookIDDeliveriesAreDecodedFirst: scheme c's delivery id does
// not cover the body, so such a delivery keeps §3's order: a body that does
// not decode is refused before any duplicate check.
func TestHandleWebhookIDDeliveriesAreDecodedFirst(t *testing.T) {
	f := newCallbackFixture(t)
	f.reader.EXPECT().GetTaskAndDelivery(gomock.Any(), "task-a", gomock.Any()).Return(submittedTask(t), false, nil)
	f.verifier.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(ports.Authentication{Scheme: "standard-webhooks", WebhookID: "msg_1"}, nil)
	f.deliveries.EXPECT().RecordDelivery(gomock.Any(), gomock.Any()).Return(nil)
	// No HasDelivery expected: gomock fails the test on any call.
	_, err := f.callbacks.Handle(context.Background(), input(`{"event":"completed","result":{"content":42}}`))
	var pe *application.PayloadError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "invalid_field", pe.Code)
}

// TestHandleRefusedEarlyCheckKeepsTheOrder: what the early check cannot
// answer goes through §3 in order, reusing the task it read: a body that is
// not JSON is a 400 even for a task the store does not know.
func TestHandleRefusedEarlyCheckKeepsTheOrder(t *testing.T) {
	f := newCallbackFixture(t)
	f.reader.EXPECT().GetTaskAndDelivery(gomock.Any(), "task-a", gomock.Any()).Return(nil, false, domain.ErrNotFound)
	// Looks like a callback to the peek, is not JSON: still a 400, not a 404.
	_, err := f.callbacks.Handle(context.Background(), input(`{"event":"completed","x":}`))
	var pe *application.PayloadError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "invalid_json", pe.Code)

	f = newCallbackFixture(t)
	f.reader.EXPECT().GetTaskAndDelivery(gomock.Any(), "task-a", "").Return(nil, false, domain.ErrNotFound) // once: the early read is kept
	_, err = f.callbacks.Handle(context.Background(), input(`{"event":"completed","result":{"content":"`+strings.Repeat("字", 100)+`"}}`))
	require.ErrorIs(t, err, domain.ErrNotFound)
}

// TestHandleBodyNamingNoAttemptIsLookedUpAfterwards: a taskId naming no
// attempt (the task's own id) guesses nothing; the delivery id is looked up
// once the attempt is known.
func TestHandleBodyNamingNoAttemptIsLookedUpAfterwards(t *testing.T) {
	f := newCallbackFixture(t)
	body := `{"event":"progress","taskId":"task-a","progress":{"percentage":10}}`
	f.reader.EXPECT().GetTaskAndDelivery(gomock.Any(), "task-a", "").Return(submittedTask(t), false, nil)
	f.verifier.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(ports.Authentication{Scheme: "token", Attempt: 1}, nil)
	f.deliveries.EXPECT().HasDelivery(gomock.Any(), "task-a", domain.DeliveryID("", "task-a", 1, "progress", []byte(body))).Return(true, nil)
	res, err := f.callbacks.Handle(context.Background(), input(body))
	require.NoError(t, err)
	require.Equal(t, application.CallbackDuplicate, res.Disposition)
}

// TestHandleWrongGuessIsNotUsed: the guess reads the attempt from the ref's
// usual form; when content-creator gave the attempt another ref, the guess is
// wrong, its answer is not used, and the right id is looked up.
func TestHandleWrongGuessIsNotUsed(t *testing.T) {
	f := newCallbackFixture(t)
	task, err := domain.NewTask(domain.NewTaskParams{ID: "task-a", AccountID: 1, Topic: "topic"}, t0)
	require.NoError(t, err)
	rules := domain.Rules{TaskTimeout: time.Hour}
	_, err = task.Apply(domain.Event{Kind: domain.EventOpenAttempt, At: t0, Open: domain.Opening{TokenHash: domain.HashToken("tok")}}, rules)
	require.NoError(t, err)
	// Its submit answer named attempt 1 "task-a-2".
	_, err = task.Apply(domain.Event{Kind: domain.EventSubmitted, Attempt: 1, At: t0, ExternalRef: "task-a-2"}, rules)
	require.NoError(t, err)

	body := `{"event":"progress","taskId":"task-a-2","progress":{"percentage":10}}`
	f.reader.EXPECT().GetTaskAndDelivery(gomock.Any(), "task-a", domain.DeliveryID("", "task-a", 2, "progress", []byte(body))).Return(task, true, nil)
	f.verifier.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(ports.Authentication{Scheme: "token", Attempt: 1}, nil)
	f.deliveries.EXPECT().HasDelivery(gomock.Any(), "task-a", domain.DeliveryID("", "task-a", 1, "progress", []byte(body))).Return(true, nil)
	res, err := f.callbacks.Handle(context.Background(), input(body))
	require.NoError(t, err)
	require.Equal(t, application.CallbackDuplicate, res.Disposition)
	require.Equal(t, 1, res.Attempt)
}
