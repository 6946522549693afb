package domain_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
)

func TestOpenAndSubmitRecordTheAttempt(t *testing.T) {
	task := newTask(t)
	opening := domain.Opening{TokenHash: domain.HashToken("secret-token"), CallbackURL: "http://cb/api/v1/content/callback/task-abc"}
	ev := openEv(t0)
	ev.Open = opening
	out := mustApply(t, task, ev)

	require.True(t, out.Changed)
	require.Equal(t, domain.StatusPending, task.Status(), "claiming does not submit yet")
	require.True(t, task.AttemptOpen())
	require.True(t, task.HasOpenWork(), "the CLI may be running")
	a, ok := task.CurrentAttempt()
	require.True(t, ok)
	require.Equal(t, domain.Attempt{
		Number: 1, ExternalRef: "task-abc-1", TokenHash: opening.TokenHash, CallbackURL: opening.CallbackURL,
		State: domain.AttemptOpen, OpenedAt: t0,
	}, a)

	submitAt := t0.Add(time.Minute)
	sub := submitEv(1, submitAt)
	sub.ExternalRef = "cc-777" // the id content-creator's submit answer reported
	mustApply(t, task, sub)

	require.Equal(t, domain.StatusSubmitted, task.Status())
	require.Equal(t, submitAt, task.SubmittedAt())
	require.Equal(t, submitAt.Add(taskTimeout), task.TimeoutAt())
	require.Equal(t, "cc-777", task.ExternalRef())
	a, _ = task.CurrentAttempt()
	require.Equal(t, domain.AttemptSubmitted, a.State)
	require.Equal(t, submitAt, a.SubmittedAt)
	require.True(t, task.KnowsRef("task-abc"), "its own id")
	require.True(t, task.KnowsRef("cc-777"), "the attempt's external ref")
	require.False(t, task.KnowsRef("task-other-1"))
}

func TestEachAttemptHasItsOwnExternalRef(t *testing.T) {
	task := submittedTask(t)
	mustApply(t, task, failedEv(1, "boom", t0.Add(2*time.Minute)))
	mustApply(t, task, openEv(t0.Add(5*time.Minute)))

	refs := []string{}
	for _, a := range task.Attempts() {
		refs = append(refs, a.ExternalRef)
	}
	require.Equal(t, []string{"task-abc-1", "task-abc-2"}, refs)
	require.Equal(t, domain.ExternalRefFor("task-abc", 2), task.ExternalRef())
	require.True(t, task.KnowsRef("task-abc-1"), "an older attempt's ref still names the task (its events are stale)")
	byRef, ok := task.AttemptByRef("task-abc-1")
	require.True(t, ok)
	require.Equal(t, 1, byRef.Number)
}

