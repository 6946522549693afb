package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/ports"
)

func TestAccountLimitsRoutes(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		h := newHarness(t, store)
		put := func(target, body string) (int, map[string]any) {
			rec := h.do(http.MethodPut, target, []byte(body), nil)
			return rec.Code, decode(t, rec)
		}
		code, view := put("/api/v1/accounts/7/limits", `{"max_concurrency":1,"max_tasks_per_hour":30,"weight":3}`)
		require.Equal(t, http.StatusOK, code, view)
		require.Equal(t, map[string]any{"max_concurrency": 1.0, "max_tasks_per_hour": 30.0, "weight": 3.0}, view["limits"])
		require.Equal(t, "account", view["limits_source"])

		for _, tc := range []struct{ target, body, field string }{
			{"/api/v1/accounts/7/limits", `{"weight":0}`, "weight"},
			{"/api/v1/accounts/7/limits", `{"weight":101}`, "weight"},
			{"/api/v1/accounts/7/limits", `{"max_concurrency":-1}`, "max_concurrency"},
			{"/api/v1/accounts/7/limits", `{"max_tasks_per_hour":1.5}`, "max_tasks_per_hour"},
			{"/api/v1/accounts/7/limits", `{"max_concurrency":"2"}`, "max_concurrency"},
			{"/api/v1/accounts/abc/limits", `{}`, "account_id"},
			{"/api/v1/accounts/0/limits", `{}`, "account_id"},
		} {
			code, body := put(tc.target, tc.body)
			require.Equal(t, http.StatusUnprocessableEntity, code, "%s %s", tc.target, tc.body)
			require.Equal(t, tc.field, body["error"].(map[string]any)["field"], "%s %s", tc.target, tc.body)
		}

		// Two due tasks of account 7: one runs, the other waits on the
		// account's max_concurrency, and says so everywhere.
		first := h.createTask(`{"account_id":7,"topic":"first"}`)
		h.dispatch(first)
		second := h.createTask(`{"account_id":7,"topic":"second"}`)
		_, err := h.dispatcher.DispatchDue(t.Context())
		require.NoError(t, err)
		h.dispatcher.Wait()
		got := decode(t, h.do(http.MethodGet, "/api/v1/content/tasks/"+second, nil, nil))
		require.Equal(t, "pending", got["status"])
		require.Equal(t, "account_concurrency", got["waiting_reason"])
		require.Nil(t, decode(t, h.do(http.MethodGet, "/api/v1/content/tasks/"+first, nil, nil))["waiting_reason"])
		list := decode(t, h.do(http.MethodGet, "/api/v1/content/tasks?account_id=7", nil, nil))["items"].([]any)
		reasons := map[string]any{}
		for _, it := range list {
			m := it.(map[string]any)
			reasons[m["task_id"].(string)] = m["waiting_reason"]
		}
		require.Equal(t, map[string]any{first: nil, second: "account_concurrency"}, reasons)

		acct := decode(t, h.do(http.MethodGet, "/api/v1/accounts/7", nil, nil))
		require.Equal(t, map[string]any{"pending": 1.0, "running": 1.0, "completed_24h": 0.0, "failed_24h": 0.0}, acct["counts"])
		require.Equal(t, "account_concurrency", acct["waiting_reason"])

		// Raising the limit lets it go: nothing waits any more.
		code, _ = put("/api/v1/accounts/7/limits", `{"max_concurrency":2}`)
		require.Equal(t, http.StatusOK, code)
		require.Nil(t, decode(t, h.do(http.MethodGet, "/api/v1/content/tasks/"+second, nil, nil))["waiting_reason"])

		// The rate limit carries when the window reopens.
		code, _ = put("/api/v1/accounts/7/limits", `{"max_tasks_per_hour":1}`)
		require.Equal(t, http.StatusOK, code)
		got = decode(t, h.do(http.MethodGet, "/api/v1/content/tasks/"+second, nil, nil))
		require.Equal(t, "account_rate_limited", got["waiting_reason"])
		require.NotNil(t, got["not_before"])

		unknown := decode(t, h.do(http.MethodGet, "/api/v1/accounts/99", nil, nil))
		require.Equal(t, "defaults", unknown["limits_source"])
		require.Nil(t, unknown["waiting_reason"])
		all := decode(t, h.do(http.MethodGet, "/api/v1/accounts", nil, nil))["items"].([]any)
		require.Len(t, all, 1, "accounts with tasks or limits")
		require.Equal(t, http.StatusUnprocessableEntity, h.do(http.MethodGet, "/api/v1/accounts/x1", nil, nil).Code)
	})
}

func batchBody(n int, item func(i int) string) []byte {
	items := make([]string, n)
	for i := range items {
		items[i] = item(i)
	}
	return []byte(`{"tasks":[` + strings.Join(items, ",") + `]}`)
}

