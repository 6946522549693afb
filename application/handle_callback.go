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
	Body       []byte // valid while Handle runs: the caller may reuse it after
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
	deps      Deps
	verifier  ports.CallbackVerifier
	completed *completedDeliveries
}

// NewCallbacks builds the callback use case.
func NewCallbacks(deps Deps, verifier ports.CallbackVerifier) *Callbacks {
	return &Callbacks{deps: deps, verifier: verifier, completed: newCompletedDeliveries(completedDeliveriesPerGen, completedDeliveriesTTL)}
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

	// A delivery already recorded is answered from the cheapest exact check,
	// before the body is decoded: its event and taskId read without decoding
	// the rest (peekCallback), the task (to authenticate the request) and the
	// delivery id, in one read. Whatever it cannot answer takes the order of
	// §3 below, with what was looked up kept.
	var (
		task    *domain.Task
		loadErr error
		loaded  bool
		auth    ports.Authentication
		authErr error
		checked seenDelivery // a delivery id looked up and not found
	)
	authenticate := func() {
		auth, authErr = c.verifier.Verify(ports.CallbackRequest{
			TaskID: in.TaskID, Token: in.Token, Header: in.Header, Body: in.Body, ReceivedAt: in.ReceivedAt,
		}, task.Attempts())
	}
	if peeked, ok := peekCallback(in.Body); ok && domain.ValidTaskID(in.TaskID) {
		// The delivery id of the attempt the body names, when it names one
		// the usual way (ExternalRefFor), is looked up in the task's read.
		var guess deliveryGuess
		if n, ok := domain.AttemptOfRef(in.TaskID, peeked.TaskID); ok && in.Header.Get(webhookIDHeader) == "" {
			guess.attempt, guess.id = n, domain.DeliveryID("", in.TaskID, n, peeked.Event, in.Body)
		}
		// A re-send of a completed task's recorded delivery is answered from
		// memory (completedDeliveries); anything else reads the database.
		if remembered, ok := c.completed.lookup(in.TaskID, guess.id, in.ReceivedAt); ok {
			task, guess.seen = remembered, true
			authenticate()
			if authErr == nil {
				if dup, seen := c.seenBefore(ctx, in, task, auth, peeked, guess); seen {
					return duplicateResult(res, task, dup, auth), nil
				}
			}
			auth, authErr = ports.Authentication{}, nil // read and decided again below
		}
		task, guess.seen, loadErr = c.deps.Reader.GetTaskAndDelivery(ctx, in.TaskID, guess.id)
		loaded = true
		if loadErr == nil {
			authenticate()
			if authErr == nil {
				dup, seen := c.seenBefore(ctx, in, task, auth, peeked, guess)
				if seen {
					c.completed.remember(task, dup.deliveryID, in.ReceivedAt)
					return duplicateResult(res, task, dup, auth), nil
				}
				checked = dup
			}
		}
	}

	// 1. The body is decoded once; not being a JSON object is answered first.
	payload, decodeErr := DecodeCallback(in.Body)
	var pe *PayloadError
	if errors.As(decodeErr, &pe) && pe.Code == "invalid_json" {
		return res, decodeErr
	}
	// 2. The task.
	if !domain.ValidTaskID(in.TaskID) {
		return res, fmt.Errorf("task %q: %w", in.TaskID, domain.ErrNotFound)
	}
	if !loaded {
		if task, _, loadErr = c.deps.Reader.GetTaskAndDelivery(ctx, in.TaskID, ""); loadErr == nil {
			authenticate()
		}
	}
	if errors.Is(loadErr, domain.ErrNotFound) {
		return res, loadErr
	}
	if loadErr != nil {
		return res, unavailable("load task", loadErr)
	}
	res.Status = task.Status()
	// 3. Authentication.
	if authErr != nil {
		c.recordRejected(ctx, in, 0, "", "", authErr)
		return res, authErr
	}
	res.Scheme = auth.Scheme
	// 4. The payload.
	if decodeErr != nil {
		c.recordRejected(ctx, in, auth.Attempt, "", auth.Scheme, decodeErr)
		return res, decodeErr
	}
	res.Event = payload.Event
	attempt, err := attemptOf(task, auth, payload.TaskID)
	if err != nil {
		c.recordRejected(ctx, in, auth.Attempt, payload.Event, auth.Scheme, err)
		return res, err
	}
	res.Attempt = attempt
	c.observeDelay(in.ReceivedAt, auth.SentAt, payload.Timestamp)

	// 5. Deduplication, unless that very id was just looked up (the same
	// attempt and event: the same id, not hashed again).
	deliveryID := checked.deliveryID
	if deliveryID == "" || auth.WebhookID != "" || checked.attempt != attempt || checked.event != payload.Event {
		deliveryID = domain.DeliveryID(auth.WebhookID, task.ID(), attempt, payload.Event, in.Body)
		checked = seenDelivery{}
	}
	if checked.deliveryID == "" {
		seen, err := c.deps.Deliveries.HasDelivery(ctx, task.ID(), deliveryID)
		if err != nil {
			return res, unavailable("check delivery", err)
		}
		if seen {
			res.Disposition = CallbackDuplicate
			return res, nil
		}
	}

	// 6. The change, decided on the task as read and written if it is still
	// so (read again under lock otherwise).
	ev := eventFromPayload(payload, attempt, in.ReceivedAt, c.deps.IDs)
	out, applied, err := c.deps.applyEventOn(ctx, task.ID(), task, ev, func(t *domain.Task, o domain.Outcome) *domain.Delivery {
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
	if auth.WebhookID == "" {
		c.completed.remember(applied, deliveryID, in.ReceivedAt)
	}
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

func duplicateResult(res CallbackResult, task *domain.Task, dup seenDelivery, auth ports.Authentication) CallbackResult {
	res.Status = task.Status()
	res.Disposition, res.Event, res.Attempt, res.Scheme = CallbackDuplicate, dup.event, dup.attempt, auth.Scheme
	return res
}

// webhookIDHeader carries scheme c's delivery id (Standard Webhooks).
const webhookIDHeader = "webhook-id"

// deliveryGuess is a delivery id looked up before the attempt was known.
type deliveryGuess struct {
	attempt int
	id      string
	seen    bool
}

// seenDelivery is what the early duplicate check found out.
type seenDelivery struct {
	event      string
	attempt    int
	deliveryID string // the id looked up; "" when it could not tell
}

// seenBefore reports whether an authenticated request repeats a recorded
// delivery, knowing only the body's event and taskId (peekCallback). Exact:
// a recorded id was computed from an accepted delivery's task, attempt,
// event and raw body, so a body with the same id is byte for byte one that
// passed every step of §3, and would again; the attempt is worked out here
// as step 4 does. Deliveries named by a webhook-id (scheme c), whose id does
// not cover the body, are left to the full path, as is anything this check
// cannot read or look up.
func (c *Callbacks) seenBefore(ctx context.Context, in CallbackInput, task *domain.Task, auth ports.Authentication, p peekedCallback, guess deliveryGuess) (seenDelivery, bool) {
	if auth.WebhookID != "" {
		return seenDelivery{}, false
	}
	attempt, err := attemptOf(task, auth, p.TaskID)
	if err != nil {
		return seenDelivery{}, false
	}
	d := seenDelivery{event: p.Event, attempt: attempt}
	id, seen := guess.id, guess.seen
	if id == "" || guess.attempt != attempt {
		id = domain.DeliveryID("", task.ID(), attempt, p.Event, in.Body)
		if seen, err = c.deps.Deliveries.HasDelivery(ctx, task.ID(), id); err != nil {
			return d, false // asked again, in order, by the full path
		}
	}
	d.deliveryID = id
	if !seen {
		return d, false
	}
	c.observeDelay(in.ReceivedAt, auth.SentAt, p.Timestamp)
	return d, true
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
	if err := c.deps.Deliveries.RecordDelivery(ctx, d); err != nil {
		c.deps.Log.Warn("record rejected delivery", zap.String("task_id", in.TaskID), zap.Error(err))
	}
}
