// Package signature authenticates content-creator callbacks (SERVICE.md §4):
// the per-attempt URL token and three HMAC-SHA256 signature schemes — raw
// body (a), the seed's Python-canonical JSON (b) and Standard Webhooks v1 (c).
// It also signs with each scheme, for the `contenthub sign` command, the
// simulator and tests. SIGNATURES.md holds the exact rules and vectors.
package signature

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"contenthub/domain"
	"contenthub/ports"
)

// Scheme names as reported in ports.Authentication.Scheme and recorded with
// each delivery.
const (
	SchemeToken     = "token"
	SchemeRaw       = "hmac-raw"          // a
	SchemeCanonical = "hmac-canonical"    // b
	SchemeStandard  = "standard-webhooks" // c
	SchemeNone      = "none"              // open endpoint: tokens off, signatures not required
)

// Header names. http.Header.Get canonicalises them, so the lower-case
// Standard Webhooks names work as written.
const (
	HeaderSignature        = "X-Webhook-Signature" // schemes a and b
	HeaderTimestamp        = "X-Webhook-Timestamp" // scheme a, optional
	HeaderWebhookID        = "webhook-id"          // scheme c
	HeaderWebhookTimestamp = "webhook-timestamp"   // scheme c
	HeaderWebhookSignature = "webhook-signature"   // scheme c
)

// DefaultTolerance is how far a signed timestamp may lie from the time the
// callback was received when Config.Tolerance is zero.
const DefaultTolerance = 5 * time.Minute

// CanonicalMaxBodyBytes bounds the bodies scheme b is tried on. Scheme b
// parses and re-serialises the whole body before its HMAC — an order of
// magnitude more work than schemes a and c — so an unauthenticated sender must
// not be able to make the service do it on a large body. The seed's callbacks
// are far below it; larger ones must sign by scheme a or c.
const CanonicalMaxBodyBytes = 1 << 20

// Config is the verifier's share of the WEBHOOK_* settings.
type Config struct {
	// Secrets are the HMAC secrets, current first (WEBHOOK_SECRET_KEY; see
	// ParseSecrets). Every one of them verifies, so secrets can be rotated.
	Secrets []string
	// RequireSignature makes a valid signature mandatory
	// (WEBHOOK_REQUIRE_SIGNATURE).
	RequireSignature bool
	// Tokens enables the per-attempt ?token= credential
	// (WEBHOOK_CALLBACK_TOKENS).
	Tokens bool
	// Tolerance bounds the age (and future skew) of signed timestamps
	// (WEBHOOK_TOLERANCE); zero means DefaultTolerance.
	Tolerance time.Duration
	// RequireTimestamp refuses signatures that sign no timestamp: scheme a
	// without X-Webhook-Timestamp, and scheme b, which has none
	// (WEBHOOK_REQUIRE_TIMESTAMP). Such a signature never expires, so a
	// captured callback could be replayed forever.
	RequireTimestamp bool
}

// ParseSecrets splits a WEBHOOK_SECRET_KEY value into its secrets: comma
// separated, surrounding spaces trimmed, empty entries dropped.
func ParseSecrets(s string) []string {
	var secrets []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			secrets = append(secrets, part)
		}
	}
	return secrets
}

// Verifier implements ports.CallbackVerifier. It is safe for concurrent use.
type Verifier struct {
	requireSignature bool
	requireTimestamp bool
	tokens           bool
	tolerance        time.Duration
	rawKeys          [][]byte // schemes a and b: each secret's bytes as written
	standardKeys     [][]byte // scheme c: the decoded whsec_ secrets only
}

var _ ports.CallbackVerifier = (*Verifier)(nil)

// NewVerifier checks cfg the way the service checks it at start: a
// combination that could only fail at request time is an error here.
func NewVerifier(cfg Config) (*Verifier, error) {
	if cfg.Tolerance < 0 {
		return nil, fmt.Errorf("webhook tolerance must not be negative, got %s", cfg.Tolerance)
	}
	if cfg.RequireSignature && len(cfg.Secrets) == 0 {
		return nil, errors.New("WEBHOOK_REQUIRE_SIGNATURE is true but WEBHOOK_SECRET_KEY sets no secret")
	}
	v := &Verifier{
		requireSignature: cfg.RequireSignature,
		requireTimestamp: cfg.RequireTimestamp,
		tokens:           cfg.Tokens,
		tolerance:        cfg.Tolerance,
	}
	if v.tolerance == 0 {
		v.tolerance = DefaultTolerance
	}
	for i, secret := range cfg.Secrets {
		// An empty key would let anyone sign; the position, never the value,
		// goes into the message.
		if strings.TrimSpace(secret) == "" {
			return nil, fmt.Errorf("webhook secret %d of %d is empty", i+1, len(cfg.Secrets))
		}
		v.rawKeys = append(v.rawKeys, []byte(secret))
		if key, ok := standardKey(secret); ok {
			v.standardKeys = append(v.standardKeys, key)
		}
	}
	return v, nil
}

// Open reports whether every callback is let in unauthenticated (tokens off
// and signatures not required, the seed's default). The service should warn
// about it at start.
func (v *Verifier) Open() bool {
	return !v.tokens && !v.requireSignature
}

