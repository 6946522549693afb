package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/signature"
	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
)

func completedBody(ref, content string) []byte {
	return []byte(fmt.Sprintf(`{"event":"completed","taskId":%q,"workflowType":"content-creator","status":"completed",`+
		`"timestamp":"2026-02-09T12:00:00.000Z","result":{"content":%q,"images":["https://img.test/1.png"],"qualityScore":8.0}}`,
		ref, content))
}

func failedBody(ref, msg string) []byte {
	return []byte(fmt.Sprintf(`{"event":"failed","taskId":%q,"status":"failed","error":{"message":%q,"type":"execution_error"}}`, ref, msg))
}

func progressBody(ref string, pct float64) []byte {
	return []byte(fmt.Sprintf(`{"event":"progress","taskId":%q,"progress":{"percentage":%v,"stage":"writing","message":"m"}}`, ref, pct))
}

func errorCode(t *testing.T, rec interface{ Result() *http.Response }, body []byte) string {
	t.Helper()
	var env struct {
		Success bool `json:"success"`
		Error   struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		RequestID string `json:"request_id"`
	}
	require.NoError(t, json.Unmarshal(body, &env), string(body))
	require.False(t, env.Success)
	require.NotEmpty(t, env.RequestID, "every error carries a request id")
	require.NotEmpty(t, env.Error.Message)
	return env.Error.Code
}

