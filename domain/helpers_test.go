package domain_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
)

// t0 is when every test task is created.
var t0 = time.Date(2026, 2, 9, 12, 0, 0, 0, time.UTC)

const taskTimeout = 30 * time.Minute

// rules waits n minutes after failed attempt n, so a test can tell which
// attempt the backoff was computed for.
var rules = domain.Rules{
	TaskTimeout: taskTimeout,
	Backoff:     func(failedAttempt int) time.Duration { return time.Duration(failedAttempt) * time.Minute },
}

func ptr[T any](v T) *T { return &v }

// newTask returns a valid pending task created at t0; edits adjust the request.
func newTask(t *testing.T, edits ...func(*domain.NewTaskParams)) *domain.Task {
	t.Helper()
	p := domain.NewTaskParams{
		ID:        "task-abc",
		AccountID: 42,
		Topic:     "AI 写作",
		Keywords:  []string{"ai", "写作"},
		Priority:  7,
	}
	for _, edit := range edits {
		edit(&p)
	}
	task, err := domain.NewTask(p, t0)
	require.NoError(t, err)
	return task
}

// mustApply applies an event the test expects to be accepted without error.
func mustApply(t *testing.T, task *domain.Task, ev domain.Event) domain.Outcome {
	t.Helper()
	out, err := task.Apply(ev, rules)
	require.NoError(t, err, "applying %s", ev.Kind)
	return out
}

// requireIgnored applies an event the test expects to be acknowledged without
// any change to the task.
func requireIgnored(t *testing.T, task *domain.Task, ev domain.Event) domain.Outcome {
	t.Helper()
	before := task.Snapshot()
	out := mustApply(t, task, ev)
	require.False(t, out.Changed, "%s should be ignored", ev.Kind)
	require.NotEmpty(t, out.Reason, "an ignored event reports why")
	require.Equal(t, before, task.Snapshot(), "an ignored event must not touch the task")
	return out
}

func openEv(at time.Time) domain.Event {
	return domain.Event{Kind: domain.EventOpenAttempt, Source: domain.SourceDispatcher, At: at}
}

func withdrawEv(attempt int, at time.Time) domain.Event {
	return domain.Event{Kind: domain.EventWithdraw, Source: domain.SourceDispatcher, Attempt: attempt, At: at}
}

func submitEv(attempt int, at time.Time) domain.Event {
	return domain.Event{Kind: domain.EventSubmitted, Source: domain.SourceDispatcher, Attempt: attempt, At: at}
}

func progressEv(attempt int, pct float64, at time.Time) domain.Event {
	return domain.Event{
		Kind: domain.EventProgress, Source: domain.SourceWebhook, Attempt: attempt, At: at,
		Progress: domain.ProgressReport{Percentage: pct, Stage: "writing"},
	}
}

func completedEv(attempt int, markdown string, at time.Time) domain.Event {
	return domain.Event{
		Kind: domain.EventCompleted, Source: domain.SourceWebhook, Attempt: attempt, At: at,
		Result: domain.Result{Content: markdown},
		IDs:    domain.CompletionIDs{ContentID: "content-1", PoolEntryID: "pool-1"},
	}
}

func failedEv(attempt int, message string, at time.Time) domain.Event {
	return domain.Event{
		Kind: domain.EventFailed, Source: domain.SourceWebhook, Attempt: attempt, At: at,
		Error: domain.TaskError{Type: "execution_error", Message: message},
	}
}

func deadlineEv(attempt int, at time.Time) domain.Event {
	return domain.Event{Kind: domain.EventDeadline, Source: domain.SourcePoll, Attempt: attempt, At: at}
}

func lostEv(attempt int, at time.Time) domain.Event {
	return domain.Event{Kind: domain.EventLost, Source: domain.SourcePoll, Attempt: attempt, At: at}
}

func cancelEv(at time.Time) domain.Event {
	return domain.Event{Kind: domain.EventCancel, Source: domain.SourceAPI, At: at}
}

func retryEv(at time.Time) domain.Event {
	return domain.Event{Kind: domain.EventRetry, Source: domain.SourceAPI, At: at}
}

// submittedTask is a task whose first attempt content-creator accepted at t0+1m.
func submittedTask(t *testing.T, edits ...func(*domain.NewTaskParams)) *domain.Task {
	t.Helper()
	task := newTask(t, edits...)
	mustApply(t, task, openEv(t0))
	mustApply(t, task, submitEv(1, t0.Add(time.Minute)))
	require.Equal(t, domain.StatusSubmitted, task.Status())
	return task
}

// taskIn drives a one-attempt task through Apply into status on attempt 1,
// then sets max_attempts so that attempt 1 is (or is not) the last one.
// Every status but pending implies an opened attempt.
func taskIn(t *testing.T, status domain.Status, open, attemptsLeft bool) *domain.Task {
	t.Helper()
	if status != domain.StatusPending && !open {
		t.Fatalf("a %s task has always opened its attempt", status)
	}
	task := newTask(t, func(p *domain.NewTaskParams) { p.MaxRetries = ptr(0) })
	if open {
		mustApply(t, task, openEv(t0))
	}
	if status != domain.StatusPending {
		mustApply(t, task, submitEv(1, t0.Add(time.Minute)))
	}
	switch status {
	case domain.StatusProcessing:
		mustApply(t, task, progressEv(1, 40, t0.Add(2*time.Minute)))
	case domain.StatusCompleted:
		mustApply(t, task, completedEv(1, "# Done\n\nText.", t0.Add(3*time.Minute)))
	case domain.StatusFailed:
		mustApply(t, task, failedEv(1, "boom", t0.Add(3*time.Minute)))
	case domain.StatusTimeout:
		mustApply(t, task, deadlineEv(1, t0.Add(time.Hour)))
	case domain.StatusCancelled:
		mustApply(t, task, cancelEv(t0.Add(3*time.Minute)))
	}
	require.Equal(t, status, task.Status())
	require.Equal(t, open, task.AttemptOpen())
	require.Equal(t, 1, task.Attempt())

	s := task.Snapshot()
	s.MaxAttempts = s.Attempt
	if attemptsLeft {
		s.MaxAttempts++
	}
	return domain.RehydrateTask(s)
}
