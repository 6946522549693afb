package domain_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
)

// column is an event of the §2 table (plus the two operator/dispatcher events
// the code adds: open_attempt and retry).
type column string

const (
	submitOK    column = "submit ok"
	progress    column = "progress"
	completed   column = "completed"
	failed      column = "failed"
	deadline    column = "deadline passed"
	cancel      column = "cancel"
	openAttempt column = "open_attempt"
	retry       column = "retry"
	withdraw    column = "withdraw_attempt"
	lost        column = "run_lost" // §14: a polled run that no longer advances
)

// event builds the column's event for attempt 1 at a time past its deadline.
func (c column) event() domain.Event {
	at := t0.Add(2 * time.Hour)
	switch c {
	case submitOK:
		return submitEv(1, at)
	case progress:
		return progressEv(1, 60, at)
	case completed:
		return completedEv(1, "# Late or not\n\nBody.", at)
	case failed:
		return failedEv(1, "boom", at)
	case deadline:
		return deadlineEv(1, at)
	case cancel:
		return cancelEv(at)
	case openAttempt:
		return openEv(at)
	case retry:
		return retryEv(at)
	case withdraw:
		return withdrawEv(1, at)
	case lost:
		return lostEv(1, at)
	}
	panic("unknown column " + string(c))
}

// result is what Apply does with the event.
type result int

const (
	ignored  result = iota // acknowledged, no change, reason reported ("–" and "ignore" in §2)
	changed                // the task moved
	conflict               // refused with ErrConflict
)

func (r result) String() string { return [...]string{"ignored", "changed", "conflict"}[r] }

const (
	pending    = domain.StatusPending
	submitted  = domain.StatusSubmitted
	processing = domain.StatusProcessing
	done       = domain.StatusCompleted
	failedSt   = domain.StatusFailed
	timedOut   = domain.StatusTimeout
	cancelled  = domain.StatusCancelled

	open, notOpen  = true, false // the current attempt was claimed (opened) or not
	left, noneLeft = true, false // the current attempt is not / is the last one
	either         = left        // the cell does not depend on attempts left
)

// transitionCell is one cell of the §2 table. Read it as: a task in from (its
// current attempt opened or not, attempts left or not) receives event → it
// ends in to, on attempt attempt, and Apply reports result.
type transitionCell struct {
	from    domain.Status
	open    bool
	event   column
	left    bool
	to      domain.Status
	attempt int
	result  result
}

func (c transitionCell) String() string {
	openness := "no open attempt"
	if c.open {
		openness = "open attempt"
	}
	attempts := "attempts left"
	if !c.left {
		attempts = "none left"
	}
	return fmt.Sprintf("%s (%s) × %s (%s) → %s %s", c.from, openness, c.event, attempts, c.result, c.to)
}

