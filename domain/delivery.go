package domain

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// DeliveryOutcome is what became of one callback delivery.
type DeliveryOutcome string

const (
	DeliveryApplied  DeliveryOutcome = "applied"  // changed the task
	DeliveryIgnored  DeliveryOutcome = "ignored"  // acknowledged, no change (stale, after the end, …)
	DeliveryInvalid  DeliveryOutcome = "invalid"  // a completion without an article (422)
	DeliveryRejected DeliveryOutcome = "rejected" // failed authentication or validation
)

// Delivery is the audit record of one callback (§3.8). DeliveryID is set only
// for authenticated deliveries: it is the deduplication key, and an
// unauthenticated request must not be able to claim it.
type Delivery struct {
	TaskID     string
	Attempt    int
	Event      string
	DeliveryID string
	Scheme     string
	Outcome    DeliveryOutcome
	Reason     string
	HTTPStatus int
	RequestID  string
	ReceivedAt time.Time
	SentAt     time.Time // the sender's timestamp, when it gave one
}

// DeliveryID identifies a delivery for deduplication: the sender's webhook-id
// when present, else SHA-256 over task id, attempt, event and raw body.
func DeliveryID(webhookID, taskID string, attempt int, event string, body []byte) string {
	if webhookID != "" {
		return "wh:" + webhookID
	}
	h := sha256.New()
	writeField := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	writeField([]byte(taskID))
	var a [8]byte
	binary.BigEndian.PutUint64(a[:], uint64(attempt))
	h.Write(a[:])
	writeField([]byte(event))
	writeField(body)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// HashToken is how a callback token is stored: hex SHA-256.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
