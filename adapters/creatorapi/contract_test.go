package creatorapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/creatorapi"
	"contenthub/adapters/creatortest"
)

// fakeAPI plays content-creator's HTTP server for the contract suite from
// the captured answers in testdata: POST /api/tasks in sync mode behaves as
// the scenario says; GET of a task, of its result, of the task list and
// DELETE answer from the tasks it took. A GET of an id it never took fails
// the test: the real server dies of it.
type fakeAPI struct {
	t        *testing.T
	scenario creatortest.Scenario
	mu       sync.Mutex
	tasks    map[string]string // id → status
	stop     map[string]chan struct{}
}

func newFakeAPI(t *testing.T, s creatortest.Scenario) *httptest.Server {
	f := &fakeAPI{t: t, scenario: s, tasks: map[string]string{}, stop: map[string]chan struct{}{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/tasks":
		f.create(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/api/tasks":
		f.mu.Lock()
		tasks := []map[string]string{}
		for id, st := range f.tasks {
			tasks = append(tasks, map[string]string{"id": id, "taskId": id, "status": st})
		}
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "data": map[string]any{
			"tasks": tasks, "pagination": map[string]int{"page": 1, "limit": 100, "total": len(tasks), "totalPages": 1}}})
	default:
		rest := strings.TrimPrefix(r.URL.Path, "/api/tasks/")
		id, isResult := strings.CutSuffix(rest, "/result")
		f.mu.Lock()
		st, ok := f.tasks[id]
		if ok && r.Method == http.MethodDelete && st == "running" {
			f.tasks[id] = "cancelled"
			close(f.stop[id])
		}
		f.mu.Unlock()
		switch {
		case !ok:
			f.t.Errorf("asked %s %s, an id it never took: the real server dies of it", r.Method, r.URL.Path)
			panic(http.ErrAbortHandler)
		case r.Method == http.MethodDelete:
			_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "data": map[string]any{"taskId": id, "status": "cancelled"}})
		case isResult:
			raw, err := os.ReadFile("testdata/api-get-result.txt")
			require.NoError(f.t, err)
			body, _, _ := bytes.Cut(raw, []byte(" [HTTP 200]")) // the capture's note after the body
			_, _ = w.Write(bytes.ReplaceAll(body, []byte("test-api-001"), []byte(id)))
		default:
			row := map[string]any{"id": id, "taskId": id, "status": st}
			if st == "failed" {
				row["errorMessage"] = "Text quality check failed after 3 attempts"
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "data": row})
		}
	}
}

func (f *fakeAPI) create(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	require.NoError(f.t, json.NewDecoder(r.Body).Decode(&body))
	id, _ := body["idempotencyKey"].(string)
	answer := func(name, sampleID string) {
		to := id
		if sampleID == "" {
			to = "" // nothing to replace
		}
		status, b := sample(f.t, name, sampleID, to)
		w.WriteHeader(status)
		_, _ = w.Write(b)
	}
	switch f.scenario {
	case creatortest.Refuses:
		answer("api-post-no-audience.txt", "")
		return
	case creatortest.Unknown:
		// It read the request, then died before it answered.
		conn, _, err := w.(http.Hijacker).Hijack()
		require.NoError(f.t, err)
		_ = conn.Close()
		return
	}
	stop := make(chan struct{})
	f.mu.Lock()
	f.tasks[id], f.stop[id] = "running", stop
	f.mu.Unlock()
	switch f.scenario {
	case creatortest.Completes:
		f.finish(id, "completed")
		answer("api-post-ok.txt", "test-api-001")
	case creatortest.Fails:
		f.finish(id, "failed")
		answer("api-post-fail.txt", "test-fail-api-001")
	case creatortest.Hangs:
		select {
		case <-stop: // cancelled: the real server answers the run as cancelled
			answer("api-post-fail.txt", "test-fail-api-001")
		case <-r.Context().Done():
		}
	}
}

func (f *fakeAPI) finish(id, status string) {
	f.mu.Lock()
	f.tasks[id] = status
	f.mu.Unlock()
}

// TestClientKeepsTheContract: the api profile against a fake of its server.
func TestClientKeepsTheContract(t *testing.T) {
	creatortest.Exercise(t, func(t *testing.T, s creatortest.Scenario) creatortest.Harness {
		srv := newFakeAPI(t, s)
		if s == creatortest.Unreachable {
			srv.Close()
		}
		ended := creatortest.NewOutcomes()
		c, err := creatorapi.New(creatorapi.Config{BaseURL: srv.URL, AcceptWindow: 100 * time.Millisecond}, ended)
		require.NoError(t, err)
		return creatortest.Harness{Creator: c, Ended: ended, CancelRecorded: true}
	})
}
