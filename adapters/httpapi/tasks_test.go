package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/ports"
)

// Tests of the task API (§5, without the SSE routes) through the router, over
// the real use cases and a real store, on SQLite and PostgreSQL.

const (
	tasksPath   = "/api/v1/content/tasks"
	asyncPath   = "/api/v1/content/generate/async"
	poolPath    = "/api/v1/publish-pool"
	contentPath = "/api/v1/contents/"
)

// apiClient sends requests through the harness's router and keeps every
// response body, so a test can assert what the API never reveals.
type apiClient struct {
	*harness
	mu     sync.Mutex
	bodies []string
}

func newAPIClient(h *harness) *apiClient { return &apiClient{harness: h} }

// send sends one request; an empty body sends none. It is safe for
// concurrent use.
func (c *apiClient) send(method, target, body string, header http.Header) *httptest.ResponseRecorder {
	c.t.Helper()
	var raw []byte
	if body != "" {
		raw = []byte(body)
	}
	rec := c.do(method, target, raw, header)
	c.mu.Lock()
	c.bodies = append(c.bodies, rec.Body.String())
	c.mu.Unlock()
	return rec
}

// create posts a task and returns its view, requiring 202.
func (c *apiClient) create(t *testing.T, body string) taskJSON {
	t.Helper()
	rec := c.send(http.MethodPost, tasksPath, body, nil)
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	return taskOf(t, rec)
}

// view gets a task, requiring 200.
func (c *apiClient) view(t *testing.T, id string) taskJSON {
	t.Helper()
	rec := c.send(http.MethodGet, tasksPath+"/"+id, "", nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	return taskOf(t, rec)
}

// count counts the tasks of one list page (query like "?status=pending").
func (c *apiClient) count(t *testing.T, header http.Header, query string) int {
	t.Helper()
	rec := c.send(http.MethodGet, tasksPath+query, "", header)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var page taskPageJSON
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
	return len(page.Items)
}

// requireNeverShown asserts that no response body so far contained secret.
func (c *apiClient) requireNeverShown(t *testing.T, secret string) {
	t.Helper()
	require.NotEmpty(t, secret)
	c.mu.Lock()
	defer c.mu.Unlock()
	require.NotEmpty(t, c.bodies)
	for _, body := range c.bodies {
		require.NotContains(t, body, secret)
	}
}

func (c *recordingCreator) cancelledRefs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.cancelled)
}

// apiErrorBody is the error object of the §3.7 envelope.
type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// requireAPIError asserts the status and the exact shape of the error
// envelope, {"success":false,"error":{"code","message"},"request_id"}, and
// returns its error object.
func requireAPIError(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) apiErrorBody {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	require.Contains(t, rec.Header().Get("Content-Type"), "application/json")
	var env struct {
		Success   *bool         `json:"success"`
		Error     *apiErrorBody `json:"error"`
		RequestID string        `json:"request_id"`
	}
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&env), rec.Body.String())
	require.NotNil(t, env.Success, rec.Body.String())
	require.False(t, *env.Success)
	require.NotNil(t, env.Error, rec.Body.String())
	require.Equal(t, code, env.Error.Code, rec.Body.String())
	require.NotEmpty(t, env.Error.Message)
	require.NotEmpty(t, env.RequestID)
	require.Equal(t, rec.Header().Get("X-Request-ID"), env.RequestID, "the body's request id is the header's")
	return *env.Error
}

// taskJSON is the task view as a client reads it.
type taskJSON struct {
	TaskID       string   `json:"task_id"`
	AccountID    int64    `json:"account_id"`
	Topic        string   `json:"topic"`
	Keywords     []string `json:"keywords"`
	Category     string   `json:"category"`
	Requirements string   `json:"requirements"`
	Tone         string   `json:"tone"`
	Priority     int      `json:"priority"`
	AutoApprove  bool     `json:"auto_approve"`
	Status       string   `json:"status"`
	Attempt      int      `json:"attempt"`
	MaxAttempts  int      `json:"max_attempts"`
	Progress     struct {
		Percentage int     `json:"percentage"`
		Stage      string  `json:"stage"`
		Message    string  `json:"message"`
		UpdatedAt  *string `json:"updated_at"`
	} `json:"progress"`
	LastError     *taskErrorJSON `json:"last_error"`
	ContentID     *string        `json:"content_id"`
	ExternalRef   *string        `json:"external_ref"`
	CallbackURL   *string        `json:"callback_url"`
	NextAttemptAt *string        `json:"next_attempt_at"`
	Attempts      []struct {
		Number      int            `json:"number"`
		ExternalRef string         `json:"external_ref"`
		State       string         `json:"state"`
		CallbackURL string         `json:"callback_url"`
		Error       *taskErrorJSON `json:"error"`
		OpenedAt    *string        `json:"opened_at"`
		SubmittedAt *string        `json:"submitted_at"`
		FinishedAt  *string        `json:"finished_at"`
	} `json:"attempts"`
	CreatedAt   *string `json:"created_at"`
	SubmittedAt *string `json:"submitted_at"`
	StartedAt   *string `json:"started_at"`
	CompletedAt *string `json:"completed_at"`
	UpdatedAt   *string `json:"updated_at"`
}

type taskErrorJSON struct {
	Code    string `json:"code"`
	Type    string `json:"type"`
	Message string `json:"message"`
	Text    string `json:"text"`
}

func taskOf(t *testing.T, rec *httptest.ResponseRecorder) taskJSON {
	t.Helper()
	require.Contains(t, rec.Header().Get("Content-Type"), "application/json")
	var v taskJSON
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v), rec.Body.String())
	return v
}

type taskPageJSON struct {
	Items      []taskJSON `json:"items"`
	NextCursor *string    `json:"next_cursor"`
}

// requireTime parses a view's time: present, RFC 3339, UTC.
func requireTime(t *testing.T, s *string) time.Time {
	t.Helper()
	require.NotNil(t, s, "time is missing")
	at, err := time.Parse(time.RFC3339Nano, *s)
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(*s, "Z"), "%s is not UTC", *s)
	return at
}

// taskIDsOf lists the task ids of views, in order.
func taskIDsOf(views []taskJSON) []string {
	out := make([]string, len(views))
	for i, v := range views {
		out[i] = v.TaskID
	}
	return out
}

