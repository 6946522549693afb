package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore/sqlstoretest"
)

type sseEvent struct {
	ID   string
	Data struct {
		TaskID string `json:"task_id"`
		Status string `json:"status"`
	}
	At time.Time
}

// TestE2EServerSentEventsAcrossReplicas: a callback handled by instance A
// reaches an SSE subscriber on instance B (PostgreSQL LISTEN/NOTIFY).
func TestE2EServerSentEventsAcrossReplicas(t *testing.T) {
	dbURL := sqlstoretest.PostgresURL(t)
	a := startService(t, t.TempDir(), []string{"DATABASE_URL=" + dbURL, "SIM_DELAY=1s"})
	// B serves HTTP only: A submits, so the simulator calls A back.
	b := startService(t, t.TempDir(), []string{"DATABASE_URL=" + dbURL}, "--role", "api")

	id := a.createTask("sse across replicas")
	resp, err := http.Get(b.url("/api/v1/content/tasks/" + id + "/events"))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", strings.Split(resp.Header.Get("Content-Type"), ";")[0])

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var (
		connected bool
		completed *sseEvent
		current   sseEvent
		statuses  []string
	)
	timeout := time.After(30 * time.Second)
	for completed == nil {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "stream ended early; statuses seen: %v", statuses)
			switch {
			case line == ": connected":
				connected = true
			case strings.HasPrefix(line, "id: "):
				current = sseEvent{ID: strings.TrimPrefix(line, "id: ")}
			case strings.HasPrefix(line, "data: "):
				require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &current.Data))
				current.At = time.Now()
				statuses = append(statuses, current.Data.Status)
				if current.Data.Status == "completed" {
					ev := current
					completed = &ev
				}
			}
		case <-timeout:
			t.Fatalf("no completed event on B; statuses seen: %v", statuses)
		}
	}
	require.True(t, connected, "the stream announces itself")
	require.Equal(t, id, completed.Data.TaskID)
	require.NotEmpty(t, completed.ID)
	require.Contains(t, statuses, "processing", "progress changes are streamed too")

	var ds struct {
		Items []struct {
			Event      string    `json:"event"`
			Outcome    string    `json:"outcome"`
			ReceivedAt time.Time `json:"received_at"`
		} `json:"items"`
	}
	require.Equal(t, http.StatusOK, a.call(http.MethodGet, "/api/v1/content/tasks/"+id+"/deliveries", nil, &ds))
	var handled time.Time
	for _, d := range ds.Items {
		if d.Event == "completed" && d.Outcome == "applied" {
			handled = d.ReceivedAt
		}
	}
	require.False(t, handled.IsZero(), "instance A handled the completed callback")
	t.Logf("completed callback received by A at %s; SSE event on B %s later",
		handled.Format(time.RFC3339Nano), completed.At.Sub(handled).Round(time.Millisecond))
}
