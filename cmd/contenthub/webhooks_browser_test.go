package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
)

// TestWebhookDashboardInTheBrowser: the real binary notifies a loopback
// receiver of a completed task (verified with the standard-webhooks
// library); the dashboard lists the endpoint and the message with its
// attempt, and its Replay button sends the message again with the same
// webhook-id.
func TestWebhookDashboardInTheBrowser(t *testing.T) {
	ctx := newBrowser(t)
	var (
		mu       sync.Mutex
		secret   string
		ids      []string
		verified int
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		ids = append(ids, r.Header.Get("webhook-id"))
		if wh, err := standardwebhooks.NewWebhook(secret); err == nil && wh.Verify(body, r.Header) == nil {
			verified++
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	seen := func() ([]string, int) {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), ids...), verified
	}

	svc := startService(t, t.TempDir(), []string{"NOTIFY_ALLOW_PRIVATE=true", "LOG_LEVEL=info"})
	var endpoint struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	require.Equal(t, http.StatusCreated, svc.call(http.MethodPost, "/api/v1/webhook-endpoints",
		map[string]any{"url": rcv.URL + "/hook", "events": []string{"task.completed"}}, &endpoint))
	mu.Lock()
	secret = endpoint.Secret
	mu.Unlock()

	id := svc.createTask("通知我 webhook")
	svc.waitStatus(id, "completed", 30*time.Second)
	require.Eventually(t, func() bool { got, _ := seen(); return len(got) == 1 }, 30*time.Second, 50*time.Millisecond)

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(svc.url("/ui/#/webhooks/"+endpoint.ID))))
	until(t, ctx, "the endpoint row", `[...document.querySelectorAll('#endpoint-rows a')].some(a => a.textContent === `+jsString(rcv.URL+"/hook")+`)`)
	until(t, ctx, "the delivered message with its attempt", `[...document.querySelectorAll('#message-rows tr')].some(r =>
		r.cells[2].textContent === `+jsString(id)+` && r.cells[3].textContent === 'delivered' && r.cells[4].textContent.includes('HTTP 204'))`)
	evaluate[bool](t, ctx, `(document.querySelector('#message-rows button[data-message]').click(), true)`)
	until(t, ctx, "the replay notice", `document.getElementById('replay-live').textContent.startsWith('Replayed ')`)
	require.Eventually(t, func() bool { got, _ := seen(); return len(got) == 2 }, 30*time.Second, 50*time.Millisecond)
	got, ok := seen()
	require.Equal(t, got[0], got[1], "the replay carries the same webhook-id")
	require.Equal(t, 2, ok, "both verify with the standard-webhooks library")
	until(t, ctx, "two attempts on the page", `document.querySelectorAll('#message-rows tr:first-child ol.attempts li').length === 2`)
}
