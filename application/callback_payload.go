package application

import (
	"fmt"
	"time"

	"contenthub/domain"
)

// PayloadError is a callback body the service cannot act on (400).
type PayloadError struct {
	Code    string // machine-readable: invalid_json, missing_event, unknown_event, invalid_field, task_mismatch
	Message string
}

func (e *PayloadError) Error() string { return e.Message }

func payloadError(code, format string, args ...any) error {
	return &PayloadError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CallbackPayload is content-creator's callback body, decoded; only Event is
// required and unknown fields are ignored.
type CallbackPayload struct {
	Event     string
	TaskID    string
	Timestamp time.Time // zero when absent or unparsable
	Result    domain.Result
	Error     domain.TaskError
	Progress  domain.ProgressReport
}

// CallbackPeek is what the early duplicate check reads of a body before it
// is decoded.
type CallbackPeek struct {
	Event, TaskID string
	Timestamp     time.Time
}

// CallbackWire is the channel a delivery came by: it reads bodies in the
// channel's format and says which status the answers carry (kept in the
// delivery's audit record). The HTTP adapter's is httpapi.CallbackWire.
type CallbackWire interface {
	// PeekCallback reads a body's top-level event, taskId and timestamp
	// without decoding or validating the rest; ok is false when it names no
	// event of the three. It may read a body otherwise than DecodeCallback
	// (a key in another case or given twice): it only picks a delivery id to
	// look up, and a recorded id belongs to an accepted body, byte for byte.
	PeekCallback(body []byte) (p CallbackPeek, ok bool)
	// DecodeCallback validates a body and decodes it once: a *PayloadError
	// with code invalid_json when it is not a JSON object (§3 step 1), with
	// another code when its event or a field is wrong (step 4). Nothing
	// decoded points into body, which the caller reuses.
	DecodeCallback(body []byte) (CallbackPayload, error)
	// SettledStatus is the status of the answer to a delivery settled so.
	SettledStatus(CallbackDisposition) int
	// RefusedStatus is the status of the answer to a delivery refused with
	// err: a *PayloadError, ports.ErrCredentialMissing or
	// ports.ErrCredentialInvalid.
	RefusedStatus(err error) int
}
