package signature

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

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

// verifyStandard checks the webhook-* headers (scheme c). reason is "" on
// success.
func (v *Verifier) verifyStandard(req ports.CallbackRequest, value string) (auth ports.Authentication, reason string) {
	id := strings.TrimSpace(req.Header.Get(HeaderWebhookID))
	ts := strings.TrimSpace(req.Header.Get(HeaderWebhookTimestamp))
	if id == "" || ts == "" {
		return auth, "webhook-signature without webhook-id and webhook-timestamp"
	}
	if len(v.standardKeys) == 0 {
		return auth, "webhook-signature present but no configured secret is a whsec_ base64 key"
	}
	t, reason := v.checkTimestamp(ts, req.ReceivedAt)
	if reason != "" {
		return auth, "webhook-timestamp: " + reason
	}
	macs := parseStandardSignatures(value)
	if len(macs) == 0 {
		return auth, "webhook-signature has no v1 signature"
	}

	content := standardContent(id, ts, req.Body)
	ok := false
	for _, key := range v.standardKeys {
		want := sum(key, content...)
		for _, mac := range macs {
			ok = hmac.Equal(want, mac) || ok
		}
	}
	if !ok {
		return auth, "webhook-signature does not match"
	}
	return ports.Authentication{Scheme: SchemeStandard, WebhookID: id, SentAt: t}, ""
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
