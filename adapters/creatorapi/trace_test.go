package creatorapi_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/ports"
)

// TestSubmitSendsTheTraceparentHeader: the api profile's request carries
// the submission's W3C trace context, and none when it has none.
func TestSubmitSendsTheTraceparentHeader(t *testing.T) {
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	var (
		mu      sync.Mutex
		headers []http.Header
		s       *server
	)
	s = newServer(t, func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		mu.Lock()
		headers = append(headers, r.Header.Clone())
		mu.Unlock()
		id := body["idempotencyKey"].(string)
		s.took(id, "completed")
		status, answer := sample(t, "api-post-ok.txt", "test-api-001", id)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(answer)
	})
	c, seen := newClient(t, s, time.Second)

	traced := request("task-a-1")
	traced.Trace = ports.TraceContext{TraceParent: parent, TraceState: "vendor=1"}
	res, err := c.Submit(t.Context(), traced)
	require.NoError(t, err)
	seen.next(t)
	<-res.Running

	res, err = c.Submit(t.Context(), request("task-a-2"))
	require.NoError(t, err)
	seen.next(t)
	<-res.Running

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, headers, 2)
	require.Equal(t, parent, headers[0].Get("traceparent"))
	require.Equal(t, "vendor=1", headers[0].Get("tracestate"))
	require.Empty(t, headers[1].Get("traceparent"))
}