func TestCreateTask(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		c := newAPIClient(newHarness(t, store))

		t.Run("defaults", func(t *testing.T) {
			rec := c.send(http.MethodPost, tasksPath, `{"account_id":7,"topic":"  边缘计算入门 "}`, nil)
			require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
			v := taskOf(t, rec)
			require.Regexp(t, `^task-[A-Za-z0-9_-]{16,95}$`, v.TaskID, "task- and at least 96 random bits, URL-safe")
			require.Equal(t, tasksPath+"/"+v.TaskID, rec.Header().Get("Location"))
			require.Empty(t, rec.Header().Get("Idempotent-Replayed"))
			require.Equal(t, int64(7), v.AccountID)
			require.Equal(t, "边缘计算入门", v.Topic)
			require.Equal(t, "pending", v.Status)
			require.Equal(t, 1, v.Attempt)
			require.Equal(t, 4, v.MaxAttempts, "1 + 3 retries")
			require.Equal(t, 5, v.Priority)
			require.True(t, v.AutoApprove)
			require.Equal(t, []string{}, v.Keywords)
			require.Equal(t, 0, v.Progress.Percentage)
			require.Nil(t, v.LastError)
			require.Nil(t, v.ContentID)
			require.Nil(t, v.CallbackURL)
			require.Nil(t, v.SubmittedAt)
			require.Nil(t, v.CompletedAt)
			require.Empty(t, v.Attempts)
			require.True(t, c.clock.Now().Equal(requireTime(t, v.CreatedAt)))

			require.Equal(t, v, c.view(t, v.TaskID), "the stored task reads back as created")
		})

		t.Run("every field, through the alias", func(t *testing.T) {
			rec := c.send(http.MethodPost, asyncPath, `{"account_id":9,"topic":"t","keywords":"a, b,,c",
				"category":"tech","requirements":"short","tone":"casual","priority":10,"auto_approve":false,"max_retries":0}`, nil)
			require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
			v := taskOf(t, rec)
			require.Equal(t, tasksPath+"/"+v.TaskID, rec.Header().Get("Location"))
			require.Equal(t, []string{"a", "b", "c"}, v.Keywords)
			require.Equal(t, "tech", v.Category)
			require.Equal(t, "short", v.Requirements)
			require.Equal(t, "casual", v.Tone)
			require.Equal(t, 10, v.Priority)
			require.False(t, v.AutoApprove)
			require.Equal(t, 1, v.MaxAttempts, "max_retries 0 → a single attempt")
			require.Equal(t, "pending", v.Status)
		})

		t.Run("keywords as a list", func(t *testing.T) {
			v := c.create(t, `{"account_id":1,"topic":"t","keywords":["边缘", " 计算 "],"max_retries":10}`)
			require.Equal(t, []string{"边缘", "计算"}, v.Keywords)
			require.Equal(t, 11, v.MaxAttempts)
		})

		t.Run("null fields take their defaults", func(t *testing.T) {
			v := c.create(t, `{"account_id":1,"topic":"t","keywords":null,"priority":null,"auto_approve":null,"max_retries":null}`)
			require.Equal(t, []string{}, v.Keywords)
			require.Equal(t, 5, v.Priority)
			require.True(t, v.AutoApprove)
			require.Equal(t, 4, v.MaxAttempts)
		})

		t.Run("limits are inclusive", func(t *testing.T) {
			for _, body := range []string{
				fmt.Sprintf(`{"account_id":1,"topic":%q}`, strings.Repeat("题", 500)),
				fmt.Sprintf(`{"account_id":1,"topic":"t","tone":%q}`, strings.Repeat("语", 50)),
				`{"account_id":1,"topic":"t","priority":1}`,
				`{"account_id":9223372036854775807,"topic":"t"}`,
			} {
				rec := c.send(http.MethodPost, tasksPath, body, nil)
				require.Equal(t, http.StatusAccepted, rec.Code, "%.80s: %s", body, rec.Body.String())
			}
		})
	})
}

func TestCreateTaskValidation(t *testing.T) {
	long := func(s string, n int) string { return strings.Repeat(s, n) }
	rows := []struct {
		name, body, field string
	}{
		{"account_id missing", `{"topic":"t"}`, "account_id"},
		{"account_id null", `{"account_id":null,"topic":"t"}`, "account_id"},
		{"account_id zero", `{"account_id":0,"topic":"t"}`, "account_id"},
		{"account_id negative", `{"account_id":-3,"topic":"t"}`, "account_id"},
		{"account_id a string", `{"account_id":"7","topic":"t"}`, "account_id"},
		{"account_id a fraction", `{"account_id":1.5,"topic":"t"}`, "account_id"},
		{"topic missing", `{"account_id":1}`, "topic"},
		{"topic empty", `{"account_id":1,"topic":""}`, "topic"},
		{"topic blank", `{"account_id":1,"topic":" \t\n"}`, "topic"},
		{"topic too long", fmt.Sprintf(`{"account_id":1,"topic":%q}`, long("a", 501)), "topic"},
		{"topic too long in CJK characters", fmt.Sprintf(`{"account_id":1,"topic":%q}`, long("题", 501)), "topic"},
		{"topic a number", `{"account_id":1,"topic":42}`, "topic"},
		{"tone too long", fmt.Sprintf(`{"account_id":1,"topic":"t","tone":%q}`, long("x", 51)), "tone"},
		{"tone a number", `{"account_id":1,"topic":"t","tone":5}`, "tone"},
		{"priority zero", `{"account_id":1,"topic":"t","priority":0}`, "priority"},
		{"priority eleven", `{"account_id":1,"topic":"t","priority":11}`, "priority"},
		{"priority negative", `{"account_id":1,"topic":"t","priority":-1}`, "priority"},
		{"priority a word", `{"account_id":1,"topic":"t","priority":"high"}`, "priority"},
		{"priority a fraction", `{"account_id":1,"topic":"t","priority":2.5}`, "priority"},
		{"keywords a number", `{"account_id":1,"topic":"t","keywords":5}`, "keywords"},
		{"keywords an object", `{"account_id":1,"topic":"t","keywords":{"a":1}}`, "keywords"},
		{"keywords a list of numbers", `{"account_id":1,"topic":"t","keywords":[1,2]}`, "keywords"},
		{"keywords a boolean", `{"account_id":1,"topic":"t","keywords":true}`, "keywords"},
		{"max_retries negative", `{"account_id":1,"topic":"t","max_retries":-1}`, "max_retries"},
		{"max_retries too many", `{"account_id":1,"topic":"t","max_retries":11}`, "max_retries"},
		{"max_retries a string", `{"account_id":1,"topic":"t","max_retries":"3"}`, "max_retries"},
		{"auto_approve a string", `{"account_id":1,"topic":"t","auto_approve":"yes"}`, "auto_approve"},
		{"category a number", `{"account_id":1,"topic":"t","category":1}`, "category"},
		{"category too long", fmt.Sprintf(`{"account_id":1,"topic":"t","category":%q}`, long("c", 101)), "category"},
		{"requirements a list", `{"account_id":1,"topic":"t","requirements":[]}`, "requirements"},
	}
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		c := newAPIClient(newHarness(t, store))
		for _, row := range rows {
			t.Run(row.name, func(t *testing.T) {
				for _, path := range []string{tasksPath, asyncPath} {
					rec := c.send(http.MethodPost, path, row.body, nil)
					e := requireAPIError(t, rec, http.StatusUnprocessableEntity, "validation_error")
					require.Equal(t, row.field, e.Field, "%s: %s", path, e.Message)
				}
			})
		}
		t.Run("Idempotency-Key too long", func(t *testing.T) {
			rec := c.send(http.MethodPost, tasksPath, `{"account_id":1,"topic":"t"}`,
				http.Header{"Idempotency-Key": {strings.Repeat("k", 256)}})
			e := requireAPIError(t, rec, http.StatusUnprocessableEntity, "validation_error")
			require.Equal(t, "Idempotency-Key", e.Field)
		})

		var page taskPageJSON
		require.NoError(t, json.Unmarshal(c.send(http.MethodGet, tasksPath, "", nil).Body.Bytes(), &page))
		require.Empty(t, page.Items, "no refused request created a task")
	})
}

