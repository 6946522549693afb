package ports

//go:generate go tool mockgen -typed -source=notify.go -destination=mocks/notify.go -package=mocks

import (
	"context"
	"time"

	"contenthub/domain"
)

// WebhookEndpoints keeps the subscribers of outbound notifications (§13).
type WebhookEndpoints interface {
	// CreateEndpoint stores a new endpoint.
	CreateEndpoint(ctx context.Context, e *domain.WebhookEndpoint) error
	// GetEndpoint returns an endpoint, or domain.ErrNotFound.
	GetEndpoint(ctx context.Context, id string) (*domain.WebhookEndpoint, error)
	// ListEndpoints returns every endpoint, oldest first.
	ListEndpoints(ctx context.Context) ([]*domain.WebhookEndpoint, error)
	// UpdateEndpoint loads an endpoint, lets fn change it and writes it in
	// one transaction; fn's error rolls back and is returned as is.
	UpdateEndpoint(ctx context.Context, id string, fn func(e *domain.WebhookEndpoint) error) (*domain.WebhookEndpoint, error)
	// DeleteEndpoint removes an endpoint with its messages and their
	// attempts, or returns domain.ErrNotFound.
	DeleteEndpoint(ctx context.Context, id string) error
}

// ClaimedMessage is a message leased to one sender, with what sending it
// needs from its endpoint as it is now.
type ClaimedMessage struct {
	Message      domain.WebhookMessage
	URL          string
	Secrets      []domain.EndpointSecret
	FailingSince time.Time
}

// MessageClaim asks for due messages.
type MessageClaim struct {
	Owner string
	Now   time.Time
	Lease time.Duration
	Limit int
	// PerEndpoint caps the messages of one endpoint in a claim, and Busy
	// lists endpoints that get none (their senders are all at work), so that
	// one slow endpoint's backlog never fills a claim.
	PerEndpoint int
	Busy        []string
}

// AttemptRecord is an attempt's result and what follows it, written in one
// transaction: the attempt's log line, the message, and its endpoint's
// failure streak (or disabling).
type AttemptRecord struct {
	Owner    string // the claim's owner: a message whose lease went to another is not touched
	Attempt  domain.MessageAttempt
	Decision domain.AttemptDecision
}

// MessageQuery filters an endpoint's message log, newest first.
type MessageQuery struct {
	EndpointID string
	Status     domain.MessageStatus // "" = any
	Limit      int
}

// MessageLog is a message with its attempts, oldest attempt first.
type MessageLog struct {
	Message  domain.WebhookMessage
	Attempts []domain.MessageAttempt
}

// Outbox is the queue of outbound messages the task changes wrote.
type Outbox interface {
	// ClaimMessages leases due pending messages of enabled endpoints, oldest
	// due first; concurrent claimers (replicas) never get the same message
	// while its lease runs.
	ClaimMessages(ctx context.Context, c MessageClaim) ([]ClaimedMessage, error)
	// RecordAttempt writes an attempt and its decision. It reports false,
	// writing nothing, when the message is no longer leased to r.Owner.
	RecordAttempt(ctx context.Context, r AttemptRecord) (bool, error)
	// ListMessages returns an endpoint's messages with their attempts.
	ListMessages(ctx context.Context, q MessageQuery) ([]MessageLog, error)
	// ReplayMessage makes a message of the endpoint due at now again, with a
	// fresh retry schedule and the same id; domain.ErrNotFound if unknown.
	ReplayMessage(ctx context.Context, endpointID, messageID string, now time.Time) (MessageLog, error)
	// OldestPending returns when the oldest pending message was written
	// (zero when none is).
	OldestPending(ctx context.Context) (time.Time, error)
}

// OutboundMessage is one attempt to send.
type OutboundMessage struct {
	ID        string // webhook-id
	URL       string
	Payload   []byte
	Timestamp time.Time               // webhook-timestamp: this attempt's
	Secrets   []domain.EndpointSecret // the endpoint's secrets as stored; those active at Timestamp sign
}

// WebhookSender signs and sends one attempt; a failure is a result, not an
// error.
type WebhookSender interface {
	Send(ctx context.Context, m OutboundMessage) domain.SendResult
}

// WebhookSecrets makes endpoint signing secrets.
type WebhookSecrets interface {
	// NewSecret returns a fresh secret as shown to the client once
	// (whsec_…) and as stored (sealed when a key is configured).
	NewSecret() (shown, stored string, err error)
}

// AddressGuard refuses endpoints that point inside the service's network.
type AddressGuard interface {
	// CheckURL resolves the URL's host and fails with a
	// *domain.ValidationError on field "url" if any address is refused.
	CheckURL(ctx context.Context, rawURL string) error
}

// NotifyMetrics records outbound notifications.
type NotifyMetrics interface {
	// MessageAttempted counts an attempt by event and outcome (delivered,
	// retrying, failed) with its latency.
	MessageAttempted(event, outcome string, took time.Duration)
	// OldestPendingMessage is the age of the oldest pending message (0: none).
	OldestPendingMessage(age time.Duration)
}