func TestPendingWithOpenAttempt(t *testing.T) {
	t.Run("a completion overtaking the submit completes; the later submit ok changes nothing", func(t *testing.T) {
		task := newTask(t)
		mustApply(t, task, openEv(t0))

		out := mustApply(t, task, completedEv(1, "# Title\n\nBody.", t0.Add(time.Minute)))
		require.Equal(t, domain.StatusPending, out.From)
		require.Equal(t, domain.StatusCompleted, task.Status())
		require.NotNil(t, out.Content)

		requireIgnored(t, task, submitEv(1, t0.Add(2*time.Minute)))
		require.Equal(t, domain.StatusCompleted, task.Status())
	})

	t.Run("progress overtaking the submit starts processing; the later submit ok changes nothing", func(t *testing.T) {
		task := newTask(t)
		mustApply(t, task, openEv(t0))

		mustApply(t, task, progressEv(1, 30, t0.Add(time.Minute)))
		require.Equal(t, domain.StatusProcessing, task.Status())
		require.Equal(t, 30, task.Progress().Percentage)
		require.Equal(t, t0.Add(time.Minute+taskTimeout), task.TimeoutAt(), "a running attempt gets a deadline")

		requireIgnored(t, task, submitEv(1, t0.Add(2*time.Minute)))
		require.Equal(t, domain.StatusProcessing, task.Status())
	})

	t.Run("the later submit ok still tells the id content-creator reports for the attempt", func(t *testing.T) {
		task := newTask(t)
		mustApply(t, task, openEv(t0))
		mustApply(t, task, progressEv(1, 30, t0.Add(time.Minute)))
		sub := submitEv(1, t0.Add(2*time.Minute))
		sub.ExternalRef = "cc-own-7"
		out := mustApply(t, task, sub)
		require.True(t, out.Changed, "the reported id is saved")
		require.Equal(t, domain.StatusProcessing, out.To, "nothing else changes")
		require.Equal(t, domain.StatusProcessing, task.Status())
		require.Equal(t, 30, task.Progress().Percentage)
		require.Equal(t, "cc-own-7", task.ExternalRef(), "polls and callbacks name the attempt by it from now on")

		requireIgnored(t, task, sub) // the same id again changes nothing
	})

	t.Run("a failure overtaking the submit schedules a retry; the later submit ok is stale", func(t *testing.T) {
		task := newTask(t)
		mustApply(t, task, openEv(t0))

		out := mustApply(t, task, failedEv(1, "boom", t0.Add(time.Minute)))
		require.True(t, out.Retrying)
		require.Equal(t, domain.StatusPending, task.Status())
		require.Equal(t, 2, task.Attempt())
		require.False(t, task.AttemptOpen())

		ignored := requireIgnored(t, task, submitEv(1, t0.Add(2*time.Minute)))
		require.Contains(t, ignored.Reason, "stale")
	})

	t.Run("without an open attempt, a pending task ignores attempt events", func(t *testing.T) {
		for _, ev := range []domain.Event{
			submitEv(1, t0.Add(time.Minute)),
			progressEv(1, 50, t0.Add(time.Minute)),
			completedEv(1, "# Title\n\nBody.", t0.Add(time.Minute)),
			failedEv(1, "boom", t0.Add(time.Minute)),
			progressEv(0, 50, t0.Add(time.Minute)), // attempt 0 = the current one
		} {
			task := newTask(t)
			out := requireIgnored(t, task, ev)
			require.Contains(t, out.Reason, "no attempt is open")
		}
	})

	t.Run("a retry's next attempt ignores events until it is opened", func(t *testing.T) {
		task := submittedTask(t)
		mustApply(t, task, failedEv(1, "boom", t0.Add(2*time.Minute)))
		require.Equal(t, 2, task.Attempt())

		requireIgnored(t, task, completedEv(2, "# Title\n\nBody.", t0.Add(3*time.Minute)))

		mustApply(t, task, openEv(t0.Add(4*time.Minute)))
		mustApply(t, task, completedEv(2, "# Title\n\nBody.", t0.Add(5*time.Minute)))
		require.Equal(t, domain.StatusCompleted, task.Status())
	})
}

func TestLateCompletionAfterTimeout(t *testing.T) {
	task := submittedTask(t, func(p *domain.NewTaskParams) { p.MaxRetries = ptr(0) })
	mustApply(t, task, deadlineEv(1, task.TimeoutAt()))
	require.Equal(t, domain.StatusTimeout, task.Status())

	at := task.TimeoutAt().Add(5 * time.Minute)
	out := mustApply(t, task, completedEv(1, "# Finally\n\nThe article.", at))

	require.True(t, out.Changed)
	require.Equal(t, domain.StatusTimeout, out.From)
	require.Equal(t, domain.StatusCompleted, task.Status())
	require.True(t, out.Late)
	require.True(t, task.Late())
	require.NotNil(t, out.Content, "the late article is kept")
	require.True(t, out.Content.Late, "the content is flagged late too")
	require.Equal(t, "Finally", out.Content.Title)
	require.NotNil(t, out.PoolEntry, "auto-approved, so it is queued like any other")
	require.Equal(t, "content-1", task.ContentID())
	require.Equal(t, at, task.CompletedAt())

	a, _ := task.CurrentAttempt()
	require.Equal(t, domain.AttemptCompleted, a.State)
	require.NotNil(t, a.Error, "the attempt history keeps its timeout")
	require.Equal(t, "TIMEOUT", a.Error.Code)
}

func TestLateCompletionWithoutArticleIsIgnored(t *testing.T) {
	task := taskIn(t, timedOut, open, noneLeft)
	out := requireIgnored(t, task, completedEv(1, " \n", t0.Add(2*time.Hour)))
	require.Nil(t, out.Content)
	require.Equal(t, domain.StatusTimeout, task.Status())
}