// TestCallbackProcessingOrder walks §3's processing order row by row, through
// the router, on every store.
func TestCallbackProcessingOrder(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		h := newHarness(t, store, func(o *harnessOptions) { o.api.WebhookMaxBodyBytes = 64 << 10 })
		s := h.submit(defaultTask)
		other := h.submit(defaultTask)

		rows := []struct {
			name   string
			target string
			body   []byte
			header http.Header
			status int
			code   string
		}{
			{"1 body too large", s.callback, append([]byte(`{"event":"completed","x":"`), append(bytes.Repeat([]byte("a"), 70<<10), '"', '}')...), nil, 413, "body_too_large"},
			{"1 not JSON", s.callback, []byte(`event=completed`), nil, 400, "invalid_json"},
			{"1 JSON but not an object", s.callback, []byte(`["completed"]`), nil, 400, "invalid_json"},
			{"1 empty body", s.callback, []byte(``), nil, 400, "invalid_json"},
			{"2 unknown task", "/api/v1/content/callback/task-nope?token=" + s.token, completedBody(s.ref, "# x"), nil, 404, "not_found"},
			{"2 malformed task id", "/api/v1/content/callback/bad%20id!?token=" + s.token, completedBody(s.ref, "# x"), nil, 404, "not_found"},
			{"3 credential missing", "/api/v1/content/callback/" + s.id, completedBody(s.ref, "# x"), nil, 403, "credential_missing"},
			{"3 token invalid", "/api/v1/content/callback/" + s.id + "?token=wrong", completedBody(s.ref, "# x"), nil, 401, "credential_invalid"},
			{"3 another task's token", "/api/v1/content/callback/" + s.id + "?token=" + other.token, completedBody(s.ref, "# x"), nil, 401, "credential_invalid"},
			{"4 event missing", s.callback, []byte(`{"taskId":"` + s.ref + `"}`), nil, 400, "missing_event"},
			{"4 event unknown", s.callback, []byte(`{"event":"done"}`), nil, 400, "unknown_event"},
			{"4 taskId of another task", s.callback, completedBody(other.ref, "# x"), nil, 400, "task_mismatch"},
			{"4 field of the wrong type", s.callback, []byte(`{"event":"completed","result":{"content":42}}`), nil, 400, "invalid_field"},
		}
		for _, row := range rows {
			t.Run(row.name, func(t *testing.T) {
				rec := h.do(http.MethodPost, row.target, row.body, row.header)
				require.Equal(t, row.status, rec.Code, rec.Body.String())
				require.Equal(t, row.code, errorCode(t, rec, rec.Body.Bytes()))
			})
		}
		require.Equal(t, domain.StatusSubmitted, h.task(s.id).Status(), "no refused delivery changed the task")
		for _, d := range h.deliveries(s.id) {
			require.Equal(t, domain.DeliveryRejected, d.Outcome)
			require.Empty(t, d.DeliveryID, "a refused delivery claims no delivery id")
		}

		t.Run("5 duplicate delivery", func(t *testing.T) {
			body := progressBody(s.ref, 30)
			first := h.do(http.MethodPost, s.callback, body, nil)
			require.Equal(t, http.StatusOK, first.Code, first.Body.String())
			again := h.do(http.MethodPost, s.callback, body, nil)
			require.Equal(t, http.StatusOK, again.Code)
			require.Equal(t, true, decode(t, again)["duplicate"])
			require.Equal(t, true, decode(t, again)["success"])
		})

		t.Run("6 progress moves submitted to processing, clamped and monotonic", func(t *testing.T) {
			task := h.task(s.id)
			require.Equal(t, domain.StatusProcessing, task.Status())
			require.Equal(t, 30, task.Progress().Percentage)
			rec := h.do(http.MethodPost, s.callback, progressBody(s.ref, 10), nil)
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, true, decode(t, rec)["ignored"], "a lower percentage is not applied")
			require.Equal(t, 30, h.task(s.id).Progress().Percentage)
			rec = h.do(http.MethodPost, s.callback, progressBody(s.ref, 250), nil)
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, 100, h.task(s.id).Progress().Percentage)
		})

		t.Run("6 completed creates content and a pool entry", func(t *testing.T) {
			rec := h.do(http.MethodPost, s.callback, completedBody(s.ref, "# 标题\n\n正文 *强调* text."), nil)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			answer := decode(t, rec)
			require.Equal(t, map[string]any{
				"success": true, "message": "Callback processed", "task_id": s.id, "status": "completed",
				"request_id": answer["request_id"],
			}, answer)
			task := h.task(s.id)
			require.Equal(t, domain.StatusCompleted, task.Status())
			content, err := store.GetContent(context.Background(), task.ContentID())
			require.NoError(t, err)
			require.Equal(t, "标题", content.Title)
			require.Equal(t, "标题 正文 强调 text.", content.Summary)
			require.Equal(t, domain.ReviewApproved, content.ReviewStatus)
			pool, err := store.ListPool(context.Background(), domain.PoolPending, 10)
			require.NoError(t, err)
			require.Len(t, pool, 1)
			require.Equal(t, content.ID, pool[0].ContentID)
			require.Equal(t, 8, pool[0].Priority)
		})

		t.Run("6 not applicable after completion is ignored", func(t *testing.T) {
			rec := h.do(http.MethodPost, s.callback, failedBody(s.ref, "late"), nil)
			require.Equal(t, http.StatusOK, rec.Code)
			answer := decode(t, rec)
			require.Equal(t, true, answer["ignored"])
			require.NotEmpty(t, answer["reason"])
			require.Equal(t, domain.StatusCompleted, h.task(s.id).Status())
		})

		t.Run("8 deliveries are recorded", func(t *testing.T) {
			var outcomes []string
			for _, d := range h.deliveries(s.id) {
				outcomes = append(outcomes, string(d.Outcome))
				require.False(t, d.ReceivedAt.IsZero())
			}
			require.Contains(t, outcomes, "applied")
			require.Contains(t, outcomes, "ignored")
			require.Contains(t, outcomes, "rejected")
		})
	})
}

