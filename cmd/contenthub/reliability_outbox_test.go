//go:build reliability

package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
)

// outboxAcrossKills: one worker replica notifies a loopback receiver of a
// storm of tasks while it is SIGKILLed again and again (each kill lands
// right after some of its commits) and restarted. Every committed terminal
// change reaches the receiver at least once — exactly one distinct
// webhook-id per task — every message verifies with the standard-webhooks
// library, and no message exists but for a change that committed.
// Recovery: from the last kill to the last distinct message received.
func outboxAcrossKills(t *testing.T, pg *pgCluster) {
	s := newScenario(t, pg, "outbox across SIGKILLs", "NOTIFY_ALLOW_PRIVATE=true", "NOTIFY_POLL_INTERVAL=200ms",
		"CREATOR_MAX_CONCURRENCY=32", "SIM_DELAY=200ms")
	var (
		mu       sync.Mutex
		secret   string
		received = map[string]int{}
		bad      int
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil || wh.Verify(body, r.Header) != nil {
			bad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		received[r.Header.Get("webhook-id")]++
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	distinct := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(received)
	}

	svc := s.start()
	var ep struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	require.Equal(t, http.StatusCreated, svc.call(http.MethodPost, "/api/v1/webhook-endpoints",
		map[string]any{"url": rcv.URL + "/hook", "events": []string{"task.completed", "task.failed", "task.timeout", "task.cancelled"}}, &ep))
	mu.Lock()
	secret = ep.Secret
	mu.Unlock()

	n := scaled(500, 80)
	ids := s.createTasks(n, func(i int) string { return "通知风暴 outbox storm " + strconv.Itoa(i) }, nil)
	kills := 0
	var lastKill time.Time
	for range 4 {
		// Kill once some of the storm has committed since the last start.
		before := distinct()
		require.Eventually(t, func() bool { return distinct() > before }, 60*time.Second, 20*time.Millisecond)
		s.live()[0].kill()
		kills++
		lastKill = time.Now()
		s.start()
	}
	s.waitStatuses(ids, "completed", 180*time.Second, terminal)
	require.Eventually(t, func() bool { return distinct() >= n }, 120*time.Second, 50*time.Millisecond,
		"every committed terminal change reaches the receiver")
	s.fig.Recover = time.Since(lastKill)

	// The database's side: one message per terminal change, each for a task
	// whose change committed (terminal now), each received.
	rows, err := s.db.Query(`SELECT m.id, m.subject, t.status FROM webhook_messages m LEFT JOIN tasks t ON t.id = m.subject`)
	require.NoError(t, err)
	defer rows.Close()
	perTask := map[string]int{}
	mu.Lock()
	for rows.Next() {
		var id, subject string
		var status *string
		require.NoError(t, rows.Scan(&id, &subject, &status))
		require.NotNil(t, status, "message %s for a task that does not exist", id)
		require.True(t, terminal(*status), "message %s for task %s, which is %s", id, subject, *status)
		require.Positive(t, received[id], "message %s was never received", id)
		perTask[subject]++
	}
	require.NoError(t, rows.Err())
	require.Len(t, received, n, "exactly one distinct webhook-id per task")
	require.Zero(t, bad, "every message verifies")
	dups := 0
	for _, c := range received {
		dups += c - 1
	}
	mu.Unlock()
	require.Len(t, perTask, n)
	for task, c := range perTask {
		require.Equal(t, 1, c, "task %s has one terminal change, so one message", task)
	}
	s.fig.Faults = fmt.Sprintf("%d SIGKILLs of the only replica mid-storm; %d redeliveries (same webhook-id)", kills, dups)
	s.finish(expectAll(ids, "completed"))
}
