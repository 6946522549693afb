package ports

//go:generate go tool mockgen -typed -source=verifier.go -destination=mocks/verifier.go -package=mocks

import (
	"errors"
	"net/http"
	"time"

	"contenthub/domain"
)

// Authentication failures; the HTTP adapter maps them to 403 and 401.
var (
	ErrCredentialMissing = errors.New("callback credential missing")
	ErrCredentialInvalid = errors.New("callback credential invalid")
	// ErrNoSecretConfigured accompanies ErrCredentialMissing when a
	// callback was signed but the service has no secret to verify it with,
	// so the answer can say what to configure.
	ErrNoSecretConfigured = errors.New("a signature was sent but no WEBHOOK_SECRET_KEY is configured")
)

// CallbackRequest is what authentication looks at.
type CallbackRequest struct {
	TaskID     string
	Token      string // the ?token= query value, "" when absent
	Header     http.Header
	Body       []byte // raw, exactly as received
	ReceivedAt time.Time
}

// Authentication says how a callback proved itself.
type Authentication struct {
	Scheme    string    // "token", "hmac-raw" (a), "hmac-canonical" (b), "standard-webhooks" (c), "none"
	Attempt   int       // the attempt whose token matched; 0 when no token identified one
	WebhookID string    // scheme c's webhook-id, the delivery id
	SentAt    time.Time // the signed timestamp, when the scheme had one
}

// CallbackVerifier authenticates callbacks (§4): per-attempt URL token and
// HMAC signatures. It returns ErrCredentialMissing or ErrCredentialInvalid
// (wrapped) when a callback must be refused.
type CallbackVerifier interface {
	Verify(req CallbackRequest, attempts []domain.Attempt) (Authentication, error)
}