func TestCreateTaskMalformedBody(t *testing.T) {
	rows := []struct {
		name, body string
		status     int
		code       string
	}{
		{"truncated", `{"account_id":1,"topic":`, http.StatusBadRequest, "invalid_json"},
		{"not JSON", `account_id=1&topic=t`, http.StatusBadRequest, "invalid_json"},
		{"no body", ``, http.StatusBadRequest, "invalid_json"},
		{"an array", `[{"account_id":1,"topic":"t"}]`, http.StatusBadRequest, "invalid_json"},
		{"a string", `"topic"`, http.StatusBadRequest, "invalid_json"},
		{"a number", `42`, http.StatusBadRequest, "invalid_json"},
		{"too large", `{"account_id":1,"topic":"t","requirements":"` + strings.Repeat("r", 1<<20) + `"}`,
			http.StatusRequestEntityTooLarge, "body_too_large"},
	}
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		c := newAPIClient(newHarness(t, store))
		for _, row := range rows {
			t.Run(row.name, func(t *testing.T) {
				requireAPIError(t, c.send(http.MethodPost, tasksPath, row.body, nil), row.status, row.code)
			})
		}
		t.Run("null", func(t *testing.T) {
			requireAPIError(t, c.send(http.MethodPost, tasksPath, `null`, nil), http.StatusBadRequest, "invalid_json")
		})
		t.Run("trailing data after the object", func(t *testing.T) {
			requireAPIError(t, c.send(http.MethodPost, tasksPath, `{"account_id":1,"topic":"t"}xyz`, nil),
				http.StatusBadRequest, "invalid_json")
		})
	})
}

func TestCreateTaskIdempotencyKey(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		c := newAPIClient(newHarness(t, store))
		key := func(k string) http.Header { return http.Header{"Idempotency-Key": {k}} }
		const body = `{"account_id":42,"topic":"边缘计算","keywords":["a","b"],"priority":7}`

		first := c.send(http.MethodPost, tasksPath, body, key("order-1"))
		require.Equal(t, http.StatusAccepted, first.Code, first.Body.String())
		id := taskOf(t, first).TaskID

		replays := []struct{ name, path, body string }{
			{"same body", tasksPath, body},
			{"keys reordered, whitespace changed", tasksPath, "{\n  \"priority\": 7,\n  \"keywords\": [\"a\", \"b\"],\n  \"topic\": \"边缘计算\",\n  \"account_id\": 42\n}"},
			{"same body through the alias", asyncPath, body},
			{"defaults spelled out, keywords as a string", tasksPath,
				`{"account_id":42,"topic":" 边缘计算 ","keywords":"a,b","priority":7,"auto_approve":true,"max_retries":3}`},
		}
		for _, r := range replays {
			t.Run("replay: "+r.name, func(t *testing.T) {
				rec := c.send(http.MethodPost, r.path, r.body, key("order-1"))
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				require.Equal(t, "true", rec.Header().Get("Idempotent-Replayed"))
				require.Equal(t, tasksPath+"/"+id, rec.Header().Get("Location"))
				v := taskOf(t, rec)
				require.Equal(t, id, v.TaskID)
				require.Equal(t, "pending", v.Status)
			})
		}

		conflicts := []struct{ name, body string }{
			{"other topic", `{"account_id":42,"topic":"另一个","keywords":["a","b"],"priority":7}`},
			{"other priority", `{"account_id":42,"topic":"边缘计算","keywords":["a","b"],"priority":8}`},
			{"other account", `{"account_id":43,"topic":"边缘计算","keywords":["a","b"],"priority":7}`},
		}
		for _, cf := range conflicts {
			t.Run("conflict: "+cf.name, func(t *testing.T) {
				requireAPIError(t, c.send(http.MethodPost, tasksPath, cf.body, key("order-1")),
					http.StatusConflict, "idempotency_conflict")
			})
		}

		t.Run("another key makes another task", func(t *testing.T) {
			rec := c.send(http.MethodPost, tasksPath, body, key("order-2"))
			require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
			require.NotEqual(t, id, taskOf(t, rec).TaskID)
		})
		t.Run("no key makes a new task every time", func(t *testing.T) {
			a, b := c.create(t, body), c.create(t, body)
			require.NotEqual(t, a.TaskID, b.TaskID)
		})

		require.Equal(t, 4, c.count(t, nil, "?account_id=42"), "order-1 once, order-2 once, two without a key")
		require.Zero(t, c.count(t, nil, "?account_id=43"), "a conflict creates nothing")
	})
}

func TestCreateTaskIdempotencyKeyRace(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		c := newAPIClient(newHarness(t, store))
		const n = 20
		var (
			mu   sync.Mutex
			recs []*httptest.ResponseRecorder
		)
		codes := race(n, func() int {
			rec := c.send(http.MethodPost, tasksPath, `{"account_id":5,"topic":"once"}`,
				http.Header{"Idempotency-Key": {"race-key"}})
			mu.Lock()
			recs = append(recs, rec)
			mu.Unlock()
			return rec.Code
		})

		require.Equal(t, map[int]int{http.StatusAccepted: 1, http.StatusOK: n - 1}, codes,
			"one creation, every other request a replay")
		taskIDs := map[string]bool{}
		for _, rec := range recs {
			taskIDs[taskOf(t, rec).TaskID] = true
		}
		require.Len(t, taskIDs, 1, "every answer names the same task")
		require.Equal(t, 1, c.count(t, nil, ""), "exactly one task exists")
	})
}

