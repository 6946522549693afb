package signature

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"contenthub/ports"
)

const standardSecretPrefix = "whsec_"

// standardKey is scheme c's key for a secret: the base64 decoding of what
// follows whsec_. Other secrets, and ones that decode to nothing, have none.
func standardKey(secret string) ([]byte, bool) {
	encoded, ok := strings.CutPrefix(secret, standardSecretPrefix)
	if !ok {
		return nil, false
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || len(key) == 0 {
		return nil, false
	}
	return key, true
}

// parseStandardSignatures reads a webhook-signature value: space-separated
// `v1,<base64>` entries. Other versions and undecodable entries are skipped.
func parseStandardSignatures(value string) [][]byte {
	var macs [][]byte
	for entry := range strings.FieldsSeq(value) {
		version, encoded, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		if mac, ok := decodeBase64MAC(encoded); ok {
			macs = append(macs, mac)
		}
	}
	return macs
}

// standardContent is what scheme c signs: {id}.{timestamp}.{body}, in parts.
func standardContent(id, timestamp string, body []byte) [][]byte {
	return [][]byte{[]byte(id), []byte("."), []byte(timestamp), []byte("."), body}
}

// standardCheck is a webhook-signature header that parsed, with what it signs.
type standardCheck struct {
	ok        bool // parsed and its timestamp acceptable: worth an HMAC
	malformed bool // cannot be a signature at all
	id, ts    string
	sentAt    time.Time
	macs      [][]byte
}

// parseStandard reads the webhook-* headers (scheme c) without hashing
// anything. reason is "" when they are worth verifying.
func (v *Verifier) parseStandard(req ports.CallbackRequest, value string) (standardCheck, string) {
	id := strings.TrimSpace(req.Header.Get(HeaderWebhookID))
	ts := strings.TrimSpace(req.Header.Get(HeaderWebhookTimestamp))
	if id == "" || ts == "" {
		return standardCheck{malformed: true}, "webhook-signature without webhook-id and webhook-timestamp"
	}
	macs := parseStandardSignatures(value)
	if len(macs) == 0 {
		return standardCheck{malformed: true}, "webhook-signature has no v1 signature"
	}
	if len(v.standardKeys) == 0 {
		return standardCheck{}, "webhook-signature present but no configured secret is a whsec_ base64 key"
	}
	t, reason := v.checkTimestamp(ts, req.ReceivedAt)
	if reason != "" {
		return standardCheck{}, "webhook-timestamp: " + reason
	}
	return standardCheck{ok: true, id: id, ts: ts, sentAt: t, macs: macs}, ""
}

// verifyStandard checks parsed webhook-* headers against every scheme c key.
func (v *Verifier) verifyStandard(req ports.CallbackRequest, c standardCheck) (ports.Authentication, bool) {
	content := standardContent(c.id, c.ts, req.Body)
	ok := false
	for _, key := range v.standardKeys {
		want := sum(key, content...)
		for _, mac := range c.macs {
			ok = hmac.Equal(want, mac) || ok
		}
	}
	if !ok {
		return ports.Authentication{}, false
	}
	return ports.Authentication{Scheme: SchemeStandard, WebhookID: c.id, SentAt: c.sentAt}, true
}

// SignStandard signs by Standard Webhooks v1 (scheme c) and returns the
// webhook-signature value "v1,<base64>". secret must be whsec_ followed by
// base64; id and timestamp (unix seconds) go into webhook-id and
// webhook-timestamp.
func SignStandard(secret, id string, timestamp int64, body []byte) (string, error) {
	key, ok := standardKey(secret)
	if !ok {
		return "", errors.New("standard webhooks secret must be whsec_ followed by non-empty base64")
	}
	mac := sum(key, standardContent(id, strconv.FormatInt(timestamp, 10), body)...)
	return "v1," + base64.StdEncoding.EncodeToString(mac), nil
}
