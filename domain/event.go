package domain

import "time"

// EventKind is what happened to a task.
type EventKind string

const (
	EventOpenAttempt EventKind = "open_attempt"    // the dispatcher claimed the task and runs the CLI
	EventSubmitted   EventKind = "submitted"       // content-creator accepted the attempt ("submit ok")
	EventProgress    EventKind = "progress"        // content-creator reported progress
	EventCompleted   EventKind = "completed"       // content-creator finished the article
	EventFailed      EventKind = "failed"          // the attempt failed (callback, poll, exit, submit error)
	EventDeadline    EventKind = "deadline_passed" // the attempt ran past its timeout
	EventCancel      EventKind = "cancel"          // an operator cancels the task
	EventRetry       EventKind = "retry"           // an operator asks for a fresh attempt
	// EventWithdraw: the dispatcher gives back the attempt it opened without
	// sending it (the circuit breaker of SERVICE.md §14 is open): the task
	// waits, pending, on the same attempt, and no retry is spent.
	EventWithdraw EventKind = "withdraw_attempt"
	// EventLost: content-creator still reports the attempt running, but its
	// progress has not advanced for the stall timeout and this service holds
	// no live child or request for it (SERVICE.md §14 "lost runs"). The
	// attempt fails (Error, CREATOR_LOST by default), content-creator is
	// asked to stop it, and the retry rules apply.
	EventLost EventKind = "run_lost"
)

// attemptScoped events belong to one attempt; for an older attempt they are stale.
func (k EventKind) attemptScoped() bool {
	switch k {
	case EventSubmitted, EventProgress, EventCompleted, EventFailed, EventDeadline, EventWithdraw, EventLost:
		return true
	}
	return false
}

// Source says where an event came from; every source ends in the same Apply.
type Source string

const (
	SourceWebhook    Source = "webhook"
	SourcePoll       Source = "poll"
	SourceDispatcher Source = "dispatcher"
	SourceRecovery   Source = "recovery"
	SourceAPI        Source = "api"
	// SourceProcessExit is a supervised content-creator child that exited:
	// its output is the outcome (the published CLI never delivers its
	// callback in sync mode).
	SourceProcessExit Source = "process_exit"
	// SourceCreatorAnswer is content-creator's HTTP API answering a
	// submission it ran to the end.
	SourceCreatorAnswer Source = "creator_answer"
	// SourceSupervisor is the service's own watch over a run it supervises:
	// the child process runs, the request is held open.
	SourceSupervisor Source = "supervisor"
)

// ProgressReport is a progress event's payload, as sent (not yet clamped).
type ProgressReport struct {
	Percentage float64
	Stage      string
	Message    string
}

// Opening carries what the dispatcher prepared for a new attempt.
type Opening struct {
	ExternalRef string
	TokenHash   string
	CallbackURL string
}

// CompletionIDs are the identifiers a completion's records will carry; the
// caller generates them so Apply stays deterministic.
type CompletionIDs struct {
	ContentID   string
	PoolEntryID string
}

// Event is one thing that happened, from any source.
type Event struct {
	Kind    EventKind
	Source  Source
	Attempt int // the attempt it is about; 0 for operator events (the current attempt)
	At      time.Time

	Progress ProgressReport // EventProgress
	Error    TaskError      // EventFailed (EventDeadline and EventLost get a default)
	// Permanent marks a failure that would recur on every retry (content-creator
	// refused the request itself): the task fails at once, attempts left or not.
	Permanent bool          // EventFailed
	Result    Result        // EventCompleted
	IDs       CompletionIDs // EventCompleted
	Open      Opening       // EventOpenAttempt
	// ExternalRef is the id content-creator reported for the attempt, if any
	// (the submit answer; a callback, a poll or a run's end naming an id of
	// its own): from then on it is the attempt's external ref.
	ExternalRef string
	// Unconfirmed marks a submission whose outcome is unknown (it timed out or
	// the connection dropped): content-creator may be running the attempt, so
	// it stays open until a definite answer or its deadline.
	Unconfirmed bool // EventSubmitted
}
