package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
)

// TestFailedTaskTimeline: what the dashboard's failed-task page merges into
// one timeline is in the API. Each attempt of a task that failed twice keeps
// its own opened, submitted and finished times and its own error, and the
// delivery log names each delivery's attempt, outcome and arrival, so that
// ordered by time the two interleave: attempt 1, its callbacks, its end,
// attempt 2, its callbacks, its end, and a late callback of attempt 1.
func TestFailedTaskTimeline(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		c := newAPIClient(newHarness(t, store))
		deliver := func(target string, body string) {
			t.Helper()
			c.clock.Advance(time.Second)
			rec := c.send(http.MethodPost, target, body, nil)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		}

		first := c.submit(`{"account_id":1,"topic":"会失败的任务","max_retries":1}`)
		opened1 := c.clock.Now()
		deliver(first.callback, string(progressBody(first.ref, 40)))
		deliver(first.callback, `{"event":"failed","taskId":"`+first.ref+`","error":{"code":"E1","type":"execution_error","message":"第一次失败"}}`)
		failed1 := c.clock.Now()
		require.Equal(t, "pending", c.view(t, first.id).Status)

		c.clock.Advance(2 * time.Minute) // past the backoff
		second := c.dispatch(first.id)
		opened2 := c.clock.Now()
		deliver(second.callback, `{"event":"failed","taskId":"`+second.ref+`","error":{"code":"E2","type":"execution_error","message":"第二次失败"}}`)
		failed2 := c.clock.Now()
		// Attempt 1's failure told again, after the end: logged, not applied.
		deliver(first.callback, `{"event":"failed","taskId":"`+first.ref+`","error":{"code":"E1","type":"execution_error","message":"again"}}`)

		v := c.view(t, first.id)
		require.Equal(t, "failed", v.Status)
		require.Len(t, v.Attempts, 2)
		type attempt struct {
			number                      int
			state, code, message        string
			opened, submitted, finished time.Time
		}
		var got []attempt
		for _, a := range v.Attempts {
			require.NotNil(t, a.Error, "attempt %d keeps its error", a.Number)
			got = append(got, attempt{a.Number, a.State, a.Error.Code, a.Error.Message,
				requireTime(t, a.OpenedAt).UTC(), requireTime(t, a.SubmittedAt).UTC(), requireTime(t, a.FinishedAt).UTC()})
		}
		require.Equal(t, []attempt{
			{1, "failed", "E1", "第一次失败", opened1, opened1, failed1},
			{2, "failed", "E2", "第二次失败", opened2, opened2, failed2},
		}, got, "each attempt has its own times and error")
		require.Equal(t, "E2", v.LastError.Code, "the task's last error is its last attempt's")

		rec := c.send(http.MethodGet, tasksPath+"/"+first.id+"/deliveries", "", nil)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var log struct {
			Items []struct {
				Attempt    int     `json:"attempt"`
				Event      string  `json:"event"`
				DeliveryID string  `json:"delivery_id"`
				Outcome    string  `json:"outcome"`
				Reason     string  `json:"reason"`
				ReceivedAt *string `json:"received_at"`
			} `json:"items"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &log))
		type delivery struct {
			attempt        int
			event, outcome string
			at             time.Time
		}
		var deliveries []delivery
		for _, d := range log.Items {
			require.NotEmpty(t, d.DeliveryID)
			deliveries = append(deliveries, delivery{d.Attempt, d.Event, d.Outcome, requireTime(t, d.ReceivedAt).UTC()})
		}
		require.Equal(t, []delivery{
			{1, "progress", "applied", opened1.Add(time.Second)},
			{1, "failed", "applied", failed1}, // the failure that ended attempt 1: an applied failure
			{2, "failed", "applied", failed2},
			{1, "failed", "ignored", failed2.Add(time.Second)},
		}, deliveries)
		require.NotEmpty(t, log.Items[3].Reason, "an ignored delivery says why")
	})
}