// transitionTable is §2 of SERVICE.md, cell by cell, plus the dispatcher's
// open_attempt and the operator's retry.
var transitionTable = []transitionCell{
	// from, open?, event, attempts left? → status, attempt, result

	// pending, nothing claimed yet: only cancel and the dispatcher's claim apply.
	{pending, notOpen, submitOK, either, pending, 1, ignored},
	{pending, notOpen, progress, either, pending, 1, ignored},
	{pending, notOpen, completed, either, pending, 1, ignored},
	{pending, notOpen, failed, left, pending, 1, ignored},
	{pending, notOpen, failed, noneLeft, pending, 1, ignored},
	{pending, notOpen, deadline, either, pending, 1, ignored},
	{pending, notOpen, cancel, either, cancelled, 1, changed},
	{pending, notOpen, openAttempt, either, pending, 1, changed},
	{pending, notOpen, retry, either, pending, 1, conflict},
	{pending, notOpen, withdraw, either, pending, 1, ignored},
	{pending, notOpen, lost, left, pending, 1, ignored},
	{pending, notOpen, lost, noneLeft, pending, 1, ignored},

	// pending with its attempt open (the CLI running): events act as in submitted (*).
	{pending, open, submitOK, either, submitted, 1, changed},
	{pending, open, progress, either, processing, 1, changed},
	{pending, open, completed, either, done, 1, changed},
	{pending, open, failed, left, pending, 2, changed},
	{pending, open, failed, noneLeft, failedSt, 1, changed},
	{pending, open, deadline, left, pending, 1, ignored},
	{pending, open, deadline, noneLeft, pending, 1, ignored},
	{pending, open, cancel, either, cancelled, 1, changed},
	{pending, open, openAttempt, either, pending, 1, conflict},
	{pending, open, retry, either, pending, 1, conflict},
	{pending, open, withdraw, either, pending, 1, changed}, // given back unsent: same attempt, due again
	{pending, open, lost, left, pending, 1, ignored},       // not polled while its submission runs
	{pending, open, lost, noneLeft, pending, 1, ignored},

	{submitted, open, submitOK, either, submitted, 1, ignored},
	{submitted, open, progress, either, processing, 1, changed},
	{submitted, open, completed, either, done, 1, changed},
	{submitted, open, failed, left, pending, 2, changed},
	{submitted, open, failed, noneLeft, failedSt, 1, changed},
	{submitted, open, deadline, left, pending, 2, changed},
	{submitted, open, deadline, noneLeft, timedOut, 1, changed},
	{submitted, open, cancel, either, cancelled, 1, changed},
	{submitted, open, openAttempt, either, submitted, 1, conflict},
	{submitted, open, retry, either, submitted, 1, conflict},
	{submitted, open, withdraw, either, submitted, 1, conflict},
	{submitted, open, lost, left, pending, 2, changed},
	{submitted, open, lost, noneLeft, failedSt, 1, changed},

	{processing, open, submitOK, either, processing, 1, ignored},
	{processing, open, progress, either, processing, 1, changed},
	{processing, open, completed, either, done, 1, changed},
	{processing, open, failed, left, pending, 2, changed},
	{processing, open, failed, noneLeft, failedSt, 1, changed},
	{processing, open, deadline, left, pending, 2, changed},
	{processing, open, deadline, noneLeft, timedOut, 1, changed},
	{processing, open, cancel, either, cancelled, 1, changed},
	{processing, open, openAttempt, either, processing, 1, conflict},
	{processing, open, retry, either, processing, 1, conflict},
	{processing, open, withdraw, either, processing, 1, conflict},
	{processing, open, lost, left, pending, 2, changed},
	{processing, open, lost, noneLeft, failedSt, 1, changed},

	{done, open, submitOK, either, done, 1, ignored},
	{done, open, progress, either, done, 1, ignored},
	{done, open, completed, either, done, 1, ignored},
	{done, open, failed, left, done, 1, ignored},
	{done, open, failed, noneLeft, done, 1, ignored},
	{done, open, deadline, either, done, 1, ignored},
	{done, open, cancel, either, done, 1, conflict},
	{done, open, openAttempt, either, done, 1, conflict},
	{done, open, retry, either, done, 1, conflict},
	{done, open, withdraw, either, done, 1, ignored},
	{done, open, lost, left, done, 1, ignored},
	{done, open, lost, noneLeft, done, 1, ignored},

	{failedSt, open, submitOK, either, failedSt, 1, ignored},
	{failedSt, open, progress, either, failedSt, 1, ignored},
	{failedSt, open, completed, either, failedSt, 1, ignored},
	{failedSt, open, failed, left, failedSt, 1, ignored},
	{failedSt, open, failed, noneLeft, failedSt, 1, ignored},
	{failedSt, open, deadline, either, failedSt, 1, ignored},
	{failedSt, open, cancel, either, failedSt, 1, conflict},
	{failedSt, open, openAttempt, either, failedSt, 1, conflict},
	{failedSt, open, retry, either, pending, 2, changed},
	{failedSt, open, withdraw, either, failedSt, 1, ignored},
	{failedSt, open, lost, left, failedSt, 1, ignored},
	{failedSt, open, lost, noneLeft, failedSt, 1, ignored},

	{cancelled, open, submitOK, either, cancelled, 1, ignored},
	{cancelled, open, progress, either, cancelled, 1, ignored},
	{cancelled, open, completed, either, cancelled, 1, ignored},
	{cancelled, open, failed, left, cancelled, 1, ignored},
	{cancelled, open, failed, noneLeft, cancelled, 1, ignored},
	{cancelled, open, deadline, either, cancelled, 1, ignored},
	{cancelled, open, cancel, either, cancelled, 1, conflict},
	{cancelled, open, openAttempt, either, cancelled, 1, conflict},
	{cancelled, open, retry, either, pending, 2, changed},
	{cancelled, open, withdraw, either, cancelled, 1, ignored},
	{cancelled, open, lost, left, cancelled, 1, ignored},
	{cancelled, open, lost, noneLeft, cancelled, 1, ignored},

	{timedOut, open, submitOK, either, timedOut, 1, ignored},
	{timedOut, open, progress, either, timedOut, 1, ignored},
	{timedOut, open, completed, either, done, 1, changed}, // flagged late
	{timedOut, open, failed, left, timedOut, 1, ignored},
	{timedOut, open, failed, noneLeft, timedOut, 1, ignored},
	{timedOut, open, deadline, either, timedOut, 1, ignored},
	{timedOut, open, cancel, either, timedOut, 1, conflict},
	{timedOut, open, openAttempt, either, timedOut, 1, conflict},
	{timedOut, open, retry, either, pending, 2, changed},
	{timedOut, open, withdraw, either, timedOut, 1, ignored},
	{timedOut, open, lost, left, timedOut, 1, ignored},
	{timedOut, open, lost, noneLeft, timedOut, 1, ignored},
}

