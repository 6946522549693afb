package domain

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// move is what a cell of the §2 table does.
type move int

const (
	moveNA          move = iota // "–" in the table: nothing to do, acknowledged
	moveIgnore                  // "ignore": acknowledged, no change
	moveConflict                // "conflict": refused
	moveOpen                    // claim: open a new attempt
	moveSubmit                  // submit ok
	moveAsSubmitted             // pending: act as submitted when the attempt is open
	moveProgress
	moveComplete
	moveLateComplete
	moveFail
	moveDeadline
	moveCancel
	moveRetry
	moveWithdraw // the dispatcher gives an unsent attempt back
	moveLost     // a run content-creator reports running that no longer advances
)

// transitions is the §2 table as data. Apply is the only reader; a missing
// cell is moveNA.
var transitions = map[Status]map[EventKind]move{
	StatusPending: {
		EventOpenAttempt: moveOpen,
		EventSubmitted:   moveSubmit,
		EventProgress:    moveAsSubmitted,
		EventCompleted:   moveAsSubmitted,
		EventFailed:      moveAsSubmitted,
		EventDeadline:    moveNA,
		EventCancel:      moveCancel,
		EventRetry:       moveConflict,
		EventWithdraw:    moveWithdraw,
		EventLost:        moveNA, // only a polled, submitted run can be found lost
	},
	StatusSubmitted: {
		EventOpenAttempt: moveConflict,
		EventSubmitted:   moveNA,
		EventProgress:    moveProgress,
		EventCompleted:   moveComplete,
		EventFailed:      moveFail,
		EventDeadline:    moveDeadline,
		EventCancel:      moveCancel,
		EventRetry:       moveConflict,
		EventWithdraw:    moveConflict,
		EventLost:        moveLost,
	},
	StatusProcessing: {
		EventOpenAttempt: moveConflict,
		EventSubmitted:   moveNA,
		EventProgress:    moveProgress,
		EventCompleted:   moveComplete,
		EventFailed:      moveFail,
		EventDeadline:    moveDeadline,
		EventCancel:      moveCancel,
		EventRetry:       moveConflict,
		EventWithdraw:    moveConflict,
		EventLost:        moveLost,
	},
	StatusCompleted: terminalRow(moveConflict, moveIgnore),
	StatusFailed:    terminalRow(moveRetry, moveIgnore),
	StatusCancelled: terminalRow(moveRetry, moveIgnore),
	StatusTimeout:   terminalRow(moveRetry, moveLateComplete),
}

func terminalRow(retry, completed move) map[EventKind]move {
	return map[EventKind]move{
		EventOpenAttempt: moveConflict,
		EventSubmitted:   moveNA,
		EventProgress:    moveIgnore,
		EventCompleted:   completed,
		EventFailed:      moveIgnore,
		EventDeadline:    moveNA,
		EventCancel:      moveConflict,
		EventRetry:       retry,
		EventWithdraw:    moveNA,
		EventLost:        moveIgnore,
	}
}

// Rules are the tunables Apply needs; they come from configuration.
type Rules struct {
	// TaskTimeout is how long one attempt may run after submission.
	TaskTimeout time.Duration
	// Backoff gives the delay before the next attempt after the given attempt
	// failed. Nil means retry at once.
	Backoff func(failedAttempt int) time.Duration
}

// Outcome reports what Apply did. Changed false means the event was
// acknowledged without effect and Reason says why.
type Outcome struct {
	From, To      Status
	Changed       bool
	Reason        string
	Retrying      bool       // a new attempt is scheduled
	Late          bool       // a completion after the attempt timed out
	InvalidResult bool       // a completion without an article, turned into a failure
	Duplicate     bool       // the event repeats the outcome its attempt already has (another source told first)
	Content       *Content   // to insert with the task (completion)
	PoolEntry     *PoolEntry // to insert with the task (completion of an auto-approved task)
	StopRef       string     // external ref of an attempt content-creator should stop (cancel, deadline)
}

