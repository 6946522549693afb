package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"contenthub/adapters/httpapi"
	"contenthub/adapters/ids"
	"contenthub/adapters/notify"
	"contenthub/adapters/sqlstore"
	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

// webhookRouter is the API with the §13 routes over a real store, with the
// address guard on (no NOTIFY_ALLOW_PRIVATE).
func webhookRouter(t *testing.T, store *sqlstore.Store, clock ports.Clock) *gin.Engine {
	t.Helper()
	box, err := notify.NewSecretBox("")
	require.NoError(t, err)
	w := application.NewWebhooks(store, store, box, &notify.Guard{}, clock, ids.Random{}, nil,
		application.WebhooksConfig{RotationOverlap: 24 * time.Hour})
	return httpapi.NewRouter(httpapi.Config{APITokens: []string{specToken}}, httpapi.Deps{
		Log: zap.NewNop(), Clock: clock,
		Extra: []func(r gin.IRouter, api gin.IRouter){func(_ gin.IRouter, api gin.IRouter) { httpapi.RegisterWebhookRoutes(api, w) }},
	})
}

// checkWebhookRoutes drives every §13 route through c (whose answers are
// validated against docs/openapi.yaml): bad input is a 422 naming the field.
func checkWebhookRoutes(t *testing.T, c *specClient, store *sqlstore.Store, clock ports.Clock) {
	const base = "/api/v1/webhook-endpoints"
	field := func(answer map[string]any) string {
		e, _ := answer["error"].(map[string]any)
		return e["field"].(string)
	}
	for _, bad := range []struct{ body, field string }{
		{`{"events":["task.completed"]}`, "url"},
		{`{"url":"ftp://93.184.216.34/x","events":["task.completed"]}`, "url"},
		{`{"url":"https://93.184.216.34/x","events":["task.exploded"]}`, "events"},
		{`{"url":"https://93.184.216.34/x","events":[]}`, "events"},
		{`{"url":"http://127.0.0.1:8080/hook","events":["task.completed"]}`, "url"},
		{`{"url":"http://10.0.0.1/hook","events":["task.completed"]}`, "url"},
		{`{"url":"http://169.254.169.254/latest/meta-data/","events":["task.completed"]}`, "url"},
		{`{"url":"http://[::1]/hook","events":["task.completed"]}`, "url"},
		{`{"url":"http://localhost:9/hook","events":["task.completed"]}`, "url"},
		{`{"url":"https://93.184.216.34/x","events":["task.completed"],"account_id":0}`, "account_id"},
		{`{"url":"https://93.184.216.34/x","events":"task.completed"}`, "events"},
	} {
		answer := c.expect(http.StatusUnprocessableEntity, http.MethodPost, base, []byte(bad.body), nil)
		require.Equal(t, bad.field, field(answer), bad.body)
	}
	requireErrorCode(t, c.expect(http.StatusBadRequest, http.MethodPost, base, []byte(`[1]`), nil), "invalid_json")

	created := c.expect(http.StatusCreated, http.MethodPost, base,
		[]byte(`{"url":"https://93.184.216.34/hook","events":["task.cancelled","task.completed"],"description":"发布器"}`), nil)
	id := created["id"].(string)
	secret := created["secret"].(string)
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	require.Nil(t, created["account_id"])
	c.expect(http.StatusCreated, http.MethodPost, base,
		[]byte(`{"url":"https://93.184.216.34/other","events":["task.failed"],"account_id":7}`), nil)

	list := c.expect(http.StatusOK, http.MethodGet, base, nil, nil)
	require.Len(t, list["items"], 2)
	for _, item := range list["items"].([]any) {
		require.NotContains(t, item, "secret", "a secret is shown once")
	}
	got := c.expect(http.StatusOK, http.MethodGet, base+"/"+id, nil, nil)
	require.Equal(t, "发布器", got["description"])
	c.expect(http.StatusNotFound, http.MethodGet, base+"/ep-nope", nil, nil)

	rotated := c.expect(http.StatusOK, http.MethodPost, base+"/"+id+"/rotate-secret", nil, nil)
	require.NotEqual(t, secret, rotated["secret"])
	require.NotNil(t, rotated["previous_secret_expires_at"], "the old secret signs during the overlap")

	off := c.expect(http.StatusOK, http.MethodPatch, base+"/"+id, []byte(`{"enabled":false}`), nil)
	require.Equal(t, false, off["enabled"])
	on := c.expect(http.StatusOK, http.MethodPatch, base+"/"+id, []byte(`{"enabled":true,"description":"d"}`), nil)
	require.Equal(t, true, on["enabled"])
	require.Equal(t, "url", field(c.expect(http.StatusUnprocessableEntity, http.MethodPatch, base+"/"+id,
		[]byte(`{"url":"http://192.168.1.1/"}`), nil)))
	require.Equal(t, "events", field(c.expect(http.StatusUnprocessableEntity, http.MethodPatch, base+"/"+id,
		[]byte(`{"events":["nope"]}`), nil)))

	// A terminal change writes a message; one attempt of it is logged.
	ctx := t.Context()
	task, err := domain.NewTask(domain.NewTaskParams{ID: "task-hooked", AccountID: 7, Topic: "t"}, clock.Now())
	require.NoError(t, err)
	_, _, err = store.CreateTask(ctx, task, nil)
	require.NoError(t, err)
	require.NoError(t, store.UpdateTask(ctx, task.ID(), func(tk *domain.Task) (ports.TaskChanges, error) {
		out, err := tk.Apply(domain.Event{Kind: domain.EventCancel, Source: domain.SourceAPI, At: clock.Now()}, domain.Rules{})
		require.NoError(t, err)
		n, _ := domain.TaskNotification("msg-1", tk, out, nil)
		return ports.TaskChanges{SaveTask: true, Notify: n}, nil
	}))
	claimed, err := store.ClaimMessages(ctx, ports.MessageClaim{Owner: "t", Now: clock.Now(), Lease: time.Minute, Limit: 5})
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	_, err = store.RecordAttempt(ctx, ports.AttemptRecord{Owner: "t",
		Attempt: domain.MessageAttempt{MessageID: claimed[0].Message.ID, EndpointID: id, At: clock.Now(), StatusCode: 503,
			Error: "HTTP 503", Latency: 12 * time.Millisecond},
		Decision: domain.AttemptDecision{Status: domain.MessagePending, Retries: 1, NextAttemptAt: clock.Now().Add(time.Minute), EndpointFailing: true}})
	require.NoError(t, err)

	logs := c.expect(http.StatusOK, http.MethodGet, base+"/"+id+"/messages?status=pending", nil, nil)
	items := logs["items"].([]any)
	require.Len(t, items, 1)
	m := items[0].(map[string]any)
	require.Equal(t, "msg-1_"+id, m["id"])
	require.Equal(t, "task.cancelled", m["event"])
	require.Len(t, m["attempts"], 1)
	require.Equal(t, float64(503), m["attempts"].([]any)[0].(map[string]any)["status_code"])
	payload, _ := json.Marshal(m["payload"])
	require.Contains(t, string(payload), `"task_id":"task-hooked"`)
	require.Empty(t, c.expect(http.StatusOK, http.MethodGet, base+"/"+id+"/messages?status=delivered&limit=5", nil, nil)["items"])
	require.Equal(t, "status", field(c.expect(http.StatusUnprocessableEntity, http.MethodGet, base+"/"+id+"/messages?status=lost", nil, nil)))
	c.expect(http.StatusNotFound, http.MethodGet, base+"/ep-nope/messages", nil, nil)

	replayed := c.expect(http.StatusAccepted, http.MethodPost, base+"/"+id+"/messages/msg-1_"+id+"/replay", nil, nil)
	require.Equal(t, "pending", replayed["status"])
	c.expect(http.StatusNotFound, http.MethodPost, base+"/"+id+"/messages/nope/replay", nil, nil)

	deleted := c.expect(http.StatusOK, http.MethodDelete, base+"/"+id, nil, nil)
	require.Equal(t, id, deleted["id"])
	c.expect(http.StatusNotFound, http.MethodDelete, base+"/"+id, nil, nil)
	c.expect(http.StatusUnauthorized, http.MethodGet, base, nil, http.Header{"Authorization": {""}})
}