// Verify applies the §4 policy to one callback. attempts are the task's
// attempts; a token identifies one of them. req.ReceivedAt is "now" for
// timestamp tolerance (time.Now when zero). Failures wrap
// ports.ErrCredentialMissing or ports.ErrCredentialInvalid with a short
// reason that never contains a credential.
func (v *Verifier) Verify(req ports.CallbackRequest, attempts []domain.Attempt) (ports.Authentication, error) {
	if req.ReceivedAt.IsZero() {
		req.ReceivedAt = time.Now()
	}

	hasToken := v.tokens && req.Token != ""
	attempt := 0
	if hasToken {
		var ok bool
		if attempt, ok = matchToken(req.Token, attempts); !ok {
			return ports.Authentication{}, refuse(ports.ErrCredentialInvalid, "token matches no attempt of this task")
		}
	}

	auth, signed, err := v.verifySignatures(req)
	switch {
	case err != nil:
		return ports.Authentication{}, err
	case signed:
		auth.Attempt = attempt
		return auth, nil
	case v.requireSignature:
		return ports.Authentication{}, refuse(ports.ErrCredentialMissing, "a signature is required")
	case hasToken:
		return ports.Authentication{Scheme: SchemeToken, Attempt: attempt}, nil
	case v.tokens && len(v.rawKeys) == 0 && hasSignatureHeader(req.Header):
		return ports.Authentication{}, fmt.Errorf("%w: %w", ports.ErrCredentialMissing, ports.ErrNoSecretConfigured)
	case v.tokens:
		return ports.Authentication{}, refuse(ports.ErrCredentialMissing, "neither a callback token nor a signature")
	default:
		return ports.Authentication{Scheme: SchemeNone}, nil
	}
}

// verifySignatures checks whichever signature headers are present. signed
// is false when none is present, or when no secret is configured: then
// signatures are not in use and their headers carry no meaning. A request
// passes when one present scheme verifies, so a sender may sign with a and
// c at once; when none does, the reasons of each are reported.
//
// Cheap checks come first: every present header is parsed, and its
// timestamp checked, before any HMAC is computed, and a header that cannot
// be a signature refuses the request outright. Then the raw-byte MACs (c,
// a); scheme b's re-serialisation only when those did not decide.
func (v *Verifier) verifySignatures(req ports.CallbackRequest) (auth ports.Authentication, signed bool, err error) {
	if len(v.rawKeys) == 0 {
		return ports.Authentication{}, false, nil
	}
	standardSig := strings.TrimSpace(req.Header.Get(HeaderWebhookSignature))
	rawSig := strings.TrimSpace(req.Header.Get(HeaderSignature))
	if standardSig == "" && rawSig == "" {
		return ports.Authentication{}, false, nil
	}

	var (
		reasons  []string
		standard standardCheck
		raw      rawCheck
	)
	if standardSig != "" {
		var reason string
		if standard, reason = v.parseStandard(req, standardSig); reason != "" {
			reasons = append(reasons, reason)
		}
	}
	if rawSig != "" {
		var reason string
		if raw, reason = v.parseRawHeader(req, rawSig); reason != "" {
			reasons = append(reasons, reason)
		}
	}
	if len(reasons) > 0 && (raw.malformed || standard.malformed || (!raw.ok && !standard.ok)) {
		return ports.Authentication{}, true, refuse(ports.ErrCredentialInvalid, strings.Join(reasons, "; "))
	}

	// Standard Webhooks first: it also authenticates the delivery id.
	if standard.ok {
		if auth, ok := v.verifyStandard(req, standard); ok {
			return auth, true, nil
		}
		reasons = append(reasons, "webhook-signature does not match")
	}
	if raw.ok {
		if auth, ok := v.verifyRaw(req, raw); ok {
			return auth, true, nil
		}
		reasons = append(reasons, "X-Webhook-Signature does not match")
	}
	return ports.Authentication{}, true, refuse(ports.ErrCredentialInvalid, strings.Join(reasons, "; "))
}

// checkTimestamp parses a unix-seconds header value and checks it against
// the tolerance; reason is "" when it is acceptable.
func (v *Verifier) checkTimestamp(value string, now time.Time) (t time.Time, reason string) {
	if value == "" || len(value) > 18 || strings.TrimLeft(value, "0123456789") != "" {
		return time.Time{}, "timestamp is not unix seconds"
	}
	var secs int64
	for _, c := range value {
		secs = secs*10 + int64(c-'0')
	}
	t = time.Unix(secs, 0)
	if d := now.Sub(t); d > v.tolerance || d < -v.tolerance {
		return time.Time{}, "timestamp outside tolerance"
	}
	return t, ""
}

// hasSignatureHeader reports whether a request carries any scheme's
// signature header.
func hasSignatureHeader(h http.Header) bool {
	return strings.TrimSpace(h.Get(HeaderSignature)) != "" || strings.TrimSpace(h.Get(HeaderWebhookSignature)) != ""
}

func refuse(sentinel error, reason string) error {
	return fmt.Errorf("%w: %s", sentinel, reason)
}
