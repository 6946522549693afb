package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
)

// The id content-creator reports for an attempt, other than the one it was
// sent, is that attempt's external ref from then on, and its callbacks are
// accepted with it, authenticated by the attempt's token (issue #19). A body
// naming another task's attempt stays a task_mismatch.
func TestCallbackWithTheIdContentCreatorReportsIsAcceptedAndKept(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		h := newHarness(t, store)
		s := h.submit(defaultTask)
		other := h.submit(defaultTask)
		const reported = "task-1770638400000" // the published program's made-up id

		rec := h.do(http.MethodPost, s.callback, completedBody(other.ref, "# 别的任务"), nil)
		require.Equal(t, http.StatusBadRequest, rec.Code, "another task's attempt ref is never taken: %s", rec.Body.String())

		rec = h.do(http.MethodPost, s.callback, progressBody(reported, 40), nil)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		task := h.task(s.id)
		require.Equal(t, domain.StatusProcessing, task.Status())
		require.Equal(t, reported, task.ExternalRef(), "the reported id is the attempt's external ref")

		rec = h.do(http.MethodPost, s.callback, completedBody(reported, "# 报告的编号\n\n正文。"), nil)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		task = h.task(s.id)
		require.Equal(t, domain.StatusCompleted, task.Status())
		a, _ := task.CurrentAttempt()
		require.Equal(t, reported, a.ExternalRef)
		require.Equal(t, domain.AttemptCompleted, a.State)
	})
}