func TestCallbackFailureRetriesThenFails(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		h := newHarness(t, store)
		s := h.submit(`{"account_id":1,"topic":"t","max_retries":1}`)
		rec := h.do(http.MethodPost, s.callback, []byte(`{"event":"failed","taskId":"`+s.ref+`","error":{"code":"E1","type":"execution_error","message":"boom"}}`), nil)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		task := h.task(s.id)
		require.Equal(t, domain.StatusPending, task.Status())
		require.Equal(t, 2, task.Attempt())
		require.True(t, task.NextAttemptAt().After(h.clock.Now()), "the retry waits for its backoff")
		lastErr, ok := task.LastError()
		require.True(t, ok)
		require.Equal(t, "[E1] execution_error: boom", lastErr.String())

		h.clock.Advance(2 * time.Minute)
		s2 := h.dispatch(s.id)
		require.NotEqual(t, s.token, s2.token, "every attempt has its own token")
		require.NotEqual(t, s.ref, s2.ref, "every attempt has its own external ref")

		stale := h.do(http.MethodPost, s.callback, failedBody(s.ref, "stale"), nil)
		require.Equal(t, http.StatusOK, stale.Code)
		require.Equal(t, true, decode(t, stale)["ignored"], "the old attempt's token is stale")
		require.Equal(t, domain.StatusSubmitted, h.task(s.id).Status())

		rec = h.do(http.MethodPost, s2.callback, failedBody(s2.ref, "again"), nil)
		require.Equal(t, http.StatusOK, rec.Code)
		task = h.task(s.id)
		require.Equal(t, domain.StatusFailed, task.Status())
		attempts := task.Attempts()
		require.Len(t, attempts, 2)
		require.Equal(t, "boom", attempts[0].Error.Message, "a retry keeps the earlier attempt's error")
		require.Equal(t, "again", attempts[1].Error.Message)
	})
}

func TestCallbackCompletedWithoutContentIs422AndRetries(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		h := newHarness(t, store)
		s := h.submit(defaultTask)
		rec := h.do(http.MethodPost, s.callback, []byte(`{"event":"completed","taskId":"`+s.ref+`","result":{"content":"  "}}`), nil)
		require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
		require.Equal(t, "invalid_result", errorCode(t, rec, rec.Body.Bytes()))
		task := h.task(s.id)
		require.Equal(t, domain.StatusPending, task.Status())
		lastErr, _ := task.LastError()
		require.Equal(t, "INVALID_RESULT", lastErr.Code)
	})
}

// TestCallbackRealSenderBody posts the real content-creator's captured body
// and headers (unsigned, token in the URL) and checks the content of §3.6.
func TestCallbackRealSenderBody(t *testing.T) {
	raw, err := os.ReadFile("testdata/callback-completed.body.json")
	require.NoError(t, err)
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		h := newHarness(t, store)
		s := h.submit(`{"account_id":3,"topic":"边缘计算入门","auto_approve":false}`)
		// The real sender names the attempt by the id it was given.
		body := bytes.Replace(raw, []byte(`"taskId":"test-api-001"`), []byte(`"taskId":"`+s.ref+`"`), 1)
		header := http.Header{
			"Accept": {"application/json, text/plain, */*"}, "User-Agent": {"content-creator/1.0"},
			"X-Webhook-Event": {"completed"}, "X-Task-Id": {s.ref},
		}
		rec := h.do(http.MethodPost, s.callback, body, header)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

		task := h.task(s.id)
		require.Equal(t, domain.StatusCompleted, task.Status())
		c, err := store.GetContent(context.Background(), task.ContentID())
		require.NoError(t, err)
		require.Equal(t, "边缘计算入门", c.Title)
		require.True(t, strings.HasPrefix(c.Summary, "边缘计算入门 引言 边缘计算入门是现代社会发展的重要议题。"), c.Summary)
		require.Equal(t, 200, len([]rune(c.Summary)))
		require.Equal(t, 1146, c.WordCount, "the sender's wordCount wins")
		require.Len(t, c.Images, 2)
		require.Equal(t, "https://example.com/mock-image-1795861950241.png", c.CoverImage)
		require.NotNil(t, c.QualityScore)
		require.Equal(t, 8.0, *c.QualityScore)
		require.True(t, strings.HasPrefix(c.HTMLContent, "# 边缘计算入门"))
		require.Equal(t, domain.ReviewPending, c.ReviewStatus, "not auto-approved")
		pool, err := store.ListPool(context.Background(), "", 10)
		require.NoError(t, err)
		require.Empty(t, pool, "no pool entry without auto-approve")

		failed, err := os.ReadFile("testdata/callback-failed.body.json")
		require.NoError(t, err)
		failed = bytes.Replace(failed, []byte(`"taskId":"test-fail-api-001"`), []byte(`"taskId":"`+s.ref+`"`), 1)
		rec = h.do(http.MethodPost, s.callback, failed, nil)
		require.Equal(t, http.StatusOK, rec.Code, "a failed after a completed is acknowledged")
		require.Equal(t, true, decode(t, rec)["ignored"])
	})
}