// onSecondAttempt returns a task whose attempt 1 failed and whose attempt 2
// content-creator accepted; maxRetries 1 makes attempt 2 the last.
func onSecondAttempt(t *testing.T) *domain.Task {
	t.Helper()
	task := submittedTask(t, func(p *domain.NewTaskParams) { p.MaxRetries = ptr(1) })
	mustApply(t, task, failedEv(1, "first", t0.Add(2*time.Minute)))
	mustApply(t, task, openEv(t0.Add(4*time.Minute)))
	mustApply(t, task, submitEv(2, t0.Add(5*time.Minute)))
	require.Equal(t, domain.StatusSubmitted, task.Status())
	require.Equal(t, 2, task.Attempt())
	require.False(t, task.AttemptsLeft())
	return task
}

func TestStaleAttempts(t *testing.T) {
	at := t0.Add(2 * time.Hour) // past attempt 2's deadline, so only staleness can stop a deadline
	stale := []domain.Event{
		submitEv(1, at),
		progressEv(1, 90, at),
		completedEv(1, "# Old\n\nOld article.", at),
		failedEv(1, "late failure of attempt 1", at),
		deadlineEv(1, at),
	}
	for _, ev := range stale {
		t.Run("attempt 1 "+string(ev.Kind)+" is stale on attempt 2", func(t *testing.T) {
			task := onSecondAttempt(t)
			out := requireIgnored(t, task, ev)
			require.Contains(t, out.Reason, "stale")
			require.Equal(t, domain.StatusSubmitted, task.Status())
		})
	}

	for _, ev := range []domain.Event{progressEv(3, 10, at), completedEv(3, "# New\n\nx", at), failedEv(3, "?", at)} {
		t.Run("attempt 3 "+string(ev.Kind)+" is an unknown future attempt", func(t *testing.T) {
			task := onSecondAttempt(t)
			out := requireIgnored(t, task, ev)
			require.Contains(t, out.Reason, "unknown attempt")
		})
	}

	t.Run("a late failed from attempt 1 never fails attempt 2", func(t *testing.T) {
		task := onSecondAttempt(t)
		requireIgnored(t, task, failedEv(1, "late", at))

		mustApply(t, task, completedEv(2, "# Second\n\nIt worked.", at))
		require.Equal(t, domain.StatusCompleted, task.Status())
		attempts := task.Attempts()
		require.Equal(t, "first", attempts[0].Error.Message, "attempt 1 keeps its own error")
		require.Nil(t, attempts[1].Error)
	})
}

func TestFailedAttemptsRetryWithBackoffUntilNoneLeft(t *testing.T) {
	task := newTask(t) // default: 4 attempts
	require.Equal(t, 4, task.MaxAttempts())

	at := t0
	for n := 1; n <= 4; n++ {
		mustApply(t, task, openEv(at))
		mustApply(t, task, submitEv(n, at.Add(time.Second)))
		mustApply(t, task, progressEv(n, 70, at.Add(2*time.Second)))
		failAt := at.Add(3 * time.Second)
		e := domain.TaskError{Code: fmt.Sprintf("E%d", n), Type: "execution_error", Message: "attempt failed"}
		out := mustApply(t, task, domain.Event{Kind: domain.EventFailed, Source: domain.SourceWebhook, Attempt: n, At: failAt, Error: e})

		last, ok := task.LastError()
		require.True(t, ok)
		require.Equal(t, e, last)
		history := task.Attempts()
		require.Len(t, history, n)
		for i, a := range history {
			require.Equal(t, domain.AttemptFailed, a.State)
			require.Equal(t, fmt.Sprintf("E%d", i+1), a.Error.Code, "attempt %d keeps its own error", i+1)
		}
		require.Equal(t, failAt, history[n-1].FinishedAt)

		if n < 4 {
			require.True(t, out.Retrying)
			require.Equal(t, domain.StatusPending, task.Status())
			require.Equal(t, n+1, task.Attempt())
			require.False(t, task.AttemptOpen())
			require.Equal(t, failAt.Add(time.Duration(n)*time.Minute), task.NextAttemptAt(), "backoff of failed attempt %d", n)
			require.True(t, task.TimeoutAt().IsZero(), "the next attempt has no deadline until it is submitted")
			require.Equal(t, 0, task.Progress().Percentage, "progress starts over with the attempt")
			at = task.NextAttemptAt()
			continue
		}
		require.False(t, out.Retrying)
		require.Equal(t, domain.StatusFailed, task.Status())
		require.Equal(t, 4, task.Attempt())
	}
}

