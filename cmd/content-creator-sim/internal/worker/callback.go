package worker

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"contenthub/cmd/content-creator-sim/internal/taskstore"
)

// WorkflowType is the only workflow the simulator runs.
const WorkflowType = "content-creator"

// Callback events.
const (
	EventProgress  = "progress"
	EventCompleted = "completed"
	EventFailed    = "failed"
)

// timestampLayout is JavaScript's Date.toISOString(): UTC with milliseconds.
const timestampLayout = "2006-01-02T15:04:05.000Z"

// body is a callback's JSON, with the real sender's field order and names.
type body struct {
	Event        string              `json:"event"`
	TaskID       string              `json:"taskId"`
	WorkflowType string              `json:"workflowType"`
	Status       string              `json:"status"`
	Timestamp    string              `json:"timestamp"`
	Metadata     metadata            `json:"metadata"`
	Result       *taskstore.Result   `json:"result,omitempty"`
	Error        *failure            `json:"error,omitempty"`
	Progress     *taskstore.Progress `json:"progress,omitempty"`
}

type metadata struct {
	Topic          string `json:"topic"`
	Requirements   string `json:"requirements"`
	TargetAudience string `json:"targetAudience"`
}

// failure is the real sender's error object: no code, details with what had been done.
type failure struct {
	Message string         `json:"message"`
	Type    string         `json:"type"`
	Details failureDetails `json:"details"`
}

type failureDetails struct {
	Duration       int64    `json:"duration"` // milliseconds
	StepsCompleted []string `json:"stepsCompleted"`
}

// newBody starts a callback body for t; the caller sets result, error or progress.
func newBody(t taskstore.Task, event string, status taskstore.Status, at time.Time) body {
	return body{
		Event:        event,
		TaskID:       t.ID,
		WorkflowType: WorkflowType,
		Status:       string(status),
		Timestamp:    at.UTC().Format(timestampLayout),
		Metadata: metadata{
			Topic:          t.Topic,
			Requirements:   t.Requirements,
			TargetAudience: t.TargetAudience,
		},
	}
}

// encode renders b as JavaScript's JSON.stringify would: compact, with <, > and & left as they are.
func (b body) encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		return nil, fmt.Errorf("encode %s callback: %w", b.Event, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// newMessageID returns a Standard Webhooks message id, unique per event.
func newMessageID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms
	return "msg_" + hex.EncodeToString(b[:])
}
