package domain

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// NotifyEvent is the type of an outbound notification (§13): what a
// subscriber receives in a message's "type".
type NotifyEvent string

// The task's terminal changes (§13).
const (
	EventTaskCompleted NotifyEvent = "task.completed"
	EventTaskFailed    NotifyEvent = "task.failed"
	EventTaskTimeout   NotifyEvent = "task.timeout"
	EventTaskCancelled NotifyEvent = "task.cancelled"
)

// The review's and the publish pool's changes (§15), decided as an
// Announcement. A publication that fails and will be retried sends nothing,
// like a task's retried attempt.
const (
	EventContentApproved NotifyEvent = "content.approved"
	EventContentRejected NotifyEvent = "content.rejected"
	EventPoolPublished   NotifyEvent = "pool.published"
	EventPoolFailed      NotifyEvent = "pool.failed"
)

// NotifyEvents lists the events an endpoint may subscribe to.
var NotifyEvents = []NotifyEvent{
	EventTaskCompleted, EventTaskFailed, EventTaskTimeout, EventTaskCancelled,
	EventContentApproved, EventContentRejected, EventPoolPublished, EventPoolFailed,
}

// Known reports whether e is an event endpoints can subscribe to.
func (e NotifyEvent) Known() bool {
	for _, k := range NotifyEvents {
		if e == k {
			return true
		}
	}
	return false
}

// taskEvents maps a terminal status to the event announcing it.
var taskEvents = map[Status]NotifyEvent{
	StatusCompleted: EventTaskCompleted,
	StatusFailed:    EventTaskFailed,
	StatusTimeout:   EventTaskTimeout,
	StatusCancelled: EventTaskCancelled,
}

// Notification is one event to announce, decided by a use case and written
// in the same transaction as the change that causes it (the outbox): the
// store fans it out to one message per subscribed, enabled endpoint.
type Notification struct {
	ID        string      // unique per event; with the endpoint id it makes each message's webhook-id
	Event     NotifyEvent // what subscribers filter on
	Subject   string      // what it is about: a task id (a content or pool entry id for §15's events)
	AccountID int64       // endpoints filtered to another account do not get it
	Payload   []byte      // the message body, fixed at the change: every attempt sends the same bytes
	At        time.Time
}

// taskNotificationData is the thin body's data (§13): the article itself is
// fetched from /api/v1/contents/{id}.
type taskNotificationData struct {
	TaskID      string     `json:"task_id"`
	AccountID   int64      `json:"account_id"`
	Status      Status     `json:"status"`
	Attempt     int        `json:"attempt"`
	ContentID   *string    `json:"content_id"`
	Title       *string    `json:"title"`
	WordCount   *int       `json:"word_count"`
	ScheduleID  *string    `json:"schedule_id"`
	LastError   *TaskError `json:"last_error"`
	CompletedAt *time.Time `json:"completed_at"`
}