func TestSubmitFailureWhileClaimedRetries(t *testing.T) {
	task := newTask(t)
	mustApply(t, task, openEv(t0))
	submitErr := domain.TaskError{Code: "SUBMIT_FAILED", Message: "exit status 1"}
	out := mustApply(t, task, domain.Event{Kind: domain.EventFailed, Source: domain.SourceDispatcher, Attempt: 1, At: t0, Error: submitErr})

	require.True(t, out.Retrying)
	require.Equal(t, domain.StatusPending, task.Status())
	require.Equal(t, t0.Add(time.Minute), task.NextAttemptAt())
	last, _ := task.LastError()
	require.Equal(t, submitErr, last)
}

func TestDeadline(t *testing.T) {
	t.Run("ignored before timeout_at", func(t *testing.T) {
		task := submittedTask(t)
		out := requireIgnored(t, task, deadlineEv(1, task.TimeoutAt().Add(-time.Second)))
		require.Contains(t, out.Reason, "deadline")
	})

	t.Run("with attempts left it retries like failed", func(t *testing.T) {
		task := submittedTask(t)
		mustApply(t, task, progressEv(1, 50, t0.Add(2*time.Minute)))
		at := task.TimeoutAt()

		out := mustApply(t, task, deadlineEv(1, at))

		require.True(t, out.Retrying)
		require.Equal(t, domain.StatusPending, task.Status())
		require.Equal(t, 2, task.Attempt())
		require.Equal(t, at.Add(time.Minute), task.NextAttemptAt())
		last, _ := task.LastError()
		require.Equal(t, "TIMEOUT", last.Code)
		a := task.Attempts()[0]
		require.Equal(t, domain.AttemptTimedOut, a.State)
		require.Equal(t, "TIMEOUT", a.Error.Code)
	})

	t.Run("with none left the final status is timeout", func(t *testing.T) {
		task := onSecondAttempt(t)
		at := task.TimeoutAt().Add(time.Second)

		out := mustApply(t, task, deadlineEv(2, at))

		require.False(t, out.Retrying)
		require.Equal(t, domain.StatusTimeout, task.Status())
		last, _ := task.LastError()
		require.Equal(t, "TIMEOUT", last.Code)
		require.Equal(t, "[TIMEOUT] timeout: no result before the attempt's deadline", last.String())
		require.Equal(t, "first", task.Attempts()[0].Error.Message, "the earlier failure is kept")
	})

	t.Run("a pending task without a submitted attempt has no deadline", func(t *testing.T) {
		task := newTask(t)
		mustApply(t, task, openEv(t0))
		requireIgnored(t, task, deadlineEv(1, t0.Add(24*time.Hour)))
	})
}

