package domain_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
)

func TestPermanentFailureEndsTheTaskWithAttemptsLeft(t *testing.T) {
	task := newTask(t) // 4 attempts
	mustApply(t, task, openEv(t0))
	ev := failedEv(1, "缺少必需参数: requirements", t0.Add(time.Second))
	ev.Source, ev.Permanent = domain.SourceDispatcher, true
	ev.Error.Code = "SUBMIT_REFUSED"

	out := mustApply(t, task, ev)
	require.Equal(t, domain.StatusFailed, task.Status(), "a refusal recurs on every retry: none is scheduled")
	require.False(t, out.Retrying)
	require.Equal(t, 1, task.Attempt())
	last, ok := task.LastError()
	require.True(t, ok)
	require.Equal(t, "[SUBMIT_REFUSED] execution_error: 缺少必需参数: requirements", last.String())
}

func TestUnconfirmedSubmissionKeepsTheAttemptOpen(t *testing.T) {
	task := newTask(t)
	mustApply(t, task, openEv(t0))
	ev := submitEv(1, t0.Add(30*time.Second))
	ev.Unconfirmed = true
	mustApply(t, task, ev)

	require.Equal(t, domain.StatusSubmitted, task.Status())
	a, _ := task.CurrentAttempt()
	require.Equal(t, domain.AttemptUnconfirmed, a.State)
	require.Equal(t, t0.Add(30*time.Second).Add(taskTimeout), task.TimeoutAt(), "bound by the attempt's deadline")

	// Its callbacks count: progress, then the article.
	mustApply(t, task, progressEv(1, 50, t0.Add(time.Minute)))
	a, _ = task.CurrentAttempt()
	require.Equal(t, domain.AttemptRunning, a.State)
	mustApply(t, task, completedEv(1, "# 文章\n\n正文。", t0.Add(2*time.Minute)))
	require.Equal(t, domain.StatusCompleted, task.Status())
	require.Equal(t, 1, task.Attempt(), "no second attempt")
}

func TestTheSecondSourceOfAnOutcomeIsADuplicate(t *testing.T) {
	exit := func(ev domain.Event) domain.Event { ev.Source = domain.SourceProcessExit; return ev }

	t.Run("callback first, then the process exit", func(t *testing.T) {
		task := submittedTask(t)
		mustApply(t, task, completedEv(1, "# 回调\n\n正文。", t0.Add(2*time.Minute)))
		out := requireIgnored(t, task, exit(completedEv(1, "# 退出\n\n正文。", t0.Add(3*time.Minute))))
		require.True(t, out.Duplicate)
		require.Nil(t, out.Content)
	})
	t.Run("failure told twice", func(t *testing.T) {
		task := submittedTask(t, func(p *domain.NewTaskParams) { p.MaxRetries = ptr(0) })
		mustApply(t, task, exit(failedEv(1, "boom", t0.Add(2*time.Minute))))
		out := requireIgnored(t, task, failedEv(1, "boom", t0.Add(3*time.Minute)))
		require.True(t, out.Duplicate)
	})
	t.Run("a different outcome is no duplicate", func(t *testing.T) {
		task := submittedTask(t)
		mustApply(t, task, completedEv(1, "# 回调\n\n正文。", t0.Add(2*time.Minute)))
		out := requireIgnored(t, task, failedEv(1, "boom", t0.Add(3*time.Minute)))
		require.False(t, out.Duplicate)
		out = requireIgnored(t, task, progressEv(1, 99, t0.Add(3*time.Minute)))
		require.False(t, out.Duplicate)
	})
}

func TestDeadlineAsksToStopTheAttempt(t *testing.T) {
	task := submittedTask(t)
	ref := task.ExternalRef()
	out := mustApply(t, task, deadlineEv(1, t0.Add(time.Hour)))
	require.Equal(t, ref, out.StopRef, "content-creator may still be at work on the timed-out attempt")
	require.True(t, out.Retrying)
	require.NotEqual(t, ref, domain.ExternalRefFor(task.ID(), task.Attempt()))
}