// Apply is the single transition function: every change to a task, whatever
// its source, goes through it. It returns ErrConflict (wrapped) for events the
// table refuses; everything else is applied or acknowledged.
func (t *Task) Apply(ev Event, rules Rules) (Outcome, error) {
	row, ok := transitions[t.status]
	if !ok {
		return Outcome{}, fmt.Errorf("task %s has unknown status %q", t.id, t.status)
	}
	m, ok := row[ev.Kind]
	if !ok {
		return Outcome{}, fmt.Errorf("unknown event kind %q", ev.Kind)
	}
	at := ev.At.UTC()
	out := Outcome{From: t.status, To: t.status}

	if ev.Kind.attemptScoped() && ev.Attempt != 0 && ev.Attempt != t.attempt {
		if ev.Attempt < t.attempt {
			return out.ignore(fmt.Sprintf("stale attempt %d (current is %d)", ev.Attempt, t.attempt)), nil
		}
		return out.ignore(fmt.Sprintf("unknown attempt %d (current is %d)", ev.Attempt, t.attempt)), nil
	}
	if ev.Kind != EventSubmitted {
		// The id content-creator reports for the current attempt is its
		// external ref from then on (kept when the event changes the task).
		t.takeReportedRef(ev.ExternalRef)
	}
	if m == moveAsSubmitted {
		if !t.attemptOpen {
			return out.ignore("no attempt is open"), nil
		}
		// content-creator answering about the attempt shows it took it: the
		// submission is recorded now, the submit's own "ok" comes too late.
		t.submit("", false, at, rules)
		m = transitions[StatusSubmitted][ev.Kind]
	}

	switch m {
	case moveNA, moveIgnore:
		if ev.Kind == EventSubmitted && t.takeReportedRef(ev.ExternalRef) {
			// content-creator's first word about the attempt overtook the
			// submit's answer and recorded the submission; the id that answer
			// reports is still the attempt's from now on (issue #19).
			t.updatedAt = at
			out.Changed = true
			return out, nil
		}
		if t.repeatsOutcome(ev) {
			out.Duplicate = true
			return out.ignore(fmt.Sprintf("attempt %d already %s", t.attempt, t.status)), nil
		}
		return out.ignore(fmt.Sprintf("%s does not apply to a %s task", ev.Kind, t.status)), nil
	case moveConflict:
		return out, fmt.Errorf("%s a %s task: %w", ev.Kind, t.status, ErrConflict)
	case moveOpen:
		if t.attemptOpen {
			return out, fmt.Errorf("attempt %d is already open: %w", t.attempt, ErrConflict)
		}
		t.openAttempt(ev.Open, at)
	case moveWithdraw:
		if !t.attemptOpen {
			return out.ignore("no attempt is open"), nil
		}
		t.withdraw()
	case moveSubmit:
		if !t.attemptOpen {
			return out.ignore("no attempt is open"), nil
		}
		t.submit(ev.ExternalRef, ev.Unconfirmed, at, rules)
	case moveProgress:
		if !t.progressed(ev.Progress, at, rules) {
			return out.ignore("progress is not newer than the current one"), nil
		}
	case moveComplete, moveLateComplete:
		if strings.TrimSpace(ev.Result.Content) == "" {
			if m == moveLateComplete {
				return out.ignore("late completion without an article"), nil
			}
			out.InvalidResult = true
			t.fail(TaskError{Code: "INVALID_RESULT", Type: "invalid_result", Message: "completed without result.content"},
				false, AttemptFailed, StatusFailed, at, rules, &out)
			break
		}
		out.Late = m == moveLateComplete
		t.complete(ev, at, out.Late, &out)
	case moveFail:
		t.fail(ev.Error, ev.Permanent, AttemptFailed, StatusFailed, at, rules, &out)
	case moveDeadline:
		if t.timeoutAt.IsZero() || at.Before(t.timeoutAt) {
			return out.ignore("the attempt's deadline has not passed"), nil
		}
		e := ev.Error
		if e.IsZero() {
			e = TaskError{Code: "TIMEOUT", Type: "timeout", Message: "no result before the attempt's deadline"}
		}
		// content-creator may still be at work on it: ask it to stop.
		out.StopRef = t.ExternalRef()
		t.fail(e, false, AttemptTimedOut, StatusTimeout, at, rules, &out)
	case moveLost:
		e := ev.Error
		if e.IsZero() {
			e = CreatorLost("content-creator reports the attempt running, but it no longer advances")
		}
		// content-creator may still hold it as running: ask it to stop, so
		// a run that wakes up does not spend work on an abandoned attempt.
		out.StopRef = t.ExternalRef()
		t.fail(e, false, AttemptFailed, StatusFailed, at, rules, &out)
	case moveCancel:
		if t.HasOpenWork() {
			out.StopRef = t.ExternalRef()
		}
		t.finishAttempt(AttemptCancelled, nil, at)
		t.status = StatusCancelled
		t.leaseOwner, t.leaseUntil = "", time.Time{}
	case moveRetry:
		t.nextAttempt(at, at)
		if t.attempt > t.maxAttempts {
			t.maxAttempts = t.attempt
		}
		out.Retrying = true
	}
	t.updatedAt = at
	if ev.Source != SourceAPI && ev.Source != SourceDispatcher {
		t.lastHeardAt = at
	}
	out.To, out.Changed = t.status, true
	return out, nil
}

