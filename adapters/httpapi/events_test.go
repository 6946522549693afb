package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"contenthub/adapters/httpapi"
	"contenthub/adapters/ids"
	"contenthub/adapters/metrics"
	"contenthub/adapters/signature"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/application"
)

// Tests of the SSE routes (§5) over real HTTP: a stream only shows what it
// is when bytes are flushed through a real connection.

const (
	sseAccountPath = "/api/v1/content/events"
	sseWait        = 10 * time.Second // bounds every wait; reaching it fails the test
)

// sseClient gives up on a server that never answers (a stream whose
// headers are never flushed) instead of hanging the test.
var sseClient = &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: sseWait}}

func sseTaskPath(id string) string { return "/api/v1/content/tasks/" + id + "/events" }

// sseServer is the harness's use cases and event hub behind a router with
// the SSE routes, served on 127.0.0.1.
type sseServer struct {
	*harness
	url  string
	logs *observer.ObservedLogs
}

func newSSEServer(t *testing.T, cfg httpapi.Config) *sseServer {
	t.Helper()
	h := newHarness(t, sqlstoretest.NewSQLite(t))
	deps := application.Deps{
		Store: h.store, Claimer: h.store, Stale: h.store, Deliveries: h.store, Reader: h.store,
		Clock: h.clock, IDs: ids.Random{}, Publisher: h.events, Metrics: metrics.Discard{}, Log: zap.NewNop(),
		Rules: application.Rules{TaskTimeout: 30 * time.Minute},
	}
	verifier, err := signature.NewVerifier(signature.Config{Tokens: true, Tolerance: 5 * time.Minute})
	require.NoError(t, err)
	cfg.WebhookEnabled, cfg.WebhookTimeout, cfg.WebhookMaxBodyBytes = true, 10*time.Second, 5<<20
	core, logs := observer.New(zap.InfoLevel)
	router := httpapi.NewRouter(cfg, httpapi.Deps{
		Tasks: h.tasks, Callbacks: application.NewCallbacks(deps, verifier), Health: h.store, Clock: h.clock,
		Log: zap.New(core), Events: h.events,
	})
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	return &sseServer{harness: h, url: srv.URL, logs: logs}
}

// call sends one request over HTTP and returns the answer with its body.
func (s *sseServer) call(t *testing.T, method, path string, body []byte, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.url+path, bytes.NewReader(body))
	require.NoError(t, err)
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := sseClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, raw
}

// sseFrame is one block of a stream, up to its blank line.
type sseFrame struct {
	comment string // a line starting with ':'
	id      string
	event   string
	data    string
}

// sseStream is an open event stream read frame by frame.
type sseStream struct {
	resp   *http.Response
	frames chan sseFrame // closed at the end of the stream
	cancel context.CancelFunc
}

// open connects to an event route and requires a stream.
func (s *sseServer) open(t *testing.T, path string, header http.Header) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+path, nil)
	require.NoError(t, err)
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := sseClient.Do(req)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
	}
	st := &sseStream{resp: resp, frames: make(chan sseFrame, 64), cancel: cancel}
	go st.read()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	return st
}

func (st *sseStream) read() {
	defer close(st.frames)
	sc := bufio.NewScanner(st.resp.Body)
	var f sseFrame
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			st.frames <- f
			f = sseFrame{}
		case strings.HasPrefix(line, ":"):
			f.comment = strings.TrimSpace(strings.TrimPrefix(line, ":"))
		case strings.HasPrefix(line, "id: "):
			f.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			f.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			f.data = strings.TrimPrefix(line, "data: ")
		}
	}
}

// next returns the next frame.
func (st *sseStream) next(t *testing.T) sseFrame {
	t.Helper()
	select {
	case f, ok := <-st.frames:
		require.True(t, ok, "the stream ended")
		return f
	case <-time.After(sseWait):
		t.Fatalf("no frame within %s", sseWait)
	}
	return sseFrame{}
}