func TestGetTask(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		c := newAPIClient(newHarness(t, store))
		s := c.submit(`{"account_id":7,"topic":"t","priority":8}`)
		require.Len(t, s.token, 43, "32 random bytes, base64url")
		wantCallbackURL := "http://hub.test/api/v1/content/callback/" + s.id

		t.Run("submitted", func(t *testing.T) {
			v := c.view(t, s.id)
			require.Equal(t, "submitted", v.Status)
			require.Equal(t, 1, v.Attempt)
			require.Equal(t, s.ref, *v.ExternalRef)
			require.NotNil(t, v.CallbackURL)
			require.Equal(t, wantCallbackURL, *v.CallbackURL, "the callback URL without its token")
			requireTime(t, v.SubmittedAt)
			require.Nil(t, v.StartedAt)
			require.Nil(t, v.NextAttemptAt, "only a pending task waits for a next attempt")
			require.Len(t, v.Attempts, 1)
			require.Equal(t, "submitted", v.Attempts[0].State)
		})

		t.Run("processing with progress", func(t *testing.T) {
			c.clock.Advance(time.Second)
			rec := c.send(http.MethodPost, s.callback, string(progressBody(s.ref, 40)), nil)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			v := c.view(t, s.id)
			require.Equal(t, "processing", v.Status)
			require.Equal(t, 40, v.Progress.Percentage)
			require.Equal(t, "writing", v.Progress.Stage)
			require.Equal(t, "m", v.Progress.Message)
			require.True(t, c.clock.Now().Equal(requireTime(t, v.Progress.UpdatedAt)))
			requireTime(t, v.StartedAt)
			require.Nil(t, v.LastError)
		})

		t.Run("pending again after a failed attempt, keeping its error", func(t *testing.T) {
			rec := c.send(http.MethodPost, s.callback,
				`{"event":"failed","taskId":"`+s.ref+`","error":{"code":"E42","type":"execution_error","message":"boom"}}`, nil)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			v := c.view(t, s.id)
			require.Equal(t, "pending", v.Status)
			require.Equal(t, 2, v.Attempt)
			require.Equal(t, 4, v.MaxAttempts)
			require.Equal(t, &taskErrorJSON{Code: "E42", Type: "execution_error", Message: "boom", Text: "[E42] execution_error: boom"}, v.LastError)
			require.True(t, requireTime(t, v.NextAttemptAt).After(c.clock.Now()), "backoff")
			require.Len(t, v.Attempts, 1)
			require.Equal(t, "failed", v.Attempts[0].State)
			require.Equal(t, v.LastError, v.Attempts[0].Error)
		})

		var s2 submitted
		t.Run("completed", func(t *testing.T) {
			c.clock.Advance(2 * time.Minute)
			s2 = c.dispatch(s.id)
			rec := c.send(http.MethodPost, s2.callback, string(completedBody(s2.ref, "# Done\n\nbody")), nil)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			v := c.view(t, s.id)
			require.Equal(t, "completed", v.Status)
			require.Equal(t, 2, v.Attempt)
			require.Equal(t, s2.ref, *v.ExternalRef)
			require.Equal(t, wantCallbackURL, *v.CallbackURL)
			require.NotNil(t, v.ContentID)
			require.True(t, c.clock.Now().Equal(requireTime(t, v.CompletedAt)))
			require.NotNil(t, v.LastError)
			require.Equal(t, "boom", v.LastError.Message, "a retry does not erase the earlier error")
			require.Len(t, v.Attempts, 2)
			for _, a := range v.Attempts {
				require.Equal(t, wantCallbackURL, a.CallbackURL)
			}
			requireTime(t, v.CreatedAt)
			requireTime(t, v.UpdatedAt)
		})

		t.Run("no response shows a callback token", func(t *testing.T) {
			// Read every route that shows something of the task, then search
			// all answers of this test, callbacks' included.
			v := c.view(t, s.id)
			for _, target := range []string{
				tasksPath, tasksPath + "?account_id=7", tasksPath + "/" + s.id + "/deliveries",
				contentPath + *v.ContentID, poolPath,
			} {
				rec := c.send(http.MethodGet, target, "", nil)
				require.Equal(t, http.StatusOK, rec.Code, "%s: %s", target, rec.Body.String())
			}
			c.requireNeverShown(t, s.token)
			c.requireNeverShown(t, s2.token)
		})
	})
}

// TestUnknownOrMalformedTaskID: an id that is malformed or unknown is 404 on
// every route that names a task (§5).
func TestUnknownOrMalformedTaskID(t *testing.T) {
	taskIDs := map[string]string{
		"unknown":         "task-AAAAAAAAAAAAAAAAAAAAAA",
		"bad characters":  url.PathEscape("bad id!"),
		"a dot":           "task.x",
		"101 characters":  strings.Repeat("a", 101),
		"non-ASCII":       url.PathEscape("任务"),
		"escaped slashes": "a%2Fb",
	}
	routes := []struct{ method, suffix string }{
		{http.MethodGet, ""},
		{http.MethodPost, "/cancel"},
		{http.MethodPost, "/retry"},
		{http.MethodGet, "/deliveries"},
	}
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		c := newAPIClient(newHarness(t, store))
		c.create(t, `{"account_id":1,"topic":"t"}`) // the store is not empty
		for name, id := range taskIDs {
			for _, r := range routes {
				t.Run(name+" "+r.method+r.suffix, func(t *testing.T) {
					requireAPIError(t, c.send(r.method, tasksPath+"/"+id+r.suffix, "", nil), http.StatusNotFound, "not_found")
				})
			}
			t.Run(name+" content", func(t *testing.T) {
				requireAPIError(t, c.send(http.MethodGet, contentPath+id, "", nil), http.StatusNotFound, "not_found")
			})
		}
	})
}