func TestBatchCreate(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		h := newHarness(t, store)
		ok := batchBody(500, func(i int) string { return fmt.Sprintf(`{"account_id":%d,"topic":"批量 %d"}`, 1+i%5, i) })
		key := http.Header{"Idempotency-Key": {"batch-1"}}
		rec := h.do(http.MethodPost, "/api/v1/content/tasks/batch", ok, key)
		require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
		var answer struct {
			Items []struct {
				Index  int    `json:"index"`
				TaskID string `json:"task_id"`
				Status string `json:"status"`
			} `json:"items"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &answer))
		require.Len(t, answer.Items, 500)
		for i, it := range answer.Items {
			require.Equal(t, i, it.Index)
			require.Equal(t, "pending", it.Status)
			require.Equal(t, fmt.Sprintf("批量 %d", i), h.task(it.TaskID).Topic())
		}
		replay := h.do(http.MethodPost, "/api/v1/content/tasks/batch", ok, key)
		require.Equal(t, http.StatusOK, replay.Code)
		require.JSONEq(t, rec.Body.String(), replay.Body.String())
		other := batchBody(1, func(int) string { return `{"account_id":1,"topic":"other"}` })
		require.Equal(t, http.StatusConflict, h.do(http.MethodPost, "/api/v1/content/tasks/batch", other, key).Code)

		count := func() int {
			page, err := store.ListTasks(t.Context(), ports.TaskQuery{Limit: 200})
			require.NoError(t, err)
			n := len(page.Items)
			for page.NextCursor != "" {
				page, err = store.ListTasks(t.Context(), ports.TaskQuery{Limit: 200, Cursor: page.NextCursor})
				require.NoError(t, err)
				n += len(page.Items)
			}
			return n
		}
		require.Equal(t, 500, count())

		// Refused batches: 422 naming each bad item, and nothing created.
		bad := batchBody(4, func(i int) string {
			switch i {
			case 1:
				return `{"account_id":"x","topic":"t"}`
			case 3:
				return `{"account_id":1,"topic":"t","priority":11}`
			}
			return `{"account_id":1,"topic":"fine"}`
		})
		rec = h.do(http.MethodPost, "/api/v1/content/tasks/batch", bad, nil)
		require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
		items := decode(t, rec)["error"].(map[string]any)["items"].([]any)
		require.Len(t, items, 2)
		require.Equal(t, 1.0, items[0].(map[string]any)["index"])
		require.Equal(t, "account_id", items[0].(map[string]any)["field"])
		require.Equal(t, 3.0, items[1].(map[string]any)["index"])
		require.Equal(t, "priority", items[1].(map[string]any)["field"])

		for _, body := range [][]byte{
			[]byte(`{"tasks":[]}`), []byte(`{}`), []byte(`{"tasks":{}}`),
			batchBody(501, func(i int) string { return `{"account_id":1,"topic":"t"}` }),
		} {
			rec := h.do(http.MethodPost, "/api/v1/content/tasks/batch", body, nil)
			require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
			require.Equal(t, "tasks", decode(t, rec)["error"].(map[string]any)["field"])
		}
		require.Equal(t, 500, count(), "nothing of a refused batch was created")
	})
}

// TestTasksWaitForTheCreatorAndSayWhy (§14): while content-creator is down a
// due task stays pending with waiting_reason creator_unavailable (its view,
// the list, its account), whatever its account's limits; once it is up the
// task goes and the reason is gone.
func TestTasksWaitForTheCreatorAndSayWhy(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		health := &creatorHealthIs{Status: ports.CreatorDown}
		h := newHarness(t, store, func(o *harnessOptions) { o.creatorHealth = health })
		id := h.createTask(`{"account_id":8,"topic":"边缘计算入门"}`)
		n, err := h.dispatcher.DispatchDue(t.Context())
		require.NoError(t, err)
		require.Zero(t, n, "nothing is claimed while content-creator is down")
		got := decode(t, h.do(http.MethodGet, "/api/v1/content/tasks/"+id, nil, nil))
		require.Equal(t, "pending", got["status"])
		require.Equal(t, "creator_unavailable", got["waiting_reason"])
		require.Empty(t, got["attempts"])
		list := decode(t, h.do(http.MethodGet, "/api/v1/content/tasks?account_id=8", nil, nil))["items"].([]any)
		require.Len(t, list, 1)
		require.Equal(t, "creator_unavailable", list[0].(map[string]any)["waiting_reason"])
		acct := decode(t, h.do(http.MethodGet, "/api/v1/accounts/8", nil, nil))
		require.Equal(t, "creator_unavailable", acct["waiting_reason"])

		*health = creatorHealthIs{Status: ports.CreatorUp}
		n, err = h.dispatcher.DispatchDue(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, n)
		h.dispatcher.Wait()
		got = decode(t, h.do(http.MethodGet, "/api/v1/content/tasks/"+id, nil, nil))
		require.Equal(t, "submitted", got["status"])
		require.Equal(t, 1.0, got["attempt"])
		require.Nil(t, got["waiting_reason"])
	})
}