func TestCallbackSignatures(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		h := newHarness(t, store, func(o *harnessOptions) {
			o.verifier = signature.Config{Secrets: []string{"old-secret", secret}, Tokens: true, Tolerance: 5 * time.Minute}
		})
		s := h.submit(defaultTask)
		noToken := "/api/v1/content/callback/" + s.id
		now := h.clock.Now().Unix()

		body := progressBody(s.ref, 20)
		sig := signature.SignRaw(secret, body, now)
		rec := h.do(http.MethodPost, noToken, body, http.Header{
			"X-Webhook-Signature": {"sha256=" + sig}, "X-Webhook-Timestamp": {strconv.FormatInt(now, 10)},
		})
		require.Equal(t, http.StatusOK, rec.Code, "scheme a with the second secret: %s", rec.Body.String())

		body = progressBody(s.ref, 40)
		std, err := signature.SignStandard(secret, "msg_1", now, body)
		require.NoError(t, err)
		rec = h.do(http.MethodPost, noToken, body, http.Header{
			"webhook-id": {"msg_1"}, "webhook-timestamp": {strconv.FormatInt(now, 10)}, "webhook-signature": {std},
		})
		require.Equal(t, http.StatusOK, rec.Code, "scheme c: %s", rec.Body.String())
		require.Equal(t, 40, h.task(s.id).Progress().Percentage)

		body = progressBody(s.ref, 50)
		canon, err := signature.SignCanonical("old-secret", body)
		require.NoError(t, err)
		rec = h.do(http.MethodPost, noToken, body, http.Header{"X-Webhook-Signature": {canon}})
		require.Equal(t, http.StatusOK, rec.Code, "scheme b: %s", rec.Body.String())

		body = progressBody(s.ref, 60)
		rec = h.do(http.MethodPost, s.callback, body, http.Header{"X-Webhook-Signature": {"sha256=" + signature.SignRaw("wrong", body, 0)}})
		require.Equal(t, http.StatusUnauthorized, rec.Code, "an invalid signature is refused even with a valid token")

		old := now - int64((10 * time.Minute).Seconds())
		rec = h.do(http.MethodPost, noToken, body, http.Header{
			"X-Webhook-Signature": {"sha256=" + signature.SignRaw(secret, body, old)}, "X-Webhook-Timestamp": {strconv.FormatInt(old, 10)},
		})
		require.Equal(t, http.StatusUnauthorized, rec.Code, "a timestamp outside the tolerance is refused")

		other := h.submit(defaultTask)
		signedForOther := completedBody(other.ref, "# other")
		rec = h.do(http.MethodPost, noToken, signedForOther, http.Header{"X-Webhook-Signature": {"sha256=" + signature.SignRaw(secret, signedForOther, 0)}})
		require.Equal(t, http.StatusBadRequest, rec.Code, "a body signed for another task is refused: %s", rec.Body.String())
		require.Equal(t, domain.StatusProcessing, h.task(s.id).Status())
	})
}

func TestCallbackDatabaseUnavailableAnswers503(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		h := newHarness(t, store)
		s := h.submit(defaultTask)
		require.NoError(t, store.Close())

		rec := h.do(http.MethodPost, s.callback, completedBody(s.ref, "# done"), nil)
		require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
		require.Equal(t, "5", rec.Header().Get("Retry-After"))
		require.Equal(t, "unavailable", errorCode(t, rec, rec.Body.Bytes()))
		require.NotContains(t, rec.Body.String(), "sql", "no internal error text")
		require.NotContains(t, rec.Body.String(), "closed", "no internal error text")
	})
}