func TestListTasks(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		c := newAPIClient(newHarness(t, store))

		// Seven tasks, one second apart, then three created in the same
		// instant, so paging must also order by id. Oldest first here.
		var all []taskJSON
		for i := range 7 {
			c.clock.Advance(time.Second)
			all = append(all, c.create(t, fmt.Sprintf(`{"account_id":%d,"topic":"t%d"}`, 1+i%2, i)))
		}
		c.clock.Advance(time.Second)
		for i := range 3 {
			all = append(all, c.create(t, fmt.Sprintf(`{"account_id":3,"topic":"same instant %d"}`, i)))
		}
		cancelled := map[string]bool{}
		for _, i := range []int{1, 2, 8} {
			rec := c.send(http.MethodPost, tasksPath+"/"+all[i].TaskID+"/cancel", "", nil)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			cancelled[all[i].TaskID] = true
		}
		accountOf := map[string]int64{}
		for _, v := range all {
			accountOf[v.TaskID] = v.AccountID
		}

		list := func(t *testing.T, query string) taskPageJSON {
			t.Helper()
			rec := c.send(http.MethodGet, tasksPath+query, "", nil)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			var page taskPageJSON
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
			require.NotNil(t, page.Items, "items is a list, never null")
			return page
		}

		// Newest first: the three of the same instant (in the store's id
		// order, which depends on the database's collation), then the seven
		// in reverse. Every other expectation is this order, filtered.
		newest := taskIDsOf(list(t, "").Items)
		require.Len(t, newest, len(all))
		require.ElementsMatch(t, taskIDsOf(all[7:]), newest[:3])
		older := taskIDsOf(all[:7])
		slices.Reverse(older)
		require.Equal(t, older, newest[3:])
		newestFirst := func(pick func(id string) bool) []string {
			out := []string{}
			for _, id := range newest {
				if pick(id) {
					out = append(out, id)
				}
			}
			return out
		}
		everything := func(string) bool { return true }
		// pages follows next_cursor to the end and returns every page's ids.
		pages := func(t *testing.T, query string) [][]string {
			t.Helper()
			var out [][]string
			cursor := ""
			for range 20 {
				q := query
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				page := list(t, q)
				out = append(out, taskIDsOf(page.Items))
				if page.NextCursor == nil {
					return out
				}
				require.NotEmpty(t, *page.NextCursor)
				cursor = *page.NextCursor
			}
			t.Fatal("next_cursor never ended")
			return nil
		}

		filters := []struct {
			name, query string
			want        []string
		}{
			{"everything", "", newestFirst(everything)},
			{"one account", "?account_id=1", newestFirst(func(id string) bool { return accountOf[id] == 1 })},
			{"one status", "?status=cancelled", newestFirst(func(id string) bool { return cancelled[id] })},
			{"account and status", "?account_id=2&status=pending",
				newestFirst(func(id string) bool { return accountOf[id] == 2 && !cancelled[id] })},
			{"an account without tasks", "?account_id=99", []string{}},
			{"a status without tasks", "?status=completed", []string{}},
		}
		for _, f := range filters {
			t.Run(f.name, func(t *testing.T) {
				page := list(t, f.query)
				require.Equal(t, f.want, taskIDsOf(page.Items))
				require.Nil(t, page.NextCursor, "a single page has no next")
				for _, v := range page.Items {
					require.Equal(t, c.view(t, v.TaskID), v, "list items are full task views")
				}
			})
		}

		t.Run("cursor paging returns every task once, newest first", func(t *testing.T) {
			got := pages(t, "?limit=3")
			require.Len(t, got, 4)
			require.Equal(t, []int{3, 3, 3, 1}, []int{len(got[0]), len(got[1]), len(got[2]), len(got[3])})
			require.Equal(t, newestFirst(everything), slices.Concat(got...))
		})
		t.Run("a full last page has no next cursor", func(t *testing.T) {
			got := pages(t, "?limit=5")
			require.Len(t, got, 2)
			require.Equal(t, newestFirst(everything), slices.Concat(got...))
		})
		t.Run("paging with filters", func(t *testing.T) {
			got := pages(t, "?account_id=3&status=pending&limit=1")
			require.Len(t, got, 2)
			require.Equal(t, newestFirst(func(id string) bool { return accountOf[id] == 3 && !cancelled[id] }),
				slices.Concat(got...))
		})
		t.Run("limit 200 is allowed", func(t *testing.T) {
			require.Len(t, list(t, "?limit=200").Items, len(all))
		})

		badCursor := base64.RawURLEncoding.EncodeToString([]byte("yesterday task-x"))
		refused := []struct{ name, query, field string }{
			{"limit over 200", "?limit=201", "limit"},
			{"limit zero", "?limit=0", "limit"},
			{"limit negative", "?limit=-1", "limit"},
			{"limit not a number", "?limit=ten", "limit"},
			{"unknown status", "?status=done", "status"},
			{"status in capitals", "?status=PENDING", "status"},
			{"cursor not base64", "?cursor=" + url.QueryEscape("not a cursor!"), "cursor"},
			{"cursor of something else", "?cursor=" + badCursor, "cursor"},
			{"account_id not a number", "?account_id=abc", "account_id"},
			{"account_id zero", "?account_id=0", "account_id"},
			{"account_id negative", "?account_id=-4", "account_id"},
		}
		for _, r := range refused {
			t.Run(r.name, func(t *testing.T) {
				e := requireAPIError(t, c.send(http.MethodGet, tasksPath+r.query, "", nil),
					http.StatusUnprocessableEntity, "validation_error")
				require.Equal(t, r.field, e.Field, e.Message)
			})
		}
	})
}

// failTask submits a task with no retries left and fails its only attempt.
func failTask(t *testing.T, c *apiClient) submitted {
	t.Helper()
	s := c.submit(`{"account_id":1,"topic":"t","max_retries":0}`)
	rec := c.send(http.MethodPost, s.callback, string(failedBody(s.ref, "boom")), nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "failed", c.view(t, s.id).Status)
	return s
}

// completeTask submits a task and completes it.
func completeTask(t *testing.T, c *apiClient, body string) submitted {
	t.Helper()
	s := c.submit(body)
	rec := c.send(http.MethodPost, s.callback, string(completedBody(s.ref, "# Done\n\nbody")), nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "completed", c.view(t, s.id).Status)
	return s
}

func TestCancelTask(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		c := newAPIClient(newHarness(t, store))
		cancel := func(id string) *httptest.ResponseRecorder {
			return c.send(http.MethodPost, tasksPath+"/"+id+"/cancel", "", nil)
		}

		// Tasks are dispatched one at a time: the dispatcher takes every due task.
		submittedTask := c.submit(defaultTask)
		cancelSubmitted := cancel(submittedTask.id)
		processingTask := c.submit(defaultTask)
		rec := c.send(http.MethodPost, processingTask.callback, string(progressBody(processingTask.ref, 10)), nil)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		completed := completeTask(t, c, defaultTask)
		failed := failTask(t, c)
		pending := c.create(t, defaultTask)

		t.Run("pending", func(t *testing.T) {
			rec := cancel(pending.TaskID)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			v := taskOf(t, rec)
			require.Equal(t, "cancelled", v.Status)
			require.Equal(t, 1, v.Attempt)
			require.Equal(t, v, c.view(t, pending.TaskID), "the answer is the stored task")
			require.NotContains(t, c.creator.cancelledRefs(), pending.TaskID+"-1", "nothing was running")
		})
		t.Run("submitted, stopping its attempt", func(t *testing.T) {
			require.Equal(t, http.StatusOK, cancelSubmitted.Code, cancelSubmitted.Body.String())
			require.Equal(t, "cancelled", taskOf(t, cancelSubmitted).Status)
			require.Equal(t, "cancelled", c.view(t, submittedTask.id).Status)
			// In the background: the answer does not wait for content-creator.
			require.Eventually(t, func() bool { return slices.Contains(c.creator.cancelledRefs(), submittedTask.ref) },
				5*time.Second, time.Millisecond)
		})
		t.Run("processing, stopping its attempt", func(t *testing.T) {
			rec := cancel(processingTask.id)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, "cancelled", taskOf(t, rec).Status)
			require.Eventually(t, func() bool { return slices.Contains(c.creator.cancelledRefs(), processingTask.ref) },
				5*time.Second, time.Millisecond)
		})
		time.Sleep(50 * time.Millisecond) // room for a wrong extra stop to show
		require.Len(t, c.creator.cancelledRefs(), 2, "only the running attempts were asked to stop")

		ended := []struct{ name, id, status string }{
			{"completed", completed.id, "completed"},
			{"failed", failed.id, "failed"},
			{"cancelled", pending.TaskID, "cancelled"},
		}
		for _, e := range ended {
			t.Run(e.name+" is a conflict", func(t *testing.T) {
				requireAPIError(t, cancel(e.id), http.StatusConflict, "conflict")
				require.Equal(t, e.status, c.view(t, e.id).Status)
			})
		}
		t.Run("unknown", func(t *testing.T) {
			requireAPIError(t, cancel("task-unknown"), http.StatusNotFound, "not_found")
		})
		t.Run("a late completion of a cancelled attempt changes nothing", func(t *testing.T) {
			rec := c.send(http.MethodPost, submittedTask.callback, string(completedBody(submittedTask.ref, "# late")), nil)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, true, decode(t, rec)["ignored"])
			v := c.view(t, submittedTask.id)
			require.Equal(t, "cancelled", v.Status)
			require.Nil(t, v.ContentID)
		})
	})
}