type notificationBody struct {
	Type      NotifyEvent `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      any         `json:"data"`
}

// Notifies reports whether the change o describes is announced to
// subscribers: a change into a terminal status.
func (o Outcome) Notifies() bool { return o.Changed && o.From != o.To && o.To.Terminal() }

// TaskNotification is the notification a change of t announces, if any:
// only a change into a terminal status does (an attempt that fails and will
// be retried sends nothing). content is the content the change created, when
// it did (its title and word count go into the message).
func TaskNotification(id string, t *Task, out Outcome, content *Content) (*Notification, bool) {
	if !out.Notifies() {
		return nil, false
	}
	event, ok := taskEvents[out.To]
	if !ok {
		return nil, false
	}
	at := t.UpdatedAt().UTC()
	data := taskNotificationData{
		TaskID: t.ID(), AccountID: t.AccountID(), Status: t.Status(), Attempt: t.Attempt(),
	}
	if c := t.ContentID(); c != "" {
		data.ContentID = &c
	}
	if content != nil {
		title, words := content.Title, content.WordCount
		data.Title, data.WordCount = &title, &words
	}
	if e, ok := t.LastError(); ok && t.Status() != StatusCompleted {
		data.LastError = &e
	}
	if c := t.CompletedAt(); !c.IsZero() {
		c = c.UTC()
		data.CompletedAt = &c
	}
	body, err := json.Marshal(notificationBody{Type: event, Timestamp: at, Data: data})
	if err != nil { // plain data: cannot happen
		panic(fmt.Sprintf("encode notification: %v", err))
	}
	return &Notification{ID: id, Event: event, Subject: t.ID(), AccountID: t.AccountID(), Payload: body, At: at}, true
}

// Endpoint limits.
const (
	MaxEndpointURLLength         = 2000
	MaxEndpointDescriptionLength = 500
)

// EndpointSecret is one signing secret of an endpoint, in the form the store
// keeps it (sealed when NOTIFY_SECRETS_KEY is set). A secret with an
// ExpiresAt signs until then: a rotation's overlap.
type EndpointSecret struct {
	Stored    string
	ExpiresAt time.Time // zero: the current secret
}

// WebhookEndpoint is a subscriber of outbound notifications.
type WebhookEndpoint struct {
	id             string
	url            string
	events         []NotifyEvent
	accountID      int64 // 0: every account
	description    string
	enabled        bool
	disabledReason string
	secrets        []EndpointSecret // current first
	failingSince   time.Time        // first failure since the last success; zero when healthy
	createdAt      time.Time
	updatedAt      time.Time
}

// NewEndpointParams is what a client asks for.
type NewEndpointParams struct {
	ID          string
	URL         string
	Events      []string
	AccountID   int64
	Description string
	Secret      string // stored form of the first secret
}

// NewWebhookEndpoint validates p. The address itself (which IP it resolves
// to) is the adapters' to check.
func NewWebhookEndpoint(p NewEndpointParams, now time.Time) (*WebhookEndpoint, error) {
	e := &WebhookEndpoint{id: p.ID, enabled: true, createdAt: now.UTC(), updatedAt: now.UTC(),
		secrets: []EndpointSecret{{Stored: p.Secret}}}
	if err := e.SetURL(p.URL); err != nil {
		return nil, err
	}
	if err := e.SetEvents(p.Events); err != nil {
		return nil, err
	}
	if p.AccountID < 0 {
		return nil, invalid("account_id", "must be a positive integer")
	}
	e.accountID = p.AccountID
	if err := e.SetDescription(p.Description); err != nil {
		return nil, err
	}
	return e, nil
}

// ValidateEndpointURL accepts absolute http and https URLs with a host and
// without credentials.
func ValidateEndpointURL(raw string) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, invalid("url", "is required")
	}
	if len(raw) > MaxEndpointURLLength {
		return nil, invalid("url", "must be at most %d characters", MaxEndpointURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, invalid("url", "is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, invalid("url", "must be an http or https URL")
	}
	if u.Hostname() == "" {
		return nil, invalid("url", "must name a host")
	}
	if u.User != nil {
		return nil, invalid("url", "must not carry credentials")
	}
	if u.Fragment != "" {
		return nil, invalid("url", "must not have a fragment")
	}
	return u, nil
}

// SetURL changes where messages go.
func (e *WebhookEndpoint) SetURL(raw string) error {
	if _, err := ValidateEndpointURL(raw); err != nil {
		return err
	}
	e.url = raw
	return nil
}

// SetEvents changes what the endpoint subscribes to: at least one known
// event, duplicates dropped.
func (e *WebhookEndpoint) SetEvents(events []string) error {
	if len(events) == 0 {
		return invalid("events", "must name at least one event")
	}
	seen := map[NotifyEvent]bool{}
	var out []NotifyEvent
	for _, s := range events {
		ev := NotifyEvent(s)
		if !ev.Known() {
			return invalid("events", "%q is not a known event (want one of %s)", s, joinEvents(NotifyEvents))
		}
		if !seen[ev] {
			seen[ev] = true
			out = append(out, ev)
		}
	}
	e.events = out
	return nil
}

func joinEvents(events []NotifyEvent) string {
	s := make([]string, len(events))
	for i, e := range events {
		s[i] = string(e)
	}
	return strings.Join(s, ", ")
}

// SetDescription changes the operator's note.
func (e *WebhookEndpoint) SetDescription(d string) error {
	if err := maxRunes("description", d, MaxEndpointDescriptionLength); err != nil {
		return err
	}
	e.description = d
	return nil
}

// SetEnabled turns delivery on or off. Enabling clears the reason it was
// disabled and the failure streak, so the 3-day rule counts afresh.
func (e *WebhookEndpoint) SetEnabled(on bool, now time.Time) {
	e.enabled = on
	if on {
		e.disabledReason, e.failingSince = "", time.Time{}
	} else if e.disabledReason == "" {
		e.disabledReason = "disabled by an operator"
	}
	e.updatedAt = now.UTC()
}

// Rotate makes stored the current secret; the previous current one keeps
// signing for overlap (0: not at all). Expired secrets are dropped.
func (e *WebhookEndpoint) Rotate(stored string, overlap time.Duration, now time.Time) {
	next := []EndpointSecret{{Stored: stored}}
	for _, s := range e.secrets {
		switch {
		case s.ExpiresAt.IsZero() && overlap > 0:
			next = append(next, EndpointSecret{Stored: s.Stored, ExpiresAt: now.UTC().Add(overlap)})
		case !s.ExpiresAt.IsZero() && s.ExpiresAt.After(now):
			next = append(next, s)
		}
	}
	e.secrets = next
	e.updatedAt = now.UTC()
}

// SigningSecrets are the secrets a message sent at now is signed with:
// the current one and those still in their overlap.
func (e *WebhookEndpoint) SigningSecrets(now time.Time) []string {
	return ActiveSecrets(e.secrets, now)
}

// ActiveSecrets are the stored secrets that sign at now.
func ActiveSecrets(secrets []EndpointSecret, now time.Time) []string {
	var out []string
	for _, s := range secrets {
		if s.ExpiresAt.IsZero() || s.ExpiresAt.After(now) {
			out = append(out, s.Stored)
		}
	}
	return out
}

// Subscribes reports whether the endpoint wants ev about accountID.
func (e *WebhookEndpoint) Subscribes(ev NotifyEvent, accountID int64) bool {
	if !e.enabled || (e.accountID != 0 && e.accountID != accountID) {
		return false
	}
	for _, s := range e.events {
		if s == ev {
			return true
		}
	}
	return false
}

// WebhookEndpointSnapshot is every field, for adapters.
type WebhookEndpointSnapshot struct {
	ID             string
	URL            string
	Events         []NotifyEvent
	AccountID      int64
	Description    string
	Enabled        bool
	DisabledReason string
	Secrets        []EndpointSecret
	FailingSince   time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// RehydrateWebhookEndpoint rebuilds a stored endpoint without validation
// (adapters only).
func RehydrateWebhookEndpoint(s WebhookEndpointSnapshot) *WebhookEndpoint {
	return &WebhookEndpoint{
		id: s.ID, url: s.URL, events: append([]NotifyEvent(nil), s.Events...), accountID: s.AccountID,
		description: s.Description, enabled: s.Enabled, disabledReason: s.DisabledReason,
		secrets: append([]EndpointSecret(nil), s.Secrets...), failingSince: s.FailingSince,
		createdAt: s.CreatedAt, updatedAt: s.UpdatedAt,
	}
}

// Snapshot returns every field.
func (e *WebhookEndpoint) Snapshot() WebhookEndpointSnapshot {
	return WebhookEndpointSnapshot{
		ID: e.id, URL: e.url, Events: append([]NotifyEvent(nil), e.events...), AccountID: e.accountID,
		Description: e.description, Enabled: e.enabled, DisabledReason: e.disabledReason,
		Secrets: append([]EndpointSecret(nil), e.secrets...), FailingSince: e.failingSince,
		CreatedAt: e.createdAt, UpdatedAt: e.updatedAt,
	}
}

func (e *WebhookEndpoint) ID() string              { return e.id }
func (e *WebhookEndpoint) URL() string             { return e.url }
func (e *WebhookEndpoint) Events() []NotifyEvent   { return append([]NotifyEvent(nil), e.events...) }
func (e *WebhookEndpoint) AccountID() int64        { return e.accountID }
func (e *WebhookEndpoint) Description() string     { return e.description }
func (e *WebhookEndpoint) Enabled() bool           { return e.enabled }
func (e *WebhookEndpoint) DisabledReason() string  { return e.disabledReason }
func (e *WebhookEndpoint) FailingSince() time.Time { return e.failingSince }
func (e *WebhookEndpoint) CreatedAt() time.Time    { return e.createdAt }
func (e *WebhookEndpoint) UpdatedAt() time.Time    { return e.updatedAt }
func (e *WebhookEndpoint) Secrets() []EndpointSecret {
	return append([]EndpointSecret(nil), e.secrets...)
}
func (e *WebhookEndpoint) CurrentSecret() EndpointSecret { return e.secrets[0] }

// MessageStatus is where an outbound message stands.
type MessageStatus string

const (
	MessagePending   MessageStatus = "pending"   // waiting for its next attempt
	MessageDelivered MessageStatus = "delivered" // a 2xx answered
	MessageFailed    MessageStatus = "failed"    // the retry schedule ran out, or its endpoint is gone (410)
)

// Valid reports whether s is a known message status.
func (s MessageStatus) Valid() bool {
	return s == MessagePending || s == MessageDelivered || s == MessageFailed
}

// WebhookMessage is one notification for one endpoint: its id is the
// webhook-id every attempt carries.
type WebhookMessage struct {
	ID            string
	EndpointID    string
	Event         NotifyEvent
	Subject       string
	AccountID     int64
	Payload       []byte
	Status        MessageStatus
	Attempts      int // made so far, replays included
	Retries       int // failed attempts since it was written or replayed: the position in the schedule
	NextAttemptAt time.Time
	CreatedAt     time.Time
	DeliveredAt   time.Time
	LastError     string
}

// MessageAttempt is one try at sending a message, as the log shows it.
type MessageAttempt struct {
	MessageID  string
	EndpointID string
	Number     int
	At         time.Time
	StatusCode int    // 0: no answer
	Error      string // "" for a 2xx
	Latency    time.Duration
}

// SendResult is how an attempt went.
type SendResult struct {
	StatusCode int           // 0: no HTTP answer (refused address, timeout, dropped connection)
	RetryAfter time.Duration // from a 429 or 503 answer's Retry-After; 0 when absent
	Err        string        // why it failed; "" for a 2xx
	Latency    time.Duration
}

// Succeeded reports a 2xx.
func (r SendResult) Succeeded() bool { return r.StatusCode >= 200 && r.StatusCode < 300 }

// DefaultNotifyRetrySchedule is NOTIFY_RETRY_SCHEDULE's default: the waits
// after the first attempt, the second, … ; past the last, the message fails.
var DefaultNotifyRetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// Retry-After bounds: a receiver cannot park a message for longer.
const MaxRetryAfter = 24 * time.Hour

// EndpointFailureLimit disables an endpoint whose messages all failed for
// that long.
const EndpointFailureLimit = 72 * time.Hour

// NotifyRetryPolicy decides what follows an attempt (§13), as a pure
// function of the attempt's result, the message, the clock and a random
// number.
type NotifyRetryPolicy struct {
	Schedule     []time.Duration
	Jitter       float64       // fraction of a wait added or removed at random: 0.2 → ±20 %
	FailureLimit time.Duration // 0: EndpointFailureLimit
}

// AttemptDecision is what the store writes after an attempt.
type AttemptDecision struct {
	Status        MessageStatus
	Retries       int
	NextAttemptAt time.Time // for MessagePending
	// DisableEndpoint, when not "", disables the endpoint with this reason.
	DisableEndpoint string
	// EndpointFailing: the attempt failed (the endpoint's failure streak
	// starts at At unless it has started already); false: it succeeded, and
	// the streak ends.
	EndpointFailing bool
}

// Decide says what happens to m after an attempt at now with result r.
// failingSince is the endpoint's failure streak start (zero: none); random
// is in [0, 1).
func (p NotifyRetryPolicy) Decide(m WebhookMessage, r SendResult, failingSince, now time.Time, random float64) AttemptDecision {
	if r.Succeeded() {
		return AttemptDecision{Status: MessageDelivered, Retries: m.Retries}
	}
	d := AttemptDecision{EndpointFailing: true, Retries: m.Retries + 1}
	if r.StatusCode == 410 {
		d.Status, d.DisableEndpoint = MessageFailed, "the endpoint answered 410 Gone"
		return d
	}
	limit := p.FailureLimit
	if limit <= 0 {
		limit = EndpointFailureLimit
	}
	if !failingSince.IsZero() && now.Sub(failingSince) >= limit {
		d.DisableEndpoint = fmt.Sprintf("every message failed for %s", limit)
	}
	if m.Retries >= len(p.Schedule) {
		d.Status = MessageFailed
		return d
	}
	wait := p.Schedule[m.Retries]
	if p.Jitter > 0 {
		wait += time.Duration((random*2 - 1) * p.Jitter * float64(wait))
	}
	if (r.StatusCode == 429 || r.StatusCode == 503) && r.RetryAfter > 0 {
		wait = min(r.RetryAfter, MaxRetryAfter)
	}
	d.Status, d.NextAttemptAt = MessagePending, now.Add(wait)
	return d
}

// ParseNotifyRetrySchedule reads "5s,5m,30m" with parse (the configuration's
// duration reader).
func ParseNotifyRetrySchedule(s string, parse func(string) (time.Duration, error)) ([]time.Duration, error) {
	var out []time.Duration
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, err := parse(part)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%q is not a positive duration", part)
		}
		out = append(out, d)
	}
	return out, nil
}