// connected requires the stream's first frame to be the connected comment.
func (st *sseStream) connected(t *testing.T) {
	t.Helper()
	require.Equal(t, sseFrame{comment: "connected"}, st.next(t))
}

// sseTaskEvent is the data of an `event: task` frame.
type sseTaskEvent struct {
	seq       int64
	TaskID    string  `json:"task_id"`
	AccountID int64   `json:"account_id"`
	Status    string  `json:"status"`
	Attempt   int     `json:"attempt"`
	ContentID *string `json:"content_id"`
	At        *string `json:"at"`
	Progress  struct {
		Percentage int    `json:"percentage"`
		Stage      string `json:"stage"`
		Message    string `json:"message"`
	} `json:"progress"`
}

// nextTask returns the next task event, skipping heartbeats.
func (st *sseStream) nextTask(t *testing.T) sseTaskEvent {
	t.Helper()
	for {
		f := st.next(t)
		if f.comment == "heartbeat" {
			continue
		}
		require.Equal(t, "task", f.event, "frame %+v", f)
		var e sseTaskEvent
		require.NoError(t, json.Unmarshal([]byte(f.data), &e), f.data)
		seq, err := strconv.ParseInt(f.id, 10, 64)
		require.NoError(t, err, "id %q", f.id)
		e.seq = seq
		return e
	}
}