func TestRetryTask(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		c := newAPIClient(newHarness(t, store))
		retry := func(id string) *httptest.ResponseRecorder {
			return c.send(http.MethodPost, tasksPath+"/"+id+"/retry", "", nil)
		}

		t.Run("failed", func(t *testing.T) {
			s := failTask(t, c)
			c.clock.Advance(time.Second)
			rec := retry(s.id)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			v := taskOf(t, rec)
			require.Equal(t, "pending", v.Status)
			require.Equal(t, 2, v.Attempt)
			require.Equal(t, 2, v.MaxAttempts, "a manual retry may go past max_attempts")
			require.True(t, c.clock.Now().Equal(requireTime(t, v.NextAttemptAt)), "due at once")
			require.NotNil(t, v.LastError)
			require.Equal(t, "boom", v.LastError.Message, "the failed attempt keeps its error")
			require.Equal(t, v, c.view(t, s.id))

			s2 := c.dispatch(s.id)
			require.NotEqual(t, s.ref, s2.ref)
			require.NotEqual(t, s.token, s2.token)
			require.Equal(t, "submitted", c.view(t, s.id).Status)

			t.Run("submitted is a conflict", func(t *testing.T) {
				requireAPIError(t, retry(s.id), http.StatusConflict, "conflict")
			})
			t.Run("processing is a conflict", func(t *testing.T) {
				rec := c.send(http.MethodPost, s2.callback, string(progressBody(s2.ref, 5)), nil)
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				requireAPIError(t, retry(s.id), http.StatusConflict, "conflict")
				require.Equal(t, 2, c.view(t, s.id).Attempt)
			})
		})

		t.Run("cancelled after submission", func(t *testing.T) {
			s := c.submit(defaultTask)
			require.Equal(t, http.StatusOK, c.send(http.MethodPost, tasksPath+"/"+s.id+"/cancel", "", nil).Code)
			rec := retry(s.id)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			v := taskOf(t, rec)
			require.Equal(t, "pending", v.Status)
			require.Equal(t, 2, v.Attempt)
			s2 := c.dispatch(s.id)
			require.NotEqual(t, s.ref, s2.ref)
		})

		t.Run("cancelled while pending", func(t *testing.T) {
			p := c.create(t, defaultTask)
			require.Equal(t, http.StatusOK, c.send(http.MethodPost, tasksPath+"/"+p.TaskID+"/cancel", "", nil).Code)
			rec := retry(p.TaskID)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			v := taskOf(t, rec)
			require.Equal(t, "pending", v.Status)
			require.Equal(t, 2, v.Attempt)

			t.Run("pending is a conflict", func(t *testing.T) {
				requireAPIError(t, retry(p.TaskID), http.StatusConflict, "conflict")
				require.Equal(t, 2, c.view(t, p.TaskID).Attempt)
			})
			c.dispatch(p.TaskID) // leave no due task behind for the next subtest
		})

		t.Run("completed is a conflict", func(t *testing.T) {
			s := completeTask(t, c, defaultTask)
			requireAPIError(t, retry(s.id), http.StatusConflict, "conflict")
			require.Equal(t, "completed", c.view(t, s.id).Status)
		})
		t.Run("unknown", func(t *testing.T) {
			requireAPIError(t, retry("task-unknown"), http.StatusNotFound, "not_found")
		})
	})
}

func TestWrongMethodAndUnknownRoute(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		c := newAPIClient(newHarness(t, store))
		id := c.create(t, defaultTask).TaskID

		wrongMethod := []struct {
			method, target string
			allow          []string
		}{
			{http.MethodDelete, tasksPath, []string{"GET", "POST"}},
			{http.MethodPut, tasksPath + "/" + id, []string{"GET"}},
			{http.MethodGet, tasksPath + "/" + id + "/cancel", []string{"POST"}},
			{http.MethodGet, tasksPath + "/" + id + "/retry", []string{"POST"}},
			{http.MethodPost, tasksPath + "/" + id + "/deliveries", []string{"GET"}},
			{http.MethodGet, asyncPath, []string{"POST"}},
			{http.MethodGet, "/api/v1/content/callback/" + id, []string{"POST"}},
			{http.MethodPost, contentPath + "content-x", []string{"GET"}},
			{http.MethodDelete, poolPath, []string{"GET"}},
		}
		for _, r := range wrongMethod {
			t.Run(r.method+" "+r.target, func(t *testing.T) {
				rec := c.send(r.method, r.target, "", nil)
				requireAPIError(t, rec, http.StatusMethodNotAllowed, "method_not_allowed")
				allow := strings.Split(rec.Header().Get("Allow"), ", ")
				slices.Sort(allow)
				require.Equal(t, r.allow, allow)
			})
		}
		require.Equal(t, "pending", c.view(t, id).Status, "no wrong method touched the task")

		for _, target := range []string{"/api/v1/nothing", "/api/v1/content/tasks/" + id + "/nothing", "/"} {
			t.Run("unknown route "+target, func(t *testing.T) {
				requireAPIError(t, c.send(http.MethodGet, target, "", nil), http.StatusNotFound, "not_found")
			})
		}
	})
}