func TestProgress(t *testing.T) {
	clamp := []struct {
		name string
		sent float64
		want int
	}{
		{"in range", 42, 42},
		{"fraction truncated", 42.9, 42},
		{"zero", 0, 0},
		{"negative", -5, 0},
		{"over 100", 150, 100},
		{"NaN", math.NaN(), 0},
		{"+Inf", math.Inf(1), 100},
		{"-Inf", math.Inf(-1), 0},
	}
	for _, c := range clamp {
		t.Run("clamped/"+c.name, func(t *testing.T) {
			task := submittedTask(t)
			at := t0.Add(2 * time.Minute)
			ev := progressEv(1, c.sent, at)
			ev.Progress.Message = "drafting"

			out := mustApply(t, task, ev)

			require.True(t, out.Changed)
			require.Equal(t, domain.StatusSubmitted, out.From)
			require.Equal(t, domain.StatusProcessing, task.Status())
			require.Equal(t, domain.Progress{Percentage: c.want, Stage: "writing", Message: "drafting", UpdatedAt: at}, task.Progress())
			require.Equal(t, at, task.StartedAt())
		})
	}

	t.Run("monotonic within an attempt", func(t *testing.T) {
		task := submittedTask(t)
		mustApply(t, task, progressEv(1, 50, t0.Add(2*time.Minute)))

		requireIgnored(t, task, progressEv(1, 30, t0.Add(3*time.Minute)))
		requireIgnored(t, task, progressEv(1, math.NaN(), t0.Add(3*time.Minute)))
		requireIgnored(t, task, progressEv(1, 50, t0.Add(3*time.Minute)))
		require.Equal(t, 50, task.Progress().Percentage)

		sameNewStage := progressEv(1, 50, t0.Add(4*time.Minute))
		sameNewStage.Progress.Stage = "images"
		mustApply(t, task, sameNewStage)
		require.Equal(t, "images", task.Progress().Stage)

		mustApply(t, task, progressEv(1, 250, t0.Add(5*time.Minute)))
		require.Equal(t, 100, task.Progress().Percentage)
		require.Equal(t, t0.Add(2*time.Minute), task.StartedAt(), "started once")
		require.Equal(t, domain.StatusProcessing, task.Status())
	})

	t.Run("a new attempt starts from zero", func(t *testing.T) {
		task := submittedTask(t)
		mustApply(t, task, progressEv(1, 80, t0.Add(2*time.Minute)))
		mustApply(t, task, failedEv(1, "boom", t0.Add(3*time.Minute)))
		mustApply(t, task, openEv(t0.Add(5*time.Minute)))
		mustApply(t, task, submitEv(2, t0.Add(6*time.Minute)))

		mustApply(t, task, progressEv(2, 10, t0.Add(7*time.Minute)))
		require.Equal(t, 10, task.Progress().Percentage)
	})
}

func TestCompletedWithoutContentIsInvalidResult(t *testing.T) {
	t.Run("attempts left: retried", func(t *testing.T) {
		task := submittedTask(t)
		out := mustApply(t, task, completedEv(1, "  \n\t", t0.Add(2*time.Minute)))

		require.True(t, out.Changed)
		require.True(t, out.InvalidResult)
		require.True(t, out.Retrying)
		require.Nil(t, out.Content)
		require.Nil(t, out.PoolEntry)
		require.Equal(t, domain.StatusPending, task.Status())
		require.Equal(t, 2, task.Attempt())
		require.Empty(t, task.ContentID())
		last, _ := task.LastError()
		require.Equal(t, "INVALID_RESULT", last.Code)
		require.Equal(t, "INVALID_RESULT", task.Attempts()[0].Error.Code)
		require.Equal(t, domain.AttemptFailed, task.Attempts()[0].State)
	})

	t.Run("none left: failed", func(t *testing.T) {
		task := onSecondAttempt(t)
		out := mustApply(t, task, completedEv(2, "", t0.Add(10*time.Minute)))

		require.True(t, out.InvalidResult)
		require.False(t, out.Retrying)
		require.Nil(t, out.Content)
		require.Equal(t, domain.StatusFailed, task.Status())
		last, _ := task.LastError()
		require.Equal(t, "INVALID_RESULT", last.Code)
	})
}

func TestCancel(t *testing.T) {
	cases := []struct {
		name    string
		task    func(t *testing.T) *domain.Task
		stopRef string
	}{
		{"pending, never claimed: nothing to stop", func(t *testing.T) *domain.Task { return newTask(t) }, ""},
		{"pending, attempt open: the CLI may be running", func(t *testing.T) *domain.Task {
			task := newTask(t)
			mustApply(t, task, openEv(t0))
			return task
		}, "task-abc-1"},
		{"submitted", func(t *testing.T) *domain.Task { return submittedTask(t) }, "task-abc-1"},
		{"submitted under the ref its submit reported", func(t *testing.T) *domain.Task {
			task := newTask(t)
			mustApply(t, task, openEv(t0))
			sub := submitEv(1, t0.Add(time.Minute))
			sub.ExternalRef = "cc-9"
			mustApply(t, task, sub)
			return task
		}, "cc-9"},
		{"processing", func(t *testing.T) *domain.Task { return taskIn(t, processing, open, left) }, "task-abc-1"},
		{"pending after a failure, retry not yet claimed", func(t *testing.T) *domain.Task {
			task := submittedTask(t)
			mustApply(t, task, failedEv(1, "boom", t0.Add(2*time.Minute)))
			return task
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			task := c.task(t)
			attemptsBefore := task.Attempts()
			at := t0.Add(20 * time.Minute)

			out, err := task.Apply(cancelEv(at), rules)

			require.NoError(t, err)
			require.True(t, out.Changed)
			require.Equal(t, domain.StatusCancelled, task.Status())
			require.Equal(t, c.stopRef, out.StopRef)
			require.False(t, task.HasOpenWork())
			require.Equal(t, at, task.UpdatedAt())
			if c.stopRef != "" {
				a, _ := task.CurrentAttempt()
				require.Equal(t, domain.AttemptCancelled, a.State)
				require.Equal(t, at, a.FinishedAt)
			} else {
				require.Equal(t, attemptsBefore, task.Attempts(), "no running attempt to close")
			}
		})
	}

	for _, status := range []domain.Status{done, failedSt, timedOut, cancelled} {
		t.Run("conflict from "+string(status), func(t *testing.T) {
			task := taskIn(t, status, open, left)
			_, err := task.Apply(cancelEv(t0.Add(2*time.Hour)), rules)
			require.ErrorIs(t, err, domain.ErrConflict)
		})
	}
}