func (o Outcome) ignore(reason string) Outcome {
	o.Changed, o.Reason = false, reason
	return o
}

func (t *Task) openAttempt(o Opening, at time.Time) {
	ref := o.ExternalRef
	if ref == "" {
		ref = ExternalRefFor(t.id, t.attempt)
	}
	t.attemptOpen = true
	t.setAttempt(Attempt{
		Number: t.attempt, ExternalRef: ref, TokenHash: o.TokenHash, CallbackURL: o.CallbackURL,
		State: AttemptOpen, OpenedAt: at,
	})
}

// withdraw closes the open attempt unsent: the task is due again as it was,
// on the same attempt number, with nothing spent.
func (t *Task) withdraw() {
	t.attemptOpen = false
	t.leaseOwner, t.leaseUntil = "", time.Time{}
	t.updateAttempt(func(a *Attempt) { a.State = AttemptWithdrawn })
}

// repeatsOutcome reports whether ev tells the current attempt's outcome
// again: a completion of a task its attempt completed, or a failure of a task
// its attempt failed for good (the process exit after the callback, say).
func (t *Task) repeatsOutcome(ev Event) bool {
	if ev.Attempt != 0 && ev.Attempt != t.attempt {
		return false
	}
	a, ok := t.CurrentAttempt()
	switch {
	case !ok:
		return false
	case ev.Kind == EventCompleted:
		return t.status == StatusCompleted && a.State == AttemptCompleted
	case ev.Kind == EventFailed:
		return t.status == StatusFailed && a.State == AttemptFailed
	}
	return false
}

func (t *Task) submit(ref string, unconfirmed bool, at time.Time, rules Rules) {
	t.status = StatusSubmitted
	t.submittedAt = at
	t.timeoutAt = at.Add(rules.TaskTimeout)
	t.lastHeardAt = at
	t.leaseOwner, t.leaseUntil = "", time.Time{}
	t.updateAttempt(func(a *Attempt) {
		if ref != "" {
			a.ExternalRef = ref
		}
		a.State, a.SubmittedAt = AttemptSubmitted, at
		if unconfirmed {
			a.State = AttemptUnconfirmed
		}
	})
}

