// Package webhook signs and delivers the simulator's callbacks the way a careful sender would: scheme a
// (X-Webhook-Signature over "<ts>.<body>") and Standard Webhooks v1 (scheme c), see SIGNATURES.md; the
// delivery retries anything but 200 or 202 with exponential backoff, like the real content-creator counts
// success.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of the two signature schemes.
const (
	HeaderSignature = "X-Webhook-Signature"
	HeaderTimestamp = "X-Webhook-Timestamp"

	HeaderStdID        = "webhook-id"
	HeaderStdTimestamp = "webhook-timestamp"
	HeaderStdSignature = "webhook-signature"
)

// standardPrefix marks a secret usable for Standard Webhooks: the rest is the base64 key.
const standardPrefix = "whsec_"

// Signer adds signature headers to callbacks. The zero value signs nothing.
type Signer struct {
	secret      []byte // scheme a key: the secret string's bytes, whsec_ prefix included
	standardKey []byte // scheme c key, nil unless the secret is whsec_<valid base64>
}

// NewSigner returns a signer for secret; an empty secret signs nothing.
func NewSigner(secret string) Signer {
	if secret == "" {
		return Signer{}
	}
	s := Signer{secret: []byte(secret)}
	if rest, ok := strings.CutPrefix(secret, standardPrefix); ok {
		if key, err := base64.StdEncoding.DecodeString(rest); err == nil && len(key) > 0 {
			s.standardKey = key
		}
	}
	return s
}

// Enabled reports whether the signer signs at all.
func (s Signer) Enabled() bool { return s.secret != nil }

// Standard reports whether the signer also signs with Standard Webhooks (scheme c).
func (s Signer) Standard() bool { return s.standardKey != nil }

// Sign sets the signature headers for body on h at time at; msgID is the event's Standard Webhooks id.
func (s Signer) Sign(h http.Header, msgID string, at time.Time, body []byte) {
	if !s.Enabled() {
		return
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, "sha256="+SignRaw(s.secret, ts, body))
	if s.Standard() {
		h.Set(HeaderStdID, msgID) // header names are case-insensitive; Set sends them canonical (Webhook-Id)
		h.Set(HeaderStdTimestamp, ts)
		h.Set(HeaderStdSignature, "v1,"+SignStandard(s.standardKey, msgID, ts, body))
	}
}

// SignRaw is scheme a: hex HMAC-SHA256 with key over "<ts>.<body>", or over body alone when ts is empty.
func SignRaw(key []byte, ts string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	if ts != "" {
		mac.Write([]byte(ts + "."))
	}
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// SignStandard is scheme c: base64 HMAC-SHA256 with key over "<id>.<ts>.<body>".
func SignStandard(key []byte, msgID, ts string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID + "." + ts + "."))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