func TestRetry(t *testing.T) {
	for _, status := range []domain.Status{failedSt, timedOut, cancelled} {
		t.Run("from "+string(status), func(t *testing.T) {
			task := taskIn(t, status, open, noneLeft)
			lastBefore, hadError := task.LastError()
			at := t0.Add(3 * time.Hour)

			out, err := task.Apply(retryEv(at), rules)

			require.NoError(t, err)
			require.True(t, out.Changed)
			require.True(t, out.Retrying)
			require.Equal(t, domain.StatusPending, task.Status())
			require.Equal(t, 2, task.Attempt())
			require.False(t, task.AttemptOpen())
			require.Equal(t, at, task.NextAttemptAt(), "due at once")
			require.GreaterOrEqual(t, task.MaxAttempts(), 2, "an operator retry is allowed past max_attempts")
			lastAfter, hasError := task.LastError()
			require.Equal(t, hadError, hasError)
			require.Equal(t, lastBefore, lastAfter, "a retry does not erase the error")

			mustApply(t, task, openEv(at))
			mustApply(t, task, completedEv(2, "# Second try\n\nOK.", at.Add(time.Minute)))
			require.Equal(t, domain.StatusCompleted, task.Status())
		})
	}

	for _, status := range []domain.Status{pending, submitted, processing, done} {
		t.Run("conflict from "+string(status), func(t *testing.T) {
			task := taskIn(t, status, open, left)
			_, err := task.Apply(retryEv(t0.Add(2*time.Hour)), rules)
			require.ErrorIs(t, err, domain.ErrConflict)
		})
	}
}

func TestOpenAttemptTwiceConflicts(t *testing.T) {
	task := newTask(t)
	mustApply(t, task, openEv(t0))
	_, err := task.Apply(openEv(t0.Add(time.Second)), rules)
	require.ErrorIs(t, err, domain.ErrConflict)
}

func TestApplyRejectsUnknownKindsAndStatuses(t *testing.T) {
	task := newTask(t)
	_, err := task.Apply(domain.Event{Kind: "exploded", At: t0}, rules)
	require.Error(t, err)
	require.NotErrorIs(t, err, domain.ErrConflict)

	s := newTask(t).Snapshot()
	s.Status = "weird"
	_, err = domain.RehydrateTask(s).Apply(cancelEv(t0), rules)
	require.Error(t, err)
}

func TestLastHeardAtCountsOnlyContentCreator(t *testing.T) {
	task := submittedTask(t)
	require.Equal(t, t0.Add(time.Minute), task.LastHeardAt(), "a submit starts the grace period")

	heard := t0.Add(5 * time.Minute)
	mustApply(t, task, progressEv(1, 10, heard))
	require.Equal(t, heard, task.LastHeardAt())

	mustApply(t, task, cancelEv(t0.Add(6*time.Minute)))
	require.Equal(t, heard, task.LastHeardAt(), "an operator's cancel is not news from content-creator")
}