func TestTaskEventsStreamTheTasksChanges(t *testing.T) {
	s := newSSEServer(t, httpapi.Config{HeartbeatInterval: time.Hour})
	id := s.createTask(`{"account_id":7,"topic":"边缘计算入门"}`)
	st := s.open(t, sseTaskPath(id), nil)
	require.Equal(t, "text/event-stream", st.resp.Header.Get("Content-Type"))
	require.Equal(t, "no-cache", st.resp.Header.Get("Cache-Control"))
	require.Equal(t, "no", st.resp.Header.Get("X-Accel-Buffering"))
	st.connected(t)

	sub := s.dispatch(id)
	s.createTask(`{"account_id":7,"topic":"another task"}`) // not this stream's
	submittedEv := st.nextTask(t)
	require.Equal(t, id, submittedEv.TaskID)
	require.Equal(t, "submitted", submittedEv.Status)
	require.Equal(t, int64(7), submittedEv.AccountID)
	require.Equal(t, 1, submittedEv.Attempt)
	require.Nil(t, submittedEv.ContentID)
	require.NotNil(t, submittedEv.At)

	resp, body := s.call(t, http.MethodPost, sub.callback,
		[]byte(`{"event":"progress","taskId":"`+sub.ref+`","progress":{"percentage":30,"stage":"writing","message":"drafting"}}`), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	processing := st.nextTask(t)
	require.Equal(t, "processing", processing.Status)
	require.Equal(t, 30, processing.Progress.Percentage)
	require.Equal(t, "writing", processing.Progress.Stage)
	require.Equal(t, "drafting", processing.Progress.Message)
	require.Greater(t, processing.seq, submittedEv.seq)

	raw, err := os.ReadFile("testdata/callback-completed.body.json")
	require.NoError(t, err)
	raw = bytes.Replace(raw, []byte(`"taskId":"test-api-001"`), []byte(`"taskId":"`+sub.ref+`"`), 1)
	resp, body = s.call(t, http.MethodPost, sub.callback, raw, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	completed := st.nextTask(t)
	require.Equal(t, "completed", completed.Status)
	require.Greater(t, completed.seq, processing.seq)
	require.NotNil(t, completed.ContentID)
	require.Equal(t, s.task(id).ContentID(), *completed.ContentID)
}

func TestAccountEventsFilterByAccount(t *testing.T) {
	s := newSSEServer(t, httpapi.Config{HeartbeatInterval: time.Hour})
	everyone := s.open(t, sseAccountPath, nil)
	everyone.connected(t)
	seven := s.open(t, sseAccountPath+"?account_id=7", nil)
	seven.connected(t)

	eight := s.createTask(`{"account_id":8,"topic":"eight"}`)
	sevens := s.createTask(`{"account_id":7,"topic":"seven"}`)

	e := seven.nextTask(t)
	require.Equal(t, sevens, e.TaskID, "account 8's task is not on account 7's stream")
	require.Equal(t, "pending", e.Status)
	require.Equal(t, eight, everyone.nextTask(t).TaskID)
	require.Equal(t, sevens, everyone.nextTask(t).TaskID)
}

func TestEventStreamsSendHeartbeats(t *testing.T) {
	s := newSSEServer(t, httpapi.Config{HeartbeatInterval: 10 * time.Millisecond})
	st := s.open(t, sseAccountPath, nil)
	st.connected(t)
	require.Equal(t, sseFrame{comment: "heartbeat"}, st.next(t))
	require.Equal(t, sseFrame{comment: "heartbeat"}, st.next(t))
}

func TestEventStreamsRefuseBeforeStreaming(t *testing.T) {
	s := newSSEServer(t, httpapi.Config{})
	id := s.createTask(defaultTask)
	cases := []struct {
		name, path string
		header     http.Header
		status     int
		code       string
		field      string
	}{
		{"unknown task", sseTaskPath("task-doesnotexist"), nil, http.StatusNotFound, "not_found", ""},
		{"malformed task id", sseTaskPath("task.bad"), nil, http.StatusNotFound, "not_found", ""},
		{"account_id not a number", sseAccountPath + "?account_id=seven", nil, http.StatusUnprocessableEntity, "validation_error", "account_id"},
		{"account_id zero", sseAccountPath + "?account_id=0", nil, http.StatusUnprocessableEntity, "validation_error", "account_id"},
		{"account_id negative", sseAccountPath + "?account_id=-7", nil, http.StatusUnprocessableEntity, "validation_error", "account_id"},
		{"account_id empty", sseAccountPath + "?account_id=", nil, http.StatusUnprocessableEntity, "validation_error", "account_id"},
		{"Last-Event-ID malformed", sseTaskPath(id), http.Header{"Last-Event-Id": {"abc"}}, http.StatusUnprocessableEntity, "validation_error", "Last-Event-ID"},
		{"last_event_id malformed", sseAccountPath + "?last_event_id=-1", nil, http.StatusUnprocessableEntity, "validation_error", "last_event_id"},
		{"wrong method", sseAccountPath, nil, http.StatusMethodNotAllowed, "method_not_allowed", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := http.MethodGet
			if tc.status == http.StatusMethodNotAllowed {
				method = http.MethodPost
			}
			resp, body := s.call(t, method, tc.path, nil, tc.header)
			require.Equal(t, tc.status, resp.StatusCode, string(body))
			require.Contains(t, resp.Header.Get("Content-Type"), "application/json")
			var env struct {
				Success bool `json:"success"`
				Error   struct {
					Code  string `json:"code"`
					Field string `json:"field"`
				} `json:"error"`
				RequestID string `json:"request_id"`
			}
			require.NoError(t, json.Unmarshal(body, &env), string(body))
			require.False(t, env.Success)
			require.Equal(t, tc.code, env.Error.Code)
			require.Equal(t, tc.field, env.Error.Field)
			require.NotEmpty(t, env.RequestID)
		})
	}
}

func TestEventStreamsResumeAfterLastEventID(t *testing.T) {
	s := newSSEServer(t, httpapi.Config{HeartbeatInterval: time.Hour})
	first := s.open(t, sseAccountPath+"?account_id=7", nil)
	first.connected(t)
	a := s.createTask(`{"account_id":7,"topic":"a"}`)
	seen := first.nextTask(t)
	require.Equal(t, a, seen.TaskID)
	first.cancel() // the client drops; changes go on meanwhile

	b := s.createTask(`{"account_id":7,"topic":"b"}`)
	s.createTask(`{"account_id":8,"topic":"other account"}`)
	c := s.createTask(`{"account_id":7,"topic":"c"}`)

	resumed := s.open(t, sseAccountPath+"?account_id=7", http.Header{"Last-Event-Id": {strconv.FormatInt(seen.seq, 10)}})
	resumed.connected(t)
	var got []string
	last := seen.seq
	for range 2 {
		e := resumed.nextTask(t)
		require.Greater(t, e.seq, last)
		got, last = append(got, e.TaskID), e.seq
	}
	require.Equal(t, []string{b, c}, got, "the events missed, in order")
	live := s.createTask(`{"account_id":7,"topic":"live"}`)
	e := resumed.nextTask(t)
	require.Equal(t, live, e.TaskID, "then live events, with nothing replayed twice")
	require.Greater(t, e.seq, last)

	t.Run("from the last_event_id query parameter, on a task stream", func(t *testing.T) {
		st := s.open(t, sseTaskPath(b)+"?last_event_id="+strconv.FormatInt(seen.seq, 10), nil)
		st.connected(t)
		e := st.nextTask(t)
		require.Equal(t, b, e.TaskID)
		require.Equal(t, "pending", e.Status)
	})
}

func TestEventStreamsAcceptTheTokenInTheQuery(t *testing.T) {
	s := newSSEServer(t, httpapi.Config{APITokens: []string{"s3cret"}, HeartbeatInterval: time.Hour})
	id := s.createTaskAuthorized(t, "s3cret")

	for _, path := range []string{sseAccountPath + "?access_token=s3cret", sseTaskPath(id) + "?access_token=s3cret"} {
		s.open(t, path, nil).connected(t)
	}
	s.open(t, sseAccountPath, http.Header{"Authorization": {"Bearer s3cret"}}).connected(t)

	for _, tc := range []struct {
		name, path string
	}{
		{"no token", sseAccountPath},
		{"wrong token", sseAccountPath + "?access_token=guess"},
		{"empty token", sseTaskPath(id) + "?access_token="},
		{"query token on another route", "/api/v1/content/tasks/" + id + "?access_token=s3cret"},
		{"query token on the task list", "/api/v1/content/tasks?access_token=s3cret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := s.call(t, http.MethodGet, tc.path, nil, nil)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(body))
			require.NotContains(t, resp.Header.Get("Content-Type"), "text/event-stream")
		})
	}

	for _, entry := range s.logs.All() {
		for _, v := range entry.ContextMap() {
			if str, ok := v.(string); ok {
				require.NotContains(t, str, "s3cret", "the token is never logged")
			}
		}
	}
}

