package httpapi

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
)

// An ended task's view carries no live progress stage and no timeout_at
// (SERVICE.md §14); a task at work carries both. The tasks are brought to
// their state by the transition function, as in the service.
func TestTerminalViewsShowNoLiveStageNorDeadline(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rules := domain.Rules{TaskTimeout: 30 * time.Minute}
	zero := 0
	atWork := func(id string) *domain.Task {
		task, err := domain.NewTask(domain.NewTaskParams{ID: id, AccountID: 1, Topic: "写作进度", MaxRetries: &zero}, t0)
		require.NoError(t, err)
		for _, ev := range []domain.Event{
			{Kind: domain.EventOpenAttempt, Source: domain.SourceDispatcher, Attempt: 1, At: t0},
			{Kind: domain.EventSubmitted, Source: domain.SourceDispatcher, Attempt: 1, At: t0},
			{Kind: domain.EventProgress, Source: domain.SourceWebhook, Attempt: 1, At: t0.Add(time.Second),
				Progress: domain.ProgressReport{Percentage: 40, Stage: "write", Message: "writing"}},
		} {
			_, err := task.Apply(ev, rules)
			require.NoError(t, err)
		}
		return task
	}

	running := taskViewOf(atWork("task-running"))
	require.Equal(t, "processing", running.Status)
	require.Equal(t, "write", running.Progress.Stage)
	require.NotNil(t, running.TimeoutAt)

	ends := map[string]domain.Event{
		"failed":    {Kind: domain.EventFailed, Source: domain.SourceWebhook, Attempt: 1, At: t0.Add(time.Minute), Error: domain.TaskError{Message: "boom"}},
		"timeout":   {Kind: domain.EventDeadline, Source: domain.SourcePoll, Attempt: 1, At: t0.Add(time.Hour)},
		"cancelled": {Kind: domain.EventCancel, Source: domain.SourceAPI, At: t0.Add(time.Minute)},
	}
	for status, ev := range ends {
		task := atWork("task-" + status)
		_, err := task.Apply(ev, rules)
		require.NoError(t, err)
		v := taskViewOf(task)
		require.Equal(t, status, v.Status)
		require.Empty(t, v.Progress.Stage, status)
		require.Empty(t, v.Progress.Message, status)
		require.Equal(t, 40, v.Progress.Percentage, "%s: how far it got stays", status)
		require.Nil(t, v.TimeoutAt, status)
		require.NotNil(t, v.Attempts[0].FinishedAt, "%s: the attempt keeps its own times", status)
	}
}