func TestContentAndPublishPool(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		c := newAPIClient(newHarness(t, store))
		complete := func(s submitted, body string) string {
			t.Helper()
			rec := c.send(http.MethodPost, s.callback, body, nil)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			v := c.view(t, s.id)
			require.Equal(t, "completed", v.Status)
			require.NotNil(t, v.ContentID)
			return *v.ContentID
		}

		urgent := c.submit(`{"account_id":7,"topic":"边缘计算入门","priority":8}`)
		urgentContent := complete(urgent, `{"event":"completed","taskId":"`+urgent.ref+`","result":{`+
			`"content":"# 标题\n\n正文 *强调* [链接](https://x.test) text.",`+
			`"htmlContent":"<h1>标题</h1><p>正文</p>",`+
			`"images":["https://img.test/1.png",{"url":"https://img.test/2.png"}],`+
			`"qualityScore":8.5,"wordCount":1234}}`)
		c.clock.Advance(time.Second)
		review := c.submit(`{"account_id":8,"topic":"需要审核","priority":9,"auto_approve":false}`)
		reviewContent := complete(review, `{"event":"completed","taskId":"`+review.ref+`","result":{"content":"没有标题的文章 two words"}}`)
		c.clock.Advance(time.Second)
		calm := c.submit(`{"account_id":9,"topic":"t","priority":3}`)
		calmContent := complete(calm, string(completedBody(calm.ref, "# Calm")))

		t.Run("content of an auto-approved task", func(t *testing.T) {
			rec := c.send(http.MethodGet, contentPath+urgentContent, "", nil)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			got := decode(t, rec)
			require.NotNil(t, got["created_at"])
			require.Equal(t, got["created_at"], got["reviewed_at"], "auto-approved when it was created")
			require.NotEmpty(t, got["pool_entry_id"])
			delete(got, "created_at")
			delete(got, "reviewed_at")
			delete(got, "pool_entry_id")
			require.Equal(t, map[string]any{
				"content_id": urgentContent, "task_id": urgent.id, "account_id": 7.0, "attempt": 1.0,
				"title": "标题", "summary": "标题 正文 强调 链接 text.",
				"content":      "# 标题\n\n正文 *强调* [链接](https://x.test) text.",
				"html_content": "<h1>标题</h1><p>正文</p>",
				"images":       []any{"https://img.test/1.png", "https://img.test/2.png"},
				"cover_image":  "https://img.test/1.png", "quality_score": 8.5, "word_count": 1234.0,
				"review_status": "approved", "reviewer": "auto", "review_note": nil, "late": false,
			}, got)
		})
		t.Run("content awaiting review", func(t *testing.T) {
			rec := c.send(http.MethodGet, contentPath+reviewContent, "", nil)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			got := decode(t, rec)
			require.Equal(t, "pending_review", got["review_status"])
			require.Equal(t, "需要审核", got["title"], "no heading: the topic")
			require.Equal(t, 9.0, got["word_count"], "seven CJK characters and two words")
			require.Equal(t, []any{}, got["images"])
			require.Nil(t, got["cover_image"])
			require.Nil(t, got["quality_score"])
		})
		t.Run("unknown content", func(t *testing.T) {
			requireAPIError(t, c.send(http.MethodGet, contentPath+"content-unknown", "", nil), http.StatusNotFound, "not_found")
		})

		type poolJSON struct {
			Items []struct {
				ID          string  `json:"id"`
				ContentID   string  `json:"content_id"`
				TaskID      string  `json:"task_id"`
				AccountID   int64   `json:"account_id"`
				Priority    int     `json:"priority"`
				Status      string  `json:"status"`
				ScheduledAt *string `json:"scheduled_at"`
			} `json:"items"`
		}
		pool := func(t *testing.T, query string) poolJSON {
			t.Helper()
			rec := c.send(http.MethodGet, poolPath+query, "", nil)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			var p poolJSON
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
			require.NotNil(t, p.Items)
			return p
		}
		for _, query := range []string{"?status=pending", ""} {
			t.Run("pool "+query, func(t *testing.T) {
				p := pool(t, query)
				require.Len(t, p.Items, 2, "the task awaiting review has no entry")
				first, second := p.Items[0], p.Items[1]
				require.Equal(t, urgentContent, first.ContentID, "higher priority first")
				require.Equal(t, urgent.id, first.TaskID)
				require.Equal(t, int64(7), first.AccountID)
				require.Equal(t, 8, first.Priority)
				require.Equal(t, "pending", first.Status)
				require.NotEmpty(t, first.ID)
				requireTime(t, first.ScheduledAt)
				require.Equal(t, calmContent, second.ContentID)
				require.Equal(t, 3, second.Priority)
			})
		}
		t.Run("pool with a limit", func(t *testing.T) {
			p := pool(t, "?limit=1")
			require.Len(t, p.Items, 1)
			require.Equal(t, urgentContent, p.Items[0].ContentID)
		})
		for _, limit := range []string{"0", "201", "x"} {
			t.Run("pool limit "+limit, func(t *testing.T) {
				e := requireAPIError(t, c.send(http.MethodGet, poolPath+"?limit="+limit, "", nil),
					http.StatusUnprocessableEntity, "validation_error")
				require.Equal(t, "limit", e.Field)
			})
		}
		t.Run("pool with an unknown status", func(t *testing.T) {
			e := requireAPIError(t, c.send(http.MethodGet, poolPath+"?status=pendng", "", nil),
				http.StatusUnprocessableEntity, "validation_error")
			require.Equal(t, "status", e.Field)
		})
	})
}