// createTaskAuthorized creates a task over HTTP with a bearer token.
func (s *sseServer) createTaskAuthorized(t *testing.T, token string) string {
	t.Helper()
	resp, body := s.call(t, http.MethodPost, "/api/v1/content/tasks", []byte(defaultTask),
		http.Header{"Authorization": {"Bearer " + token}, "Content-Type": {"application/json"}})
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
	var v struct {
		TaskID string `json:"task_id"`
	}
	require.NoError(t, json.Unmarshal(body, &v))
	return v.TaskID
}

func TestEventStreamsEnd(t *testing.T) {
	t.Run("when the client leaves", func(t *testing.T) {
		s := newSSEServer(t, httpapi.Config{HeartbeatInterval: time.Hour})
		st := s.open(t, sseAccountPath, nil)
		st.connected(t)
		st.cancel()
		// The access log line is written when the handler returns.
		require.Eventually(t, func() bool {
			return s.logs.FilterField(zap.String("path", sseAccountPath)).Len() == 1
		}, sseWait, 10*time.Millisecond, "the handler did not return")
	})
	t.Run("when the hub closes at shutdown", func(t *testing.T) {
		s := newSSEServer(t, httpapi.Config{HeartbeatInterval: time.Hour})
		st := s.open(t, sseAccountPath, nil)
		st.connected(t)
		require.NoError(t, s.events.Close())
		select {
		case f, open := <-st.frames:
			require.False(t, open, "unexpected frame %+v", f)
		case <-time.After(sseWait):
			t.Fatal("the stream did not end")
		}
	})
}
