package worker

import (
	"context"

	"go.uber.org/zap"

	"contenthub/cmd/content-creator-sim/internal/taskstore"
	"contenthub/cmd/content-creator-sim/internal/webhook"
)

// outbox turns callback bodies into deliveries, applying the delivery faults: none at all, each twice, or
// progress reports swapped in pairs (40 before 10, 100 before 70). Deliveries are sequential, like the real
// sender's single queue; one that fails for good is logged and the run goes on.
type outbox struct {
	sender     *webhook.Sender // nil: send nothing
	task       taskstore.Task
	log        *zap.Logger
	duplicate  bool
	outOfOrder bool
	held       *webhook.Callback // a progress report waiting for its successor
}

// send delivers b, or holds it back when progress is to arrive out of order.
func (o *outbox) send(ctx context.Context, b body) {
	if o.sender == nil {
		return
	}
	raw, err := b.encode()
	if err != nil {
		o.log.Error("callback not sent", zap.Error(err))
		return
	}
	cb := webhook.Callback{URL: o.task.CallbackURL, Event: b.Event, TaskID: o.task.ID, ID: newMessageID(), Body: raw}
	if o.outOfOrder && b.Event == EventProgress {
		if o.held == nil {
			o.held = &cb
			return
		}
		o.deliver(ctx, cb)
		o.flush(ctx)
		return
	}
	o.flush(ctx)
	o.deliver(ctx, cb)
}

// flush delivers a held progress report.
func (o *outbox) flush(ctx context.Context) {
	if o.held == nil {
		return
	}
	cb := *o.held
	o.held = nil
	o.deliver(ctx, cb)
}

// deliver sends cb (twice when duplicating: the same delivery, same body and webhook-id).
func (o *outbox) deliver(ctx context.Context, cb webhook.Callback) {
	times := 1
	if o.duplicate {
		times = 2
	}
	for range times {
		if err := o.sender.Deliver(ctx, cb); err != nil {
			o.log.Error("callback given up", zap.String("event", cb.Event), zap.Error(err))
		}
	}
}