func TestCallbackDeadlinePassedAnswers503AndWritesNothing(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		h := newHarness(t, store, func(o *harnessOptions) { o.api.WebhookTimeout = time.Nanosecond })
		s := h.submit(defaultTask)
		rec := h.do(http.MethodPost, s.callback, completedBody(s.ref, "# done"), nil)
		require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
		require.NotEmpty(t, rec.Header().Get("Retry-After"))
		task := h.task(s.id)
		require.Equal(t, domain.StatusSubmitted, task.Status(), "nothing half-written")
		require.Empty(t, task.ContentID())
		for _, d := range h.deliveries(s.id) {
			require.NotEqual(t, domain.DeliveryApplied, d.Outcome)
		}
	})
}

// TestCallbackConcurrentDuplicatesPostgres: N identical deliveries racing on
// PostgreSQL produce exactly one content and one pool entry, and duplicate
// failures consume one attempt.
func TestCallbackConcurrentDuplicatesPostgres(t *testing.T) {
	store := sqlstoretest.NewPostgres(t)
	h := newHarness(t, store)

	s := h.submit(defaultTask)
	codes := race(100, func() int { return h.do(http.MethodPost, s.callback, completedBody(s.ref, "# once"), nil).Code })
	for code, n := range codes {
		require.Equal(t, http.StatusOK, code, "%d answers were %d", n, code)
	}
	task := h.task(s.id)
	require.Equal(t, domain.StatusCompleted, task.Status())
	pool, err := store.ListPool(context.Background(), "", 200)
	require.NoError(t, err)
	require.Len(t, pool, 1, "exactly one pool entry")
	require.Equal(t, task.ContentID(), pool[0].ContentID, "exactly one content")

	f := h.submit(defaultTask)
	codes = race(50, func() int { return h.do(http.MethodPost, f.callback, failedBody(f.ref, "boom"), nil).Code })
	require.Equal(t, map[int]int{http.StatusOK: 50}, codes)
	task = h.task(f.id)
	require.Equal(t, 2, task.Attempt(), "duplicate failures consume one attempt")
	require.Equal(t, domain.StatusPending, task.Status())
}

func race(n int, fn func() int) map[int]int {
	var (
		mu    sync.Mutex
		codes = map[int]int{}
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code := fn()
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return codes
}

// TestCallbackRecordsTheStatusItAnswers: every delivery recorded carries the
// status its sender was answered with (CallbackWire's statuses, which the use
// case writes in the record, are the handler's answers).
func TestCallbackRecordsTheStatusItAnswers(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		h := newHarness(t, store)
		s := h.submit(defaultTask)
		var answered []int
		for _, d := range []struct {
			target string
			body   []byte
		}{
			{"/api/v1/content/callback/" + s.id, progressBody(s.ref, 10)},                  // no credential
			{"/api/v1/content/callback/" + s.id + "?token=wrong", progressBody(s.ref, 10)}, // a wrong one
			{s.callback, []byte(`{"event":"progress","progress":{"percentage":"half"}}`)},  // a field of the wrong type
			{s.callback, progressBody(s.ref, 20)},
			{s.callback, []byte(`{"event":"completed","taskId":"` + s.ref + `","result":{"content":"  "}}`)},
		} {
			h.clock.Advance(time.Second) // the log's order is the sending order
			answered = append(answered, h.do(http.MethodPost, d.target, d.body, nil).Code)
		}
		require.Equal(t, []int{http.StatusForbidden, http.StatusUnauthorized, http.StatusBadRequest, http.StatusOK,
			http.StatusUnprocessableEntity}, answered)
		var recorded []int
		for _, d := range h.deliveries(s.id) {
			recorded = append(recorded, d.HTTPStatus)
		}
		require.Equal(t, answered, recorded)
	})
}
