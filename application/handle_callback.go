package application

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"contenthub/domain"
	"contenthub/ports"
)

// CallbackInput is one delivery as received.
type CallbackInput struct {
	TaskID     string
	Token      string
	Header     http.Header
	Body       []byte
	ReceivedAt time.Time
	RequestID  string
}

// CallbackDisposition is how a delivery was settled.
type CallbackDisposition string

const (
	CallbackApplied       CallbackDisposition = "applied"
	CallbackIgnored       CallbackDisposition = "ignored"
	CallbackDuplicate     CallbackDisposition = "duplicate"
	CallbackInvalidResult CallbackDisposition = "invalid_result"
)

// CallbackResult answers a settled delivery.
type CallbackResult struct {
	Disposition CallbackDisposition
	TaskID      string
	Status      domain.Status
	Event       string
	Attempt     int
	Scheme      string
	Reason      string // why it was ignored
}

// Callbacks handles content-creator's callbacks (§3).
type Callbacks struct {
	deps     Deps
	verifier ports.CallbackVerifier
}

// NewCallbacks builds the callback use case.
func NewCallbacks(deps Deps, verifier ports.CallbackVerifier) *Callbacks {
	return &Callbacks{deps: deps, verifier: verifier}
}

// Handle settles one delivery in the order of §3: JSON check, task lookup,
// authentication, payload validation, deduplication, then one transaction
// through the transition function. Errors: *PayloadError (400),
// domain.ErrNotFound (404), ports.ErrCredentialMissing (403),
// ports.ErrCredentialInvalid (401), ErrUnavailable (503).
func (c *Callbacks) Handle(ctx context.Context, in CallbackInput) (CallbackResult, error) {
	started := time.Now()
	res, err := c.handle(ctx, in)
	outcome := string(res.Disposition)
	if err != nil {
		outcome = callbackErrorOutcome(err)
	}
	event := res.Event
	if event == "" {
		event = "unknown"
	}
	c.deps.Metrics.CallbackHandled(event, outcome, time.Since(started))
	return res, err
}

func callbackErrorOutcome(err error) string {
	var pe *PayloadError
	switch {
	case errors.As(err, &pe):
		return "bad_request"
	case errors.Is(err, domain.ErrNotFound):
		return "not_found"
	case errors.Is(err, ports.ErrCredentialMissing):
		return "forbidden"
	case errors.Is(err, ports.ErrCredentialInvalid):
		return "unauthorized"
	default:
		return "unavailable"
	}
}

func (c *Callbacks) handle(ctx context.Context, in CallbackInput) (CallbackResult, error) {
	res := CallbackResult{TaskID: in.TaskID}
	if err := CheckJSONObject(in.Body); err != nil {
		return res, err
	}
	if !domain.ValidTaskID(in.TaskID) {
		return res, fmt.Errorf("task %q: %w", in.TaskID, domain.ErrNotFound)
	}
	task, err := c.deps.Store.GetTask(ctx, in.TaskID)
	if errors.Is(err, domain.ErrNotFound) {
		return res, err
	}
	if err != nil {
		return res, unavailable("load task", err)
	}
	res.Status = task.Status()

	auth, err := c.verifier.Verify(ports.CallbackRequest{
		TaskID: in.TaskID, Token: in.Token, Header: in.Header, Body: in.Body, ReceivedAt: in.ReceivedAt,
	}, task.Attempts())
	if err != nil {
		c.recordRejected(ctx, in, 0, "", "", err)
		return res, err
	}
	res.Scheme = auth.Scheme

	payload, err := DecodeCallback(in.Body)
	if err != nil {
		c.recordRejected(ctx, in, auth.Attempt, "", auth.Scheme, err)
		return res, err
	}
	res.Event = payload.Event
	attempt, err := attemptOf(task, auth, payload.TaskID)
	if err != nil {
		c.recordRejected(ctx, in, auth.Attempt, payload.Event, auth.Scheme, err)
		return res, err
	}
	res.Attempt = attempt
	c.observeDelay(in.ReceivedAt, auth.SentAt, payload.Timestamp)

	deliveryID := domain.DeliveryID(auth.WebhookID, task.ID(), attempt, payload.Event, in.Body)
	seen, err := c.deps.Store.HasDelivery(ctx, task.ID(), deliveryID)
	if err != nil {
		return res, unavailable("check delivery", err)
	}
	if seen {
		res.Disposition = CallbackDuplicate
		return res, nil
	}

	ev := eventFromPayload(payload, attempt, in.ReceivedAt, c.deps.IDs)
	out, applied, err := c.deps.applyEvent(ctx, task.ID(), ev, func(t *domain.Task, o domain.Outcome) *domain.Delivery {
		return &domain.Delivery{
			TaskID: t.ID(), Attempt: attempt, Event: payload.Event, DeliveryID: deliveryID,
			Scheme: auth.Scheme, Outcome: deliveryOutcome(o), Reason: o.Reason, HTTPStatus: httpStatusFor(o),
			RequestID: in.RequestID, ReceivedAt: in.ReceivedAt, SentAt: sentAt(auth.SentAt, payload.Timestamp),
		}
	})
	switch {
	case errors.Is(err, domain.ErrDuplicateDelivery):
		res.Disposition = CallbackDuplicate
		return res, nil
	case err != nil:
		return res, unavailable("apply callback", err)
	}
	res.Status = applied.Status()
	switch {
	case out.InvalidResult:
		res.Disposition = CallbackInvalidResult
	case out.Changed:
		res.Disposition = CallbackApplied
	case out.Duplicate:
		// Another source (the process exit, a poll) told this outcome first.
		res.Disposition, res.Reason = CallbackDuplicate, out.Reason
	default:
		res.Disposition, res.Reason = CallbackIgnored, out.Reason
	}
	return res, nil
}