// progressed applies a progress report; percentages are clamped to 0–100 and
// never go down within an attempt. It reports whether anything changed.
func (t *Task) progressed(p ProgressReport, at time.Time, rules Rules) bool {
	pct := clampPercentage(p.Percentage)
	wasSubmitted := t.status != StatusProcessing
	if !wasSubmitted && pct < t.progress.Percentage {
		return false
	}
	if !wasSubmitted && pct == t.progress.Percentage && p.Stage == t.progress.Stage && p.Message == t.progress.Message {
		return false
	}
	if pct >= t.progress.Percentage {
		t.progress = Progress{Percentage: pct, Stage: p.Stage, Message: p.Message, UpdatedAt: at}
	}
	t.status = StatusProcessing
	if t.startedAt.IsZero() {
		t.startedAt = at
	}
	if t.timeoutAt.IsZero() {
		t.timeoutAt = at.Add(rules.TaskTimeout)
	}
	t.leaseOwner, t.leaseUntil = "", time.Time{}
	t.updateAttempt(func(a *Attempt) { a.State = AttemptRunning })
	return true
}

func clampPercentage(f float64) int {
	if math.IsNaN(f) || f <= 0 {
		return 0
	}
	if f >= 100 {
		return 100
	}
	return int(f)
}

func (t *Task) complete(ev Event, at time.Time, late bool, out *Outcome) {
	content := newContent(t, ev.Result, ev.IDs.ContentID, at)
	content.Late = late
	if t.autoApprove {
		entry := newPoolEntry(t, content, ev.IDs.PoolEntryID, at)
		out.PoolEntry = &entry
		content.PoolEntryID = entry.ID
	}
	out.Content = &content
	t.status = StatusCompleted
	t.completedAt = at
	t.contentID = content.ID
	t.late = late
	t.progress = Progress{Percentage: 100, Stage: "completed", Message: t.progress.Message, UpdatedAt: at}
	t.leaseOwner, t.leaseUntil = "", time.Time{}
	// A late completion rewrites the timed-out attempt's state but keeps its error.
	t.updateAttempt(func(a *Attempt) { a.State, a.FinishedAt = AttemptCompleted, at })
}

// fail ends the current attempt with err. With attempts left the task goes
// back to pending after a backoff, unless the failure is permanent; otherwise
// it ends in final.
func (t *Task) fail(err TaskError, permanent bool, state AttemptState, final Status, at time.Time, rules Rules, out *Outcome) {
	e := err
	t.lastError = &e
	t.finishAttempt(state, &e, at)
	t.leaseOwner, t.leaseUntil = "", time.Time{}
	if permanent || !t.AttemptsLeft() {
		t.status = final
		return
	}
	var delay time.Duration
	if rules.Backoff != nil {
		delay = rules.Backoff(t.attempt)
	}
	t.nextAttempt(at, at.Add(delay))
	out.Retrying = true
}

// nextAttempt moves to a fresh, not yet opened attempt due at due.
func (t *Task) nextAttempt(at, due time.Time) {
	t.status = StatusPending
	t.attempt++
	t.attemptOpen = false
	t.nextAttemptAt = due
	t.timeoutAt = time.Time{}
	t.progress = Progress{UpdatedAt: at}
	t.late = false
	t.leaseOwner, t.leaseUntil = "", time.Time{}
}

func (t *Task) finishAttempt(state AttemptState, err *TaskError, at time.Time) {
	t.updateAttempt(func(a *Attempt) {
		if a.Finished() {
			return
		}
		a.State, a.FinishedAt = state, at
		if err != nil {
			e := *err
			a.Error = &e
		}
	})
}

// takeReportedRef makes ref, an id content-creator reported for the open
// attempt, its external ref. It reports whether that changed anything.
func (t *Task) takeReportedRef(ref string) bool {
	if ref == "" || !t.attemptOpen {
		return false
	}
	changed := false
	t.updateAttempt(func(a *Attempt) {
		if !a.Finished() && a.ExternalRef != ref {
			a.ExternalRef, changed = ref, true
		}
	})
	return changed
}

func (t *Task) updateAttempt(fn func(*Attempt)) {
	for i := len(t.attempts) - 1; i >= 0; i-- {
		if t.attempts[i].Number == t.attempt {
			fn(&t.attempts[i])
			return
		}
	}
}

func (t *Task) setAttempt(a Attempt) {
	for i := range t.attempts {
		if t.attempts[i].Number == a.Number {
			t.attempts[i] = a
			return
		}
	}
	t.attempts = append(t.attempts, a)
}
