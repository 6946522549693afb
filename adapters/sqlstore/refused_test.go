package sqlstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
)

// TestRefusedDeliveriesAreBounded: a flood of refused callbacks to one task
// stores one row per reason and RefusedAuditWindow, while accepted
// deliveries and other tasks' refusals are unaffected.
func TestRefusedDeliveriesAreBounded(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		window := base.Truncate(sqlstore.RefusedAuditWindow)
		refused := func(taskID, reason string, at time.Time) domain.Delivery {
			return domain.Delivery{
				TaskID: taskID, Outcome: domain.DeliveryRejected, Reason: reason, HTTPStatus: 401,
				RequestID: "req-" + at.Format(time.RFC3339Nano), ReceivedAt: at,
			}
		}
		reasons := []string{"callback credential invalid: token matches no attempt of this task",
			"callback credential missing: neither a callback token nor a signature"}
		const n = 1000
		for i := range n {
			// Spread over the whole window, both reasons.
			at := window.Add(time.Duration(i) * sqlstore.RefusedAuditWindow / n)
			require.NoError(t, s.RecordDelivery(ctx, refused("task-1", reasons[i%2], at)))
		}
		log, err := s.ListDeliveries(ctx, "task-1")
		require.NoError(t, err)
		require.Len(t, log, len(reasons), "one row per reason in the window")
		require.Equal(t, window.Truncate(time.Microsecond), log[0].ReceivedAt, "the first refusal of the window is the one kept")

		// The next window records again, once.
		next := window.Add(sqlstore.RefusedAuditWindow)
		for range 10 {
			require.NoError(t, s.RecordDelivery(ctx, refused("task-1", reasons[0], next)))
		}
		// Another task has its own rows; accepted deliveries are never dropped.
		require.NoError(t, s.RecordDelivery(ctx, refused("task-2", reasons[0], window)))
		for i := range 3 {
			require.NoError(t, s.RecordDelivery(ctx, domain.Delivery{
				TaskID: "task-1", Event: "progress", DeliveryID: "wh:msg_" + string(rune('a'+i)), Outcome: domain.DeliveryIgnored,
				Reason: "stale", HTTPStatus: 200, ReceivedAt: window,
			}))
		}
		log, err = s.ListDeliveries(ctx, "task-1")
		require.NoError(t, err)
		require.Len(t, log, len(reasons)+1+3)
		other, err := s.ListDeliveries(ctx, "task-2")
		require.NoError(t, err)
		require.Len(t, other, 1)
	})
}
