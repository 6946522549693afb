package application

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"contenthub/domain"
	"contenthub/ports"
)

// CallbackInput is one delivery as received.
type CallbackInput struct {
	TaskID string
	Token  string // the callback URL's token, "" when absent
	// Header holds the request's headers, keys in canonical form (as
	// net/http's Header keeps them), for authentication.
	Header map[string][]string
	// Body is the raw body, for authentication and the delivery id; valid
	// while Handle runs: the caller may reuse it after.
	Body       []byte
	ReceivedAt time.Time
	RequestID  string
	// Wire reads Body and numbers the answers in the terms of the channel
	// the delivery came by.
	Wire CallbackWire
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
// through the transition function. Errors: *PayloadError,
// domain.ErrNotFound, ports.ErrCredentialMissing, ports.ErrCredentialInvalid,
// ErrUnavailable (retry later); the channel's adapter answers each.
func (c *Callbacks) Handle(ctx context.Context, in CallbackInput) (CallbackResult, error) {
	started := c.deps.Clock.Now()
	ctx, span := c.deps.span(ctx, "callback", ports.StringAttr(ports.AttrTaskID, in.TaskID))
	res, err := c.handle(ctx, in)
	outcome := string(res.Disposition)
	if err != nil {
		outcome = callbackErrorOutcome(err)
	}
	event := res.Event
	if event == "" {
		event = "unknown"
	}
	c.deps.Metrics.CallbackHandled(event, outcome, c.deps.Clock.Now().Sub(started))
	span.End(err, ports.IntAttr(ports.AttrAttempt, res.Attempt), ports.StringAttr(ports.AttrEvent, event),
		ports.StringAttr(ports.AttrOutcome, outcome))
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
	early, res, duplicate := c.answerResend(ctx, in)
	if duplicate {
		return res, nil
	}
	return c.settle(ctx, in, early)
}

// taskRead is a delivery's task as read, and the delivery authenticated
// against it (when it was read).
type taskRead struct {
	task    *domain.Task
	err     error // reading the task
	auth    ports.Authentication
	authErr error
}

// readTask reads the task, and whether deliveryID ("": none) is recorded for
// it, in one read; then authenticates the delivery against the task read.
func (c *Callbacks) readTask(ctx context.Context, in CallbackInput, deliveryID string) (taskRead, bool) {
	task, seen, err := c.deps.Reader.GetTaskAndDelivery(ctx, in.TaskID, deliveryID)
	if err != nil {
		return taskRead{err: err}, false
	}
	auth, authErr := c.authenticate(ctx, in, task)
	return taskRead{task: task, auth: auth, authErr: authErr}, seen
}

func (c *Callbacks) authenticate(ctx context.Context, in CallbackInput, task *domain.Task) (ports.Authentication, error) {
	_, span := c.deps.span(ctx, "callback.authenticate", ports.StringAttr(ports.AttrTaskID, in.TaskID))
	auth, err := c.verifier.Verify(ports.CallbackRequest{
		TaskID: in.TaskID, Token: in.Token, Header: in.Header, Body: in.Body, ReceivedAt: in.ReceivedAt,
	}, task.Attempts())
	span.End(err, ports.StringAttr("contenthub.scheme", auth.Scheme), ports.IntAttr(ports.AttrAttempt, auth.Attempt))
	return auth, err
}

// earlyRead is what the early duplicate check looked up without being able
// to answer, handed to settle so that nothing is read twice.
type earlyRead struct {
	taskRead
	read    bool         // the task was read: taskRead holds the answer
	checked seenDelivery // a delivery id looked up and not found
}

// answerResend answers a delivery already recorded from the cheapest exact
// check, before the body is decoded: its event and taskId read without
// decoding the rest (the wire's PeekCallback), the task (to authenticate the request)
// and the delivery id, in one read. What it cannot answer it hands to
// settle, with what it looked up.
func (c *Callbacks) answerResend(ctx context.Context, in CallbackInput) (earlyRead, CallbackResult, bool) {
	peeked, ok := in.Wire.PeekCallback(in.Body)
	if !ok || !domain.ValidTaskID(in.TaskID) {
		return earlyRead{}, CallbackResult{}, false
	}
	guess := guessDelivery(in, peeked)
	if res, ok := c.answerRemembered(ctx, in, peeked, guess); ok {
		return earlyRead{}, res, true
	}
	r, seen := c.readTask(ctx, in, guess.id)
	early := earlyRead{taskRead: r, read: true}
	if r.err != nil || r.authErr != nil {
		return early, CallbackResult{}, false
	}
	guess.seen = seen
	dup, seen := c.seenBefore(ctx, in, r.task, r.auth, peeked, guess)
	if !seen {
		early.checked = dup
		return early, CallbackResult{}, false
	}
	c.completed.remember(r.task, dup.deliveryID, in.ReceivedAt)
	return early, duplicateResult(in.TaskID, r.task, dup, r.auth), true
}

// guessDelivery is the delivery id of the attempt the body names, when it
// names one the usual way (ExternalRefFor), to look up with the task.
func guessDelivery(in CallbackInput, p CallbackPeek) deliveryGuess {
	n, ok := domain.AttemptOfRef(in.TaskID, p.TaskID)
	if !ok || firstValue(in.Header, webhookIDHeader) != "" {
		return deliveryGuess{}
	}
	return deliveryGuess{attempt: n, id: domain.DeliveryID("", in.TaskID, n, p.Event, in.Body)}
}

// answerRemembered answers a re-send of a completed task's recorded delivery
// from memory (completedDeliveries), authenticated against the task
// remembered; anything else is left to the database.
func (c *Callbacks) answerRemembered(ctx context.Context, in CallbackInput, p CallbackPeek, guess deliveryGuess) (CallbackResult, bool) {
	task, ok := c.completed.lookup(in.TaskID, guess.id, in.ReceivedAt)
	if !ok {
		return CallbackResult{}, false
	}
	auth, err := c.authenticate(ctx, in, task)
	if err != nil {
		return CallbackResult{}, false // read and decided again
	}
	guess.seen = true
	dup, seen := c.seenBefore(ctx, in, task, auth, p, guess)
	if !seen {
		return CallbackResult{}, false
	}
	return duplicateResult(in.TaskID, task, dup, auth), true
}

// admitted is a delivery that passed steps 1–4 of §3.
type admitted struct {
	task    *domain.Task
	auth    ports.Authentication
	payload CallbackPayload
	attempt int
}

// settle takes a delivery the early check did not answer through §3 in
// order, with what that check looked up (early).
func (c *Callbacks) settle(ctx context.Context, in CallbackInput, early earlyRead) (CallbackResult, error) {
	a, res, err := c.admit(ctx, in, early)
	if err != nil {
		return res, err
	}
	deliveryID, seen, err := c.lookUpDelivery(ctx, in, a, early.checked)
	if err != nil {
		return res, err
	}
	if seen {
		res.Disposition = CallbackDuplicate
		return res, nil
	}
	return c.apply(ctx, in, a, deliveryID, res)
}

// admit takes steps 1–4 of §3. The result carries what was learnt before a
// refusal.
func (c *Callbacks) admit(ctx context.Context, in CallbackInput, early earlyRead) (admitted, CallbackResult, error) {
	res := CallbackResult{TaskID: in.TaskID}
	// 1. The body is decoded once; not being a JSON object is answered first.
	_, span := c.deps.span(ctx, "callback.decode", ports.StringAttr(ports.AttrTaskID, in.TaskID))
	payload, decodeErr := in.Wire.DecodeCallback(in.Body)
	span.End(decodeErr, ports.StringAttr(ports.AttrEvent, payload.Event))
	var pe *PayloadError
	if errors.As(decodeErr, &pe) && pe.Code == "invalid_json" {
		return admitted{}, res, decodeErr
	}
	// 2. The task, unless the early check read it.
	if !domain.ValidTaskID(in.TaskID) {
		return admitted{}, res, fmt.Errorf("task %q: %w", in.TaskID, domain.ErrNotFound)
	}
	r := early.taskRead
	if !early.read {
		r, _ = c.readTask(ctx, in, "")
	}
	if errors.Is(r.err, domain.ErrNotFound) {
		return admitted{}, res, r.err
	}
	if r.err != nil {
		return admitted{}, res, unavailable("load task", r.err)
	}
	res.Status = r.task.Status()
	// 3. Authentication.
	if r.authErr != nil {
		c.recordRejected(ctx, in, 0, "", "", r.authErr)
		return admitted{}, res, r.authErr
	}
	res.Scheme = r.auth.Scheme
	// 4. The payload.
	if decodeErr != nil {
		c.recordRejected(ctx, in, r.auth.Attempt, "", r.auth.Scheme, decodeErr)
		return admitted{}, res, decodeErr
	}
	res.Event = payload.Event
	attempt, err := attemptOf(r.task, r.auth, payload.TaskID)
	if err != nil {
		c.recordRejected(ctx, in, r.auth.Attempt, payload.Event, r.auth.Scheme, err)
		return admitted{}, res, err
	}
	res.Attempt = attempt
	c.observeDelay(in.ReceivedAt, r.auth.SentAt, payload.Timestamp)
	return admitted{task: r.task, auth: r.auth, payload: payload, attempt: attempt}, res, nil
}

// lookUpDelivery is step 5: the delivery's id and whether it is recorded —
// not asked again when the early check just looked that very id up (the
// same attempt and event: the same id) and did not find it.
func (c *Callbacks) lookUpDelivery(ctx context.Context, in CallbackInput, a admitted, checked seenDelivery) (string, bool, error) {
	if checked.deliveryID != "" && a.auth.WebhookID == "" && checked.attempt == a.attempt && checked.event == a.payload.Event {
		return checked.deliveryID, false, nil
	}
	deliveryID := domain.DeliveryID(a.auth.WebhookID, a.task.ID(), a.attempt, a.payload.Event, in.Body)
	seen, err := c.deps.Deliveries.HasDelivery(ctx, a.task.ID(), deliveryID)
	if err != nil {
		return "", false, unavailable("check delivery", err)
	}
	return deliveryID, seen, nil
}

// apply is step 6: the change, decided on the task as read and written if it
// is still so (read again under lock otherwise), with its delivery record.
func (c *Callbacks) apply(ctx context.Context, in CallbackInput, a admitted, deliveryID string, res CallbackResult) (CallbackResult, error) {
	ev := eventFromPayload(a.payload, a.attempt, in.ReceivedAt, c.deps.IDs)
	ev.ExternalRef = reportedRef(a.task, a.auth, a.payload.TaskID)
	out, applied, err := c.deps.applyEventOn(ctx, a.task.ID(), a.task, ev, func(t *domain.Task, o domain.Outcome) *domain.Delivery {
		settled, _ := dispositionOf(o)
		return &domain.Delivery{
			TaskID: t.ID(), Attempt: a.attempt, Event: a.payload.Event, DeliveryID: deliveryID,
			Scheme: a.auth.Scheme, Outcome: deliveryOutcome(o), Reason: o.Reason, HTTPStatus: in.Wire.SettledStatus(settled),
			RequestID: in.RequestID, ReceivedAt: in.ReceivedAt, SentAt: sentAt(a.auth.SentAt, a.payload.Timestamp),
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
	if a.auth.WebhookID == "" {
		c.completed.remember(applied, deliveryID, in.ReceivedAt)
	}
	res.Disposition, res.Reason = dispositionOf(out)
	return res, nil
}

// dispositionOf is how an outcome settles a delivery, and why when it was
// not applied.
func dispositionOf(out domain.Outcome) (CallbackDisposition, string) {
	switch {
	case out.InvalidResult:
		return CallbackInvalidResult, ""
	case out.Changed:
		return CallbackApplied, ""
	case out.Duplicate:
		// Another source (the process exit, a poll) told this outcome first.
		return CallbackDuplicate, out.Reason
	default:
		return CallbackIgnored, out.Reason
	}
}

func duplicateResult(taskID string, task *domain.Task, dup seenDelivery, auth ports.Authentication) CallbackResult {
	return CallbackResult{
		Disposition: CallbackDuplicate, TaskID: taskID, Status: task.Status(),
		Event: dup.event, Attempt: dup.attempt, Scheme: auth.Scheme,
	}
}

// webhookIDHeader carries scheme c's delivery id (Standard Webhooks), in
// canonical form.
const webhookIDHeader = "Webhook-Id"

// firstValue is http.Header's Get for a key in canonical form.
func firstValue(header map[string][]string, key string) string {
	if v := header[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

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
// delivery, knowing only the body's event and taskId (PeekCallback). Exact:
// a recorded id was computed from an accepted delivery's task, attempt,
// event and raw body, so a body with the same id is byte for byte one that
// passed every step of §3, and would again; the attempt is worked out here
// as step 4 does. Deliveries named by a webhook-id (scheme c), whose id does
// not cover the body, are left to the full path, as is anything this check
// cannot read or look up.
func (c *Callbacks) seenBefore(ctx context.Context, in CallbackInput, task *domain.Task, auth ports.Authentication, p CallbackPeek, guess deliveryGuess) (seenDelivery, bool) {
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
// meant for task A is never applied to task B — unless the attempt's own
// token authenticated it: then the id is the one content-creator reports for
// that attempt (its API may run a job under an id of its own), accepted, and
// kept as the attempt's external ref (reportedRef, issue #19).
func attemptOf(t *domain.Task, auth ports.Authentication, bodyRef string) (int, error) {
	if bodyRef != "" && !t.KnowsRef(bodyRef) {
		if auth.Attempt > 0 && !namesAnotherTask(t, bodyRef) {
			return auth.Attempt, nil
		}
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

// namesAnotherTask reports whether ref has the shape of another task's
// attempt ref (`[prefix]task-…-N`): never taken as this attempt's own id.
func namesAnotherTask(t *domain.Task, ref string) bool {
	i := strings.Index(ref, "task-")
	if i < 0 {
		return false
	}
	rest := ref[i:]
	j := strings.LastIndexByte(rest, '-')
	if j <= len("task") {
		return false
	}
	id := rest[:j]
	if _, ok := domain.AttemptOfRef(id, rest); !ok || !domain.ValidTaskID(id) {
		return false
	}
	return id != t.ID()
}

// reportedRef is the id a token-authenticated delivery reports for its
// attempt when the task does not know it yet (attemptOf accepted it): it
// becomes the attempt's external ref. "" otherwise.
func reportedRef(t *domain.Task, auth ports.Authentication, bodyRef string) string {
	if bodyRef == "" || auth.Attempt == 0 || t.KnowsRef(bodyRef) || namesAnotherTask(t, bodyRef) {
		return ""
	}
	return bodyRef
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
	d := domain.Delivery{
		TaskID: in.TaskID, Attempt: attempt, Event: event, Scheme: scheme, Outcome: domain.DeliveryRejected,
		Reason: cause.Error(), HTTPStatus: in.Wire.RefusedStatus(cause), RequestID: in.RequestID, ReceivedAt: in.ReceivedAt,
	}
	if err := c.deps.Deliveries.RecordDelivery(ctx, d); err != nil {
		c.deps.Log.Warn("record rejected delivery", zap.String("task_id", in.TaskID), zap.Error(err))
	}
}
