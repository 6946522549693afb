package application_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

// TestHandleDuplicateIsAnsweredBeforeDecoding: a recorded delivery id is
// answered without decoding the body. (The store says this id is recorded;
// decoding would have refused this body, which shows it was not decoded. A
// real recorded id only ever belongs to a body that decoded.)
func TestHandleDuplicateIsAnsweredBeforeDecoding(t *testing.T) {
	f := newCallbackFixture(t)
	f.store.EXPECT().GetTask(gomock.Any(), "task-a").Return(submittedTask(t), nil)
	f.verifier.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(ports.Authentication{Scheme: "token", Attempt: 1}, nil)
	body := `{"event":"completed","taskId":"task-a-1","result":{"content":42}}`
	f.store.EXPECT().HasDelivery(gomock.Any(), "task-a", domain.DeliveryID("", "task-a", 1, "completed", []byte(body))).Return(true, nil)
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
	f.store.EXPECT().GetTask(gomock.Any(), "task-a").Return(submittedTask(t), nil)
	f.verifier.EXPECT().Verify(gomock.Any(), gomock.Any()).Return(ports.Authentication{Scheme: "standard-webhooks", WebhookID: "msg_1"}, nil)
	f.store.EXPECT().RecordDelivery(gomock.Any(), gomock.Any()).Return(nil)
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
	f.store.EXPECT().GetTask(gomock.Any(), "task-a").Return(nil, domain.ErrNotFound)
	// Looks like a callback to the peek, is not JSON.
	_, err := f.callbacks.Handle(context.Background(), input(`{"event":"completed","x":}`))
	var pe *application.PayloadError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "invalid_json", pe.Code)

	f = newCallbackFixture(t)
	f.store.EXPECT().GetTask(gomock.Any(), "task-a").Return(nil, domain.ErrNotFound) // once: the early read is kept
	_, err = f.callbacks.Handle(context.Background(), input(`{"event":"completed","result":{"content":"`+strings.Repeat("字", 100)+`"}}`))
	require.ErrorIs(t, err, domain.ErrNotFound)
}