func TestTaskDeliveries(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		c := newAPIClient(newHarness(t, store))
		s := c.submit(defaultTask)

		// Each delivery a second later, so the log's order is the sending order.
		var requestIDs []string
		deliver := func(target string, body []byte, status int) {
			t.Helper()
			c.clock.Advance(time.Second)
			rec := c.send(http.MethodPost, target, string(body), nil)
			require.Equal(t, status, rec.Code, rec.Body.String())
			requestIDs = append(requestIDs, rec.Header().Get("X-Request-ID"))
		}
		deliver(s.callback, progressBody(s.ref, 30), http.StatusOK)
		deliver("/api/v1/content/callback/"+s.id+"?token=wrong", progressBody(s.ref, 50), http.StatusUnauthorized)
		deliver(s.callback, completedBody(s.ref, "# Done"), http.StatusOK)
		deliver(s.callback, failedBody(s.ref, "late"), http.StatusOK)

		rec := c.send(http.MethodGet, tasksPath+"/"+s.id+"/deliveries", "", nil)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var log struct {
			Items []struct {
				Attempt    int     `json:"attempt"`
				Event      string  `json:"event"`
				DeliveryID string  `json:"delivery_id"`
				Scheme     string  `json:"scheme"`
				Outcome    string  `json:"outcome"`
				Reason     string  `json:"reason"`
				HTTPStatus int     `json:"http_status"`
				RequestID  string  `json:"request_id"`
				ReceivedAt *string `json:"received_at"`
			} `json:"items"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &log))
		type row struct {
			attempt                int
			event, scheme, outcome string
			status                 int
		}
		var got []row
		for i, d := range log.Items {
			got = append(got, row{d.Attempt, d.Event, d.Scheme, d.Outcome, d.HTTPStatus})
			require.Equal(t, requestIDs[i], d.RequestID, "a delivery names the request that brought it")
			requireTime(t, d.ReceivedAt)
			if d.Outcome == "rejected" {
				require.Empty(t, d.DeliveryID)
			} else {
				require.NotEmpty(t, d.DeliveryID)
			}
		}
		require.Equal(t, []row{
			{1, "progress", "token", "applied", http.StatusOK},
			{0, "", "", "rejected", http.StatusUnauthorized}, // authenticated nothing: no attempt, no scheme
			{1, "completed", "token", "applied", http.StatusOK},
			{1, "failed", "token", "ignored", http.StatusOK},
		}, got)
		require.NotEmpty(t, log.Items[3].Reason, "an ignored delivery says why")

		t.Run("a task without deliveries", func(t *testing.T) {
			p := c.create(t, defaultTask)
			rec := c.send(http.MethodGet, tasksPath+"/"+p.TaskID+"/deliveries", "", nil)
			require.Equal(t, http.StatusOK, rec.Code)
			require.JSONEq(t, `{"items":[]}`, rec.Body.String())
		})
	})
}

func TestAPITokens(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		c := newAPIClient(newHarness(t, store, func(o *harnessOptions) { o.apiTokens = []string{"tok-a", "tok-b"} }))
		bearer := func(v string) http.Header { return http.Header{"Authorization": {v}} }
		authorized := bearer("Bearer tok-b")
		createAuthorized := func() string {
			rec := c.send(http.MethodPost, tasksPath, defaultTask, authorized)
			require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
			return taskOf(t, rec).TaskID
		}

		// A completed task for the read routes; the callback needs no bearer token.
		done := c.dispatch(createAuthorized())
		rec := c.send(http.MethodPost, done.callback, string(completedBody(done.ref, "# Done")), nil)
		require.Equal(t, http.StatusOK, rec.Code, "callbacks are authenticated by §4 only: %s", rec.Body.String())
		rec = c.send(http.MethodGet, tasksPath+"/"+done.id, "", authorized)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		contentID := *taskOf(t, rec).ContentID
		toCancel := createAuthorized()
		toRetry := createAuthorized()
		rec = c.send(http.MethodPost, tasksPath+"/"+toRetry+"/cancel", "", authorized)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

		routes := []struct {
			method, target, body string
			ok                   int
		}{
			{http.MethodPost, tasksPath, defaultTask, http.StatusAccepted},
			{http.MethodPost, asyncPath, defaultTask, http.StatusAccepted},
			{http.MethodGet, tasksPath, "", http.StatusOK},
			{http.MethodGet, tasksPath + "/" + done.id, "", http.StatusOK},
			{http.MethodPost, tasksPath + "/" + toCancel + "/cancel", "", http.StatusOK},
			{http.MethodPost, tasksPath + "/" + toRetry + "/retry", "", http.StatusOK},
			{http.MethodGet, tasksPath + "/" + done.id + "/deliveries", "", http.StatusOK},
			{http.MethodGet, contentPath + contentID, "", http.StatusOK},
			{http.MethodGet, poolPath, "", http.StatusOK},
		}
		refused := map[string]http.Header{
			"no Authorization":      nil,
			"a wrong token":         bearer("Bearer tok-c"),
			"a token's prefix":      bearer("Bearer tok-"),
			"an empty bearer token": bearer("Bearer "),
			"another scheme":        bearer("Basic dG9rLWE6"),
			"the bare token":        bearer("tok-a"),
		}
		for _, r := range routes {
			t.Run(r.method+" "+r.target, func(t *testing.T) {
				for name, header := range refused {
					rec := c.send(r.method, r.target, r.body, header)
					requireAPIError(t, rec, http.StatusUnauthorized, "unauthorized")
					require.Equal(t, `Bearer realm="contenthub"`, rec.Header().Get("WWW-Authenticate"), name)
				}
				// Refused requests changed nothing: the cancel and retry
				// still succeed now, with either configured token.
				rec := c.send(r.method, r.target, r.body, bearer("Bearer tok-a"))
				require.Equal(t, r.ok, rec.Code, rec.Body.String())
			})
		}
		require.Equal(t, 3, c.count(t, authorized, "?status=pending"),
			"the two creations with a token and the retried task; no refused request made one")

		for _, target := range []string{"/healthz", "/readyz", "/api/v1/content/health"} {
			t.Run("open "+target, func(t *testing.T) {
				rec := c.send(http.MethodGet, target, "", nil)
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			})
		}
	})
}

func TestHealthAnswer(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		c := newAPIClient(newHarness(t, store, func(o *harnessOptions) { o.api.SignatureRequired = true }))
		rec := c.send(http.MethodGet, "/api/v1/content/health", "", nil)
		require.Equal(t, http.StatusOK, rec.Code)
		require.JSONEq(t, `{"status":"ok","webhook_enabled":true,"signature_required":true,
			"creator":{"status":"unknown","since":null,"last_error":null}}`, rec.Body.String())
	})
}

type creatorHealthIs ports.CreatorHealth

func (h *creatorHealthIs) Health() ports.CreatorHealth { return ports.CreatorHealth(*h) }

// TestHealthShowsTheCreator (§14): the breaker's snapshot, as it is now.
func TestHealthShowsTheCreator(t *testing.T) {
	store := sqlstoretest.NewSQLite(t)
	since := time.Date(2026, 12, 6, 20, 0, 0, 0, time.FixedZone("CST", 8*3600))
	h := &creatorHealthIs{Status: ports.CreatorDown, Since: since, LastError: "content-creator create: dial tcp 127.0.0.1:3000: connect: connection refused"}
	c := newAPIClient(newHarness(t, store, func(o *harnessOptions) { o.creatorHealth = h }))
	rec := c.send(http.MethodGet, "/api/v1/content/health", "", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"status":"ok","webhook_enabled":true,"signature_required":false,
		"creator":{"status":"down","since":"2026-12-06T12:00:00Z","last_error":"content-creator create: dial tcp 127.0.0.1:3000: connect: connection refused"}}`,
		rec.Body.String())

	*h = creatorHealthIs{Status: ports.CreatorUp, Since: since.Add(time.Minute), LastError: h.LastError}
	rec = c.send(http.MethodGet, "/api/v1/content/health", "", nil)
	require.JSONEq(t, `{"status":"ok","webhook_enabled":true,"signature_required":false,
		"creator":{"status":"up","since":"2026-12-06T12:01:00Z","last_error":"content-creator create: dial tcp 127.0.0.1:3000: connect: connection refused"}}`,
		rec.Body.String(), "up again; the last failure stays for the operator")
}

// TestRequestID: a client's X-Request-ID is echoed in the header and in error
// bodies; an unusable one is replaced.
func TestRequestID(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		c := newAPIClient(newHarness(t, store))
		withID := func(id string) http.Header { return http.Header{"X-Request-ID": {id}} }
		errorsOf := []struct {
			name, method, target, body string
			status                     int
			code                       string
		}{
			{"validation", http.MethodPost, tasksPath, `{"topic":"t"}`, http.StatusUnprocessableEntity, "validation_error"},
			{"invalid JSON", http.MethodPost, tasksPath, `{`, http.StatusBadRequest, "invalid_json"},
			{"not found", http.MethodGet, tasksPath + "/task-unknown", "", http.StatusNotFound, "not_found"},
			{"no route", http.MethodGet, "/nowhere", "", http.StatusNotFound, "not_found"},
			{"wrong method", http.MethodPatch, tasksPath, "", http.StatusMethodNotAllowed, "method_not_allowed"},
			{"list validation", http.MethodGet, tasksPath + "?limit=500", "", http.StatusUnprocessableEntity, "validation_error"},
		}
		for _, e := range errorsOf {
			t.Run(e.name, func(t *testing.T) {
				rec := c.send(e.method, e.target, e.body, withID("client-req.42_x"))
				requireAPIError(t, rec, e.status, e.code)
				require.Equal(t, "client-req.42_x", rec.Header().Get("X-Request-ID"))
			})
		}
		t.Run("on success", func(t *testing.T) {
			rec := c.send(http.MethodPost, tasksPath, defaultTask, withID("abc"))
			require.Equal(t, http.StatusAccepted, rec.Code)
			require.Equal(t, "abc", rec.Header().Get("X-Request-ID"))
		})
		for name, id := range map[string]string{
			"none": "", "with spaces": "a b", "too long": strings.Repeat("r", 129), "with a percent sign": "a%0Ab",
		} {
			t.Run("replaced when "+name, func(t *testing.T) {
				rec := c.send(http.MethodGet, tasksPath+"/task-unknown", "", withID(id))
				requireAPIError(t, rec, http.StatusNotFound, "not_found")
				require.Regexp(t, `^req-[0-9a-f]{24}$`, rec.Header().Get("X-Request-ID"))
			})
		}
	})
}