// attemptOf decides which attempt a delivery speaks for: the attempt whose
// token authenticated it, else the attempt its body names, else the current
// one. A body naming something that is not this task is refused, so a body
// meant for task A is never applied to task B.
func attemptOf(t *domain.Task, auth ports.Authentication, bodyRef string) (int, error) {
	if bodyRef != "" && !t.KnowsRef(bodyRef) {
		return 0, payloadError("task_mismatch", "taskId does not name this task")
	}
	if auth.Attempt > 0 {
		if a, ok := t.AttemptByRef(bodyRef); ok && a.Number != auth.Attempt {
			return 0, payloadError("task_mismatch", "taskId names another attempt than the callback URL")
		}
		return auth.Attempt, nil
	}
	if a, ok := t.AttemptByRef(bodyRef); ok {
		return a.Number, nil
	}
	return t.Attempt(), nil
}

func eventFromPayload(p CallbackPayload, attempt int, at time.Time, ids ports.IDGenerator) domain.Event {
	ev := domain.Event{Source: domain.SourceWebhook, Attempt: attempt, At: at}
	switch p.Event {
	case "completed":
		ev.Kind, ev.Result = domain.EventCompleted, p.Result
		ev.IDs = domain.CompletionIDs{ContentID: ids.NewID("content"), PoolEntryID: ids.NewID("pool")}
	case "failed":
		ev.Kind, ev.Error = domain.EventFailed, p.Error
	case "progress":
		ev.Kind, ev.Progress = domain.EventProgress, p.Progress
	}
	return ev
}

func deliveryOutcome(o domain.Outcome) domain.DeliveryOutcome {
	switch {
	case o.InvalidResult:
		return domain.DeliveryInvalid
	case o.Changed:
		return domain.DeliveryApplied
	default:
		return domain.DeliveryIgnored
	}
}

func httpStatusFor(o domain.Outcome) int {
	if o.InvalidResult {
		return http.StatusUnprocessableEntity
	}
	return http.StatusOK
}

func sentAt(signed, body time.Time) time.Time {
	if !signed.IsZero() {
		return signed
	}
	return body
}

func (c *Callbacks) observeDelay(received, signed, body time.Time) {
	if s := sentAt(signed, body); !s.IsZero() && !received.Before(s) {
		c.deps.Metrics.NotificationDelay(received.Sub(s))
	}
}

// recordRejected keeps an audit record of a refused delivery. It carries no
// delivery id: an unauthenticated request must not claim one. Failing to
// write it does not change the answer.
func (c *Callbacks) recordRejected(ctx context.Context, in CallbackInput, attempt int, event, scheme string, cause error) {
	status := http.StatusBadRequest
	switch {
	case errors.Is(cause, ports.ErrCredentialMissing):
		status = http.StatusForbidden
	case errors.Is(cause, ports.ErrCredentialInvalid):
		status = http.StatusUnauthorized
	}
	d := domain.Delivery{
		TaskID: in.TaskID, Attempt: attempt, Event: event, Scheme: scheme, Outcome: domain.DeliveryRejected,
		Reason: cause.Error(), HTTPStatus: status, RequestID: in.RequestID, ReceivedAt: in.ReceivedAt,
	}
	if err := c.deps.Store.RecordDelivery(ctx, d); err != nil {
		c.deps.Log.Warn("record rejected delivery", zap.String("task_id", in.TaskID), zap.Error(err))
	}
}
