package application_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

func TestRunOutcomesGoThroughTheTransitionFunction(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		ctx := context.Background()
		ids := seedSubmitted(t, store, 3, t0, 3)
		runs := application.NewRuns(testDeps(store, newSettableClock(t0.Add(time.Minute))), application.NewWakeup())
		exit := func(id string, o ports.RunOutcome) {
			o.TaskID, o.Attempt, o.ExternalRef, o.Source = id, 1, id+"-1", domain.SourceProcessExit
			o.At = t0.Add(2 * time.Minute)
			runs.RunEnded(ctx, o)
		}
		get := func(id string) *domain.Task {
			task, err := store.GetTask(ctx, id)
			require.NoError(t, err)
			return task
		}

		exit(ids[0], ports.RunOutcome{Phase: ports.PhaseCompleted, Result: domain.Result{Content: "# 边缘计算入门\n\n正文。"}})
		done := get(ids[0])
		require.Equal(t, domain.StatusCompleted, done.Status())
		require.Equal(t, t0.Add(2*time.Minute), done.CompletedAt())
		content, err := store.GetContent(ctx, done.ContentID())
		require.NoError(t, err)
		require.Equal(t, "边缘计算入门", content.Title)
		// The same outcome again (the callback, say, after the exit) changes nothing.
		exit(ids[0], ports.RunOutcome{Phase: ports.PhaseCompleted, Result: domain.Result{Content: "# 另一篇\n\n正文。"}})
		require.Equal(t, done.Version(), get(ids[0]).Version())

		exit(ids[1], ports.RunOutcome{Phase: ports.PhaseFailed, Error: domain.TaskError{Code: "CREATOR_CRASHED", Message: "signal: killed"}})
		crashed := get(ids[1])
		require.Equal(t, domain.StatusPending, crashed.Status(), "a crash retries")
		require.Equal(t, 2, crashed.Attempt())

		exit(ids[2], ports.RunOutcome{Phase: ports.PhaseFailed, Permanent: true,
			Error: domain.TaskError{Code: "SUBMIT_REFUSED", Message: "缺少必需参数: requirements"}})
		refused := get(ids[2])
		require.Equal(t, domain.StatusFailed, refused.Status(), "a usage error does not burn retries")
		e, _ := refused.LastError()
		require.Equal(t, "[SUBMIT_REFUSED] 缺少必需参数: requirements", e.String())
	})
}

// TestARunOutcomeNamingAnotherIDKeepsIt (issue #19): a supervised run that
// reports the job under an id of its own (the CLI printed it, the API's
// answer named it) ends the attempt with that id as its external ref, so a
// later callback naming it is this task's.
func TestARunOutcomeNamingAnotherIDKeepsIt(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		ctx := context.Background()
		ids := seedSubmitted(t, store, 2, t0, 3)
		runs := application.NewRuns(testDeps(store, newSettableClock(t0.Add(time.Minute))), application.NewWakeup())
		runs.RunEnded(ctx, ports.RunOutcome{TaskID: ids[0], Attempt: 1, ExternalRef: "cc-own-7", Source: domain.SourceCreatorAnswer,
			Phase: ports.PhaseCompleted, Result: domain.Result{Content: "# 边缘计算入门\n\n正文。"}, At: t0.Add(time.Minute)})
		runs.RunEnded(ctx, ports.RunOutcome{TaskID: ids[1], Attempt: 1, ExternalRef: "cc-own-8", Source: domain.SourceProcessExit,
			Phase: ports.PhaseFailed, Error: domain.TaskError{Type: "execution_error", Message: "Text quality check failed"}, At: t0.Add(time.Minute)})

		done, err := store.GetTask(ctx, ids[0])
		require.NoError(t, err)
		require.Equal(t, domain.StatusCompleted, done.Status())
		a, _ := done.AttemptByRef("cc-own-7")
		require.Equal(t, 1, a.Number, "the completed attempt is known by the reported id")
		require.Equal(t, domain.AttemptCompleted, a.State)

		failed, err := store.GetTask(ctx, ids[1])
		require.NoError(t, err)
		require.Equal(t, domain.StatusPending, failed.Status(), "retried")
		a, _ = failed.AttemptByRef("cc-own-8")
		require.Equal(t, 1, a.Number, "the failed attempt keeps the id it ran under")
		require.Equal(t, domain.AttemptFailed, a.State)
	})
}