// TestTransitionTable checks every cell of transitionTable against Apply.
func TestTransitionTable(t *testing.T) {
	for _, c := range transitionTable {
		t.Run(c.String(), func(t *testing.T) {
			task := taskIn(t, c.from, c.open, c.left)
			before := task.Snapshot()

			out, err := task.Apply(c.event.event(), rules)

			switch c.result {
			case conflict:
				require.ErrorIs(t, err, domain.ErrConflict)
				require.Equal(t, before, task.Snapshot(), "a refused event must not touch the task")
			case ignored:
				require.NoError(t, err)
				require.False(t, out.Changed)
				require.NotEmpty(t, out.Reason, "an ignored event reports why")
				require.Equal(t, before, task.Snapshot(), "an ignored event must not touch the task")
			case changed:
				require.NoError(t, err)
				require.True(t, out.Changed)
				require.Equal(t, c.from, out.From)
				require.Equal(t, c.to, out.To)
			}
			require.Equal(t, c.to, task.Status())
			require.Equal(t, c.attempt, task.Attempt())
		})
	}
}

// TestTransitionTableIsComplete guards transitionTable against a dropped
// cell: every status × event appears (pending both with and without an open
// attempt), and the failure columns appear with attempts left and none left.
func TestTransitionTableIsComplete(t *testing.T) {
	type key struct {
		from  domain.Status
		open  bool
		event column
		left  bool
	}
	have := make(map[key]bool)
	for _, c := range transitionTable {
		k := key{c.from, c.open, c.event, c.left}
		require.False(t, have[k], "duplicate cell %s", c)
		have[k] = true
	}
	for _, status := range domain.Statuses {
		opens := []bool{open}
		if status == pending {
			opens = []bool{notOpen, open}
		}
		for _, o := range opens {
			for _, ev := range []column{submitOK, progress, completed, deadline, cancel, openAttempt, retry, withdraw} {
				require.True(t, have[key{status, o, ev, either}], "missing cell %s (open %v) × %s", status, o, ev)
			}
			for _, l := range []bool{left, noneLeft} {
				require.True(t, have[key{status, o, failed, l}], "missing cell %s (open %v) × failed (left %v)", status, o, l)
				require.True(t, have[key{status, o, lost, l}], "missing cell %s (open %v) × lost (left %v)", status, o, l)
			}
		}
	}
}