func TestTimesAreUTC(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*60*60)
	task, err := domain.NewTask(domain.NewTaskParams{ID: "task-tz", AccountID: 1, Topic: "x"}, t0.In(shanghai))
	require.NoError(t, err)
	require.Equal(t, time.UTC, task.CreatedAt().Location())
	require.True(t, task.CreatedAt().Equal(t0))

	mustApply(t, task, openEv(t0.In(shanghai)))
	mustApply(t, task, submitEv(1, t0.Add(time.Minute).In(shanghai)))
	require.Equal(t, time.UTC, task.SubmittedAt().Location())
	require.Equal(t, time.UTC, task.TimeoutAt().Location())
	require.Equal(t, time.UTC, task.UpdatedAt().Location())
}

func TestLeaseIsReleasedWhenContentCreatorTakesOver(t *testing.T) {
	task := newTask(t)
	task.Lease("worker-1", t0.Add(time.Minute))
	mustApply(t, task, openEv(t0))
	require.Equal(t, "worker-1", task.LeaseOwner(), "the claim holds while the CLI runs")

	mustApply(t, task, submitEv(1, t0.Add(10*time.Second)))
	require.Empty(t, task.LeaseOwner())
	require.True(t, task.LeaseUntil().IsZero())
}

// TestAWithdrawnAttemptSpendsNothing: an attempt opened and given back unsent
// (content-creator unavailable, §14) leaves the task due on the same attempt
// with its retries intact; the next claim opens that attempt again.
func TestAWithdrawnAttemptSpendsNothing(t *testing.T) {
	task := newTask(t)
	due := task.NextAttemptAt()
	_, err := task.Apply(openEv(t0.Add(time.Minute)), rules)
	require.NoError(t, err)
	task.Lease("worker-1", t0.Add(2*time.Minute))

	out, err := task.Apply(withdrawEv(1, t0.Add(time.Minute)), rules)
	require.NoError(t, err)
	require.True(t, out.Changed)
	require.False(t, out.Retrying)
	require.Equal(t, domain.StatusPending, task.Status())
	require.Equal(t, 1, task.Attempt())
	require.False(t, task.AttemptOpen())
	require.Equal(t, due, task.NextAttemptAt(), "due as before")
	require.Empty(t, task.LeaseOwner())
	a, ok := task.CurrentAttempt()
	require.True(t, ok)
	require.Equal(t, domain.AttemptWithdrawn, a.State)
	_, hasError := task.LastError()
	require.False(t, hasError, "nothing failed")

	_, err = task.Apply(openEv(t0.Add(3*time.Minute)), rules)
	require.NoError(t, err)
	require.Len(t, task.Attempts(), 1, "the same attempt, opened again")
	a, _ = task.CurrentAttempt()
	require.Equal(t, domain.AttemptOpen, a.State)
	require.Equal(t, 1, a.Number)
}

// TestLostRunFailsTheAttemptAndStopsIt: a run found lost (§14) fails its
// attempt with CREATOR_LOST, asks content-creator to stop the ref it ran
// under, and follows the retry rules like any failure.
func TestLostRunFailsTheAttemptAndStopsIt(t *testing.T) {
	for _, c := range []struct {
		name   string
		left   bool
		status domain.Status
	}{
		{"attempts left: retried after the backoff", left, pending},
		{"last attempt: the task fails", noneLeft, failedSt},
	} {
		t.Run(c.name, func(t *testing.T) {
			task := taskIn(t, processing, open, c.left)
			ref := task.ExternalRef()
			at := t0.Add(time.Hour)

			out, err := task.Apply(lostEv(task.Attempt(), at), rules)

			require.NoError(t, err)
			require.True(t, out.Changed)
			require.Equal(t, c.status, task.Status())
			require.Equal(t, ref, out.StopRef, "content-creator still holds the run as running")
			require.Equal(t, c.left, out.Retrying)
			e, ok := task.LastError()
			require.True(t, ok)
			require.Equal(t, domain.CodeCreatorLost, e.Code)
			a := task.Attempts()[0]
			require.Equal(t, domain.AttemptFailed, a.State)
			require.Equal(t, domain.CodeCreatorLost, a.Error.Code)
		})
	}

	t.Run("a stale attempt's verdict is ignored", func(t *testing.T) {
		task := taskIn(t, processing, open, left)
		out, err := task.Apply(lostEv(task.Attempt()+1, t0.Add(time.Hour)), rules)
		require.NoError(t, err)
		require.False(t, out.Changed)
		require.Empty(t, out.StopRef)
	})
}
