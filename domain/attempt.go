package domain

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// AttemptState is where one submission to content-creator stands.
type AttemptState string

const (
	AttemptOpen      AttemptState = "open"      // claimed, the CLI is being run
	AttemptSubmitted AttemptState = "submitted" // content-creator accepted it
	// AttemptUnconfirmed: the submission's outcome is unknown (a timeout, a
	// dropped connection); content-creator may be running it.
	AttemptUnconfirmed AttemptState = "unconfirmed"
	AttemptRunning     AttemptState = "running" // progress was reported
	AttemptCompleted   AttemptState = "completed"
	AttemptFailed      AttemptState = "failed"
	AttemptTimedOut    AttemptState = "timeout"
	AttemptCancelled   AttemptState = "cancelled"
	// AttemptWithdrawn: opened, then given back unsent (content-creator was
	// unavailable); the next claim opens the same attempt number again.
	AttemptWithdrawn AttemptState = "withdrawn"
)

// Attempt is one submission: its own callback token (stored hashed), its own
// creator-side id, and what became of it. A retry adds an attempt and never
// rewrites an older one's error.
type Attempt struct {
	Number      int
	ExternalRef string
	TokenHash   string // hex SHA-256 of the callback token; the token itself is never stored
	CallbackURL string // without the token
	State       AttemptState
	Error       *TaskError
	OpenedAt    time.Time
	SubmittedAt time.Time
	FinishedAt  time.Time
}

// ExternalRefFor is the creator-side id of an attempt. content-creator keeps
// ids as primary keys, so each attempt needs its own.
func ExternalRefFor(taskID string, attempt int) string {
	return fmt.Sprintf("%s-%d", taskID, attempt)
}

// AttemptOfRef is ExternalRefFor read backwards: the attempt number a ref
// of that form names, if it has that form.
func AttemptOfRef(taskID, ref string) (int, bool) {
	rest, ok := strings.CutPrefix(ref, taskID+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

// Finished reports whether the attempt has an outcome.
func (a Attempt) Finished() bool {
	switch a.State {
	case AttemptCompleted, AttemptFailed, AttemptTimedOut, AttemptCancelled:
		return true
	}
	return false
}
