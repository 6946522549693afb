package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"contenthub/ports"
)

// The encodings a MAC may arrive in. Strict: unused trailing bits must be
// zero, so every different string is a different MAC.
var macEncodings = []*base64.Encoding{
	base64.StdEncoding.Strict(),
	base64.RawStdEncoding.Strict(),
	base64.URLEncoding.Strict(),
	base64.RawURLEncoding.Strict(),
}

// rawSignature is an X-Webhook-Signature value taken apart.
type rawSignature struct {
	mac []byte
	// canonicalCandidate: the value can be scheme b's (base64 without a
	// prefix); a hex digest or a sha256= prefix is scheme a only.
	canonicalCandidate bool
}

// parseRawSignature reads `[sha256=]<hex|base64>` carrying a SHA-256 MAC.
func parseRawSignature(value string) (rawSignature, bool) {
	value = strings.TrimSpace(value)
	prefixed := len(value) >= len("sha256=") && strings.EqualFold(value[:len("sha256=")], "sha256=")
	if prefixed {
		value = value[len("sha256="):]
	}
	if len(value) == hex.EncodedLen(sha256.Size) {
		if mac, err := hex.DecodeString(value); err == nil {
			return rawSignature{mac: mac}, true
		}
	}
	if mac, ok := decodeBase64MAC(value); ok {
		return rawSignature{mac: mac, canonicalCandidate: !prefixed}, true
	}
	return rawSignature{}, false
}

func decodeBase64MAC(s string) ([]byte, bool) {
	if len(s) < base64.RawStdEncoding.EncodedLen(sha256.Size) || len(s) > base64.StdEncoding.EncodedLen(sha256.Size) {
		return nil, false
	}
	for _, enc := range macEncodings {
		if mac, err := enc.DecodeString(s); err == nil && len(mac) == sha256.Size {
			return mac, true
		}
	}
	return nil, false
}

// rawCheck is an X-Webhook-Signature header that parsed, with what it signs.
type rawCheck struct {
	ok        bool // parsed and its timestamp acceptable: worth an HMAC
	malformed bool // cannot be a signature at all
	sig       rawSignature
	timestamp string    // X-Webhook-Timestamp as sent, "" when absent
	sentAt    time.Time // its time
}

// parseRawHeader reads X-Webhook-Signature and X-Webhook-Timestamp without
// hashing anything. reason is "" when the header is worth verifying.
func (v *Verifier) parseRawHeader(req ports.CallbackRequest, value string) (rawCheck, string) {
	sig, ok := parseRawSignature(value)
	if !ok {
		return rawCheck{malformed: true}, "X-Webhook-Signature is neither hex nor base64 of a SHA-256 MAC"
	}
	c := rawCheck{sig: sig}
	if ts := strings.TrimSpace(req.Header.Get(HeaderTimestamp)); ts != "" {
		t, reason := v.checkTimestamp(ts, req.ReceivedAt)
		if reason != "" {
			return rawCheck{}, "X-Webhook-Timestamp: " + reason
		}
		c.timestamp, c.sentAt = ts, t
	} else if v.requireTimestamp {
		return rawCheck{}, "X-Webhook-Signature without X-Webhook-Timestamp (a signed timestamp is required)"
	}
	c.ok = true
	return c, ""
}

// verifyRaw checks a parsed X-Webhook-Signature: scheme a over the raw bytes
// first, then scheme b over the canonical JSON — but only for a value that
// can be scheme b (base64 without a prefix), without a timestamp (scheme b
// signs none, so a timestamp means the sender uses a), and on a body of at
// most CanonicalMaxBodyBytes.
func (v *Verifier) verifyRaw(req ports.CallbackRequest, c rawCheck) (ports.Authentication, bool) {
	signed := [][]byte{req.Body}
	if c.timestamp != "" {
		signed = [][]byte{[]byte(c.timestamp), []byte("."), req.Body}
	}
	if anyKeyMatches(v.rawKeys, c.sig.mac, signed...) {
		return ports.Authentication{Scheme: SchemeRaw, SentAt: c.sentAt}, true
	}
	if c.sig.canonicalCandidate && c.timestamp == "" && len(req.Body) <= CanonicalMaxBodyBytes {
		// Only now, after the raw bytes failed, is the body parsed.
		if canonical, err := Canonicalize(req.Body); err == nil && anyKeyMatches(v.rawKeys, c.sig.mac, canonical) {
			return ports.Authentication{Scheme: SchemeCanonical}, true
		}
	}
	return ports.Authentication{}, false
}

// anyKeyMatches reports whether some key's HMAC of the concatenated parts
// is mac. Every key is tried, matched or not.
func anyKeyMatches(keys [][]byte, mac []byte, parts ...[]byte) bool {
	ok := false
	for _, key := range keys {
		ok = hmac.Equal(sum(key, parts...), mac) || ok
	}
	return ok
}

// sum is the HMAC-SHA256 of the concatenated parts.
func sum(key []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func rawMAC(secret string, body []byte, timestamp int64) []byte {
	if timestamp == 0 {
		return sum([]byte(secret), body)
	}
	return sum([]byte(secret), strconv.AppendInt(nil, timestamp, 10), []byte("."), body)
}

// SignRaw signs body by scheme a and returns the hex MAC, the value of
// X-Webhook-Signature. A non-zero timestamp (unix seconds) is signed as
// "{timestamp}.{body}" and must be sent as X-Webhook-Timestamp.
func SignRaw(secret string, body []byte, timestamp int64) string {
	return hex.EncodeToString(rawMAC(secret, body, timestamp))
}

// SignRawBase64 is SignRaw with the MAC in standard base64.
func SignRawBase64(secret string, body []byte, timestamp int64) string {
	return base64.StdEncoding.EncodeToString(rawMAC(secret, body, timestamp))
}

// SignCanonical signs body by scheme b, the seed's form: standard base64 of
// the MAC over Canonicalize(body). It fails when body is not JSON that
// scheme b can express (see Canonicalize).
func SignCanonical(secret string, body []byte) (string, error) {
	canonical, err := Canonicalize(body)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sum([]byte(secret), canonical)), nil
}
