package creatorapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/creatorapi"
	"contenthub/domain"
	"contenthub/ports"
)

// sample returns a captured answer: the status and the JSON body.
func sample(t *testing.T, name, sampleID, id string) (int, []byte) {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, bytes.ReplaceAll(body, []byte(sampleID), []byte(id))
}

// server plays content-creator's API. handle answers POST /api/tasks; a GET
// of an id it never took fails the test (the real one dies of it).
type server struct {
	t      *testing.T
	mu     sync.Mutex
	posts  []map[string]any
	tasks  map[string]string // id → status
	gets   []string
	delete []string
	handle func(w http.ResponseWriter, r *http.Request, body map[string]any)
	srv    *httptest.Server
}

func newServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, body map[string]any)) *server {
	s := &server{t: t, tasks: map[string]string{}, handle: handle}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.gets = append(s.gets, r.Method+" "+r.URL.RequestURI())
	s.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/tasks":
		var body map[string]any
		require.NoError(s.t, json.NewDecoder(r.Body).Decode(&body))
		s.mu.Lock()
		s.posts = append(s.posts, body)
		s.mu.Unlock()
		s.handle(w, r, body)
	case r.Method == http.MethodGet && r.URL.Path == "/api/tasks":
		s.mu.Lock()
		var tasks []map[string]string
		for id, st := range s.tasks {
			tasks = append(tasks, map[string]string{"id": id, "status": st})
		}
		s.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "data": map[string]any{
			"tasks": tasks, "pagination": map[string]int{"page": 1, "limit": 100, "total": len(tasks), "totalPages": 1},
		}})
	default:
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/tasks/"), "/result")
		s.mu.Lock()
		st, ok := s.tasks[id]
		if r.Method == http.MethodDelete {
			s.delete = append(s.delete, id)
		}
		s.mu.Unlock()
		if !ok {
			s.t.Errorf("asked about %s %s, an id it never took: the real server dies of it", r.Method, r.URL.Path)
			panic(http.ErrAbortHandler)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "data": map[string]any{"id": id, "status": st}})
	}
}

func (s *server) took(id, status string) {
	s.mu.Lock()
	s.tasks[id] = status
	s.mu.Unlock()
}

func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.gets...)
}

type outcomes chan ports.RunOutcome

func (o outcomes) RunEnded(_ context.Context, out ports.RunOutcome) { o <- out }

func (o outcomes) next(t *testing.T) ports.RunOutcome {
	t.Helper()
	select {
	case out := <-o:
		return out
	case <-time.After(10 * time.Second):
		t.Fatal("no outcome reported")
		return ports.RunOutcome{}
	}
}

func newClient(t *testing.T, s *server, window time.Duration) (*creatorapi.Client, outcomes) {
	t.Helper()
	seen := make(outcomes, 4)
	c, err := creatorapi.New(creatorapi.Config{BaseURL: s.srv.URL + "/", AcceptWindow: window}, seen)
	require.NoError(t, err)
	return c, seen
}

func request(ref string) ports.SubmitRequest {
	return ports.SubmitRequest{TaskID: "task-a", Attempt: 1, ExternalRef: ref, Brief: domain.Brief{
		Topic: "边缘计算入门", Requirements: "写一篇面向开发者的科普文章", TargetAudience: "开发者", Priority: 8,
		Keywords: []string{"edge"},
	}, CallbackURL: "http://127.0.0.1:8080/api/v1/content/callback/task-a?token=tok"}
}

func TestSubmitPostsTheDocumentedBodyAndReportsTheAnswer(t *testing.T) {
	var s *server
	s = newServer(t, func(w http.ResponseWriter, _ *http.Request, body map[string]any) {
		id := body["idempotencyKey"].(string)
		s.took(id, "completed")
		status, answer := sample(t, "api-post-ok.txt", "test-api-001", id)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(answer)
	})
	c, seen := newClient(t, s, time.Second)
	res, err := c.Submit(t.Context(), request("task-a-1"))
	require.NoError(t, err)
	out := seen.next(t)
	<-res.Running

	require.Equal(t, map[string]any{
		"mode": "sync", "topic": "边缘计算入门", "requirements": "写一篇面向开发者的科普文章", "targetAudience": "开发者",
		"priority": float64(3), "idempotencyKey": "task-a-1", "keywords": []any{"edge"},
		"callbackUrl": "http://127.0.0.1:8080/api/v1/content/callback/task-a?token=tok", "callbackEnabled": true,
		"callbackEvents": []any{"completed", "failed"},
	}, s.posts[0], "tone is left out when unset: the server refuses null")

	require.Equal(t, ports.PhaseCompleted, out.Phase)
	require.Equal(t, domain.SourceCreatorAnswer, out.Source)
	require.Equal(t, "task-a-1", out.ExternalRef)
	require.True(t, strings.HasPrefix(out.Result.Content, "# 边缘计算入门\n\n## 引言"))
	require.Equal(t, []string{"https://example.com/mock-image-1795861950241.png", "https://example.com/mock-image-1795861950241.png"}, out.Result.Images)
	require.Equal(t, 8.0, *out.Result.QualityScore)
	require.Equal(t, 1146, *out.Result.WordCount)

	// Acknowledged: now it may be asked about by id.
	st, err := c.Status(t.Context(), "task-a-1")
	require.NoError(t, err)
	require.Equal(t, ports.PhaseCompleted, st.Phase)
}

func TestAFailedRunIsReportedWithItsReason(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, _ *http.Request, body map[string]any) {
		status, answer := sample(t, "api-post-fail.txt", "test-fail-api-001", body["idempotencyKey"].(string))
		w.WriteHeader(status)
		_, _ = w.Write(answer)
	})
	c, seen := newClient(t, s, time.Second)
	_, err := c.Submit(t.Context(), request("task-a-1"))
	require.NoError(t, err)
	out := seen.next(t)
	require.Equal(t, ports.PhaseFailed, out.Phase)
	require.False(t, out.Permanent)
	require.Equal(t, "Text quality check failed after 3 attempts", out.Error.Message)
}

func TestA4xxIsAPermanentRefusalNamingTheField(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
		status, answer := sample(t, "api-post-no-audience.txt", "", "")
		w.WriteHeader(status)
		_, _ = w.Write(answer)
	})
	c, seen := newClient(t, s, time.Second)
	_, err := c.Submit(t.Context(), request("task-a-1"))
	require.ErrorIs(t, err, ports.ErrSubmitRefused)
	require.Contains(t, err.Error(), "400 VALIDATION_ERROR: Request validation failed; targetAudience: Invalid input: expected string, received undefined")
	require.Empty(t, seen)
}

func TestConnectionFailures(t *testing.T) {
	t.Run("dropped after the request left: unknown, and never asked about by id", func(t *testing.T) {
		s := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
			conn, _, err := w.(http.Hijacker).Hijack()
			require.NoError(t, err)
			_ = conn.Close()
		})
		c, _ := newClient(t, s, time.Second)
		_, err := c.Submit(t.Context(), request("task-a-1"))
		require.ErrorIs(t, err, ports.ErrSubmitOutcomeUnknown)

		// The reconciler's question is answered from the task list: the
		// server never took it, so the attempt fails and a retry follows.
		_, err = c.Status(t.Context(), "task-a-1")
		require.ErrorIs(t, err, ports.ErrCreatorUnknownTask)
		for _, r := range s.requests() {
			require.NotContains(t, r, "/api/tasks/task-a-1", "an unacknowledged id is never asked about directly")
		}
		// Had it taken it, the list says so, and from then on it is asked by id.
		s.took("task-a-1", "running")
		st, err := c.Status(t.Context(), "task-a-1")
		require.NoError(t, err)
		require.Equal(t, ports.PhaseRunning, st.Phase)
		_, err = c.Status(t.Context(), "task-a-1")
		require.NoError(t, err)
		require.Contains(t, s.requests(), "GET /api/tasks/task-a-1")
	})
	t.Run("nothing listening: a plain error, retried", func(t *testing.T) {
		s := newServer(t, nil)
		s.srv.Close()
		c, _ := newClient(t, s, time.Second)
		_, err := c.Submit(t.Context(), request("task-a-1"))
		require.Error(t, err)
		require.NotErrorIs(t, err, ports.ErrSubmitOutcomeUnknown)
		require.NotErrorIs(t, err, ports.ErrSubmitRefused)
	})
	t.Run("a 5xx at once: a plain error", func(t *testing.T) {
		s := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		c, _ := newClient(t, s, time.Second)
		_, err := c.Submit(t.Context(), request("task-a-1"))
		require.ErrorContains(t, err, "answered 503")
		require.NotErrorIs(t, err, ports.ErrSubmitRefused)
	})
}

// TestALongRunHoldsItsRequest: with a real model the answer comes minutes
// later; the submission is accepted once the request left without a quick
// refusal, the run counts as running, and cancel lets go of it.
func TestALongRunHoldsItsRequest(t *testing.T) {
	release := make(chan struct{})
	var s *server
	s = newServer(t, func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		id := body["idempotencyKey"].(string)
		s.took(id, "running")
		hold := release
		if id != "task-a-1" {
			hold = nil // held until the client lets go
		}
		select {
		case <-hold:
			s.took(id, "completed")
			status, answer := sample(t, "api-post-ok.txt", "test-api-001", id)
			w.WriteHeader(status)
			_, _ = w.Write(answer)
		case <-r.Context().Done():
		}
	})
	c, seen := newClient(t, s, 50*time.Millisecond)

	res, err := c.Submit(t.Context(), request("task-a-1"))
	require.NoError(t, err)
	require.True(t, c.Live("task-a-1"), "a held request is a live run (§14: never found lost)")
	require.False(t, c.Live("task-a-9"))
	st, err := c.Status(t.Context(), "task-a-1")
	require.NoError(t, err)
	require.Equal(t, ports.PhaseRunning, st.Phase)
	close(release)
	require.Equal(t, ports.PhaseCompleted, seen.next(t).Phase)
	<-res.Running
	require.False(t, c.Live("task-a-1"), "an answered request holds nothing")

	// Cancel of a held run: the request is let go, the server asked to cancel.
	res, err = c.Submit(t.Context(), request("task-a-2"))
	require.NoError(t, err)
	require.NoError(t, c.Cancel(t.Context(), "task-a-2"))
	select {
	case <-res.Running:
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled run still holds its request")
	}
	require.Contains(t, s.delete, "task-a-2")
	require.Empty(t, seen, "a run given up on reports nothing")
}

// TestSilenceIsNoAcknowledgement: a request held past the accept window
// counts as submitted, but when it then drops, the server may never have
// taken the id (it was paused, then died): it is looked for in the task
// list, never asked about directly — that would kill the real server.
func TestSilenceIsNoAcknowledgement(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
		time.Sleep(150 * time.Millisecond) // past the window, then the server dies
		conn, _, err := w.(http.Hijacker).Hijack()
		require.NoError(t, err)
		_ = conn.Close()
	})
	c, seen := newClient(t, s, 50*time.Millisecond)
	res, err := c.Submit(t.Context(), request("task-a-1"))
	require.NoError(t, err, "silence past the window: submitted")
	<-res.Running
	require.Empty(t, seen, "a dropped request tells nothing")

	_, err = c.Status(t.Context(), "task-a-1")
	require.ErrorIs(t, err, ports.ErrCreatorUnknownTask)
	require.NoError(t, c.Cancel(t.Context(), "task-a-1"))
	for _, r := range s.requests() {
		require.NotContains(t, r, "/api/tasks/task-a-1")
	}
}

// droppingTransport plays a connection that the server drops: wrote says
// whether the request was written first (the trace's WroteRequest, which
// net/http reports before it flushes), then the read fails with EOF.
type droppingTransport struct{ wrote bool }

func (d droppingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	if trace := httptrace.ContextClientTrace(r.Context()); d.wrote && trace != nil && trace.WroteRequest != nil {
		trace.WroteRequest(httptrace.WroteRequestInfo{})
	}
	return nil, io.EOF
}

// TestADropRightAfterTheWriteIsStillUnknown: the write report and the
// dropped connection can both be waiting when Submit looks; the drop must
// not win just because select chose it. Many submissions, because which one
// select sees first is the scheduler's choice.
func TestADropRightAfterTheWriteIsStillUnknown(t *testing.T) {
	for _, tc := range []struct {
		name  string
		wrote bool
	}{{"written, then dropped: unknown", true}, {"dropped before the write: a plain error", false}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := creatorapi.New(creatorapi.Config{BaseURL: "http://127.0.0.1:1", AcceptWindow: time.Hour,
				HTTPClient: &http.Client{Transport: droppingTransport{wrote: tc.wrote}}}, make(outcomes, 1))
			require.NoError(t, err)
			for i := range 500 {
				_, err := c.Submit(t.Context(), request(fmt.Sprintf("task-a-%d", i)))
				require.ErrorIs(t, err, io.EOF)
				if tc.wrote {
					require.ErrorIs(t, err, ports.ErrSubmitOutcomeUnknown, "submission %d", i)
				} else {
					require.NotErrorIs(t, err, ports.ErrSubmitOutcomeUnknown, "submission %d", i)
				}
			}
		})
	}
}

// inProcess serves requests with a handler, without a connection.
type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// countedOutcomes hears outcomes without keeping them.
type countedOutcomes struct {
	mu sync.Mutex
	n  int
}

func (o *countedOutcomes) RunEnded(context.Context, ports.RunOutcome) {
	o.mu.Lock()
	o.n++
	o.mu.Unlock()
}

// TestAcknowledgedIdsAreBounded: the ids the server acknowledged are
// remembered up to the limit, the least recently used forgotten first, and a
// forgotten id is looked for in the task list again, never asked by id.
func TestAcknowledgedIdsAreBounded(t *testing.T) {
	const limit, submissions = 100, 10_000
	var s *server
	s = newServer(t, func(w http.ResponseWriter, _ *http.Request, body map[string]any) {
		id := body["idempotencyKey"].(string)
		s.took(id, "completed")
		w.Header().Set("Content-Type", "application/json")
		// The shape of api-post-ok.txt without its article: the bound is
		// the subject here, not the decoding.
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "data": map[string]any{
			"id": id, "taskId": id, "status": "completed", "content": "# 边缘计算入门", "wordCount": 1146}})
	})
	// In process: ten thousand loopback round trips would only add time.
	c, err := creatorapi.New(creatorapi.Config{BaseURL: s.srv.URL, AcknowledgedLimit: limit,
		HTTPClient: &http.Client{Transport: inProcess{http.HandlerFunc(s.serve)}}}, &countedOutcomes{})
	require.NoError(t, err)
	for i := range submissions {
		res, err := c.Submit(t.Context(), request(fmt.Sprintf("task-%d-1", i)))
		require.NoError(t, err)
		<-res.Running
		require.LessOrEqual(t, c.Acknowledged(), limit, "after submission %d", i)
	}
	require.Equal(t, limit, c.Acknowledged())

	// The newest is still asked about by id; the oldest through the list.
	before := len(s.requests())
	_, err = c.Status(t.Context(), fmt.Sprintf("task-%d-1", submissions-1))
	require.NoError(t, err)
	st, err := c.Status(t.Context(), "task-0-1")
	require.NoError(t, err)
	require.Equal(t, ports.PhaseCompleted, st.Phase)
	asked := s.requests()[before:]
	require.Equal(t, fmt.Sprintf("GET /api/tasks/task-%d-1", submissions-1), asked[0])
	require.Equal(t, "GET /api/tasks?page=1&limit=100", asked[1], "a forgotten id is looked for in the list")
	require.Len(t, asked, 2)
	// Found there, it is acknowledged again, within the bound.
	_, err = c.Result(t.Context(), "task-0-1")
	require.NoError(t, err)
	require.Contains(t, s.requests(), "GET /api/tasks/task-0-1/result")
	require.Equal(t, limit, c.Acknowledged())
}

// fakeClock is a fixed time whose timers fire when the test says.
type fakeClock struct {
	now    time.Time
	timers chan chan time.Time // each After asked for
}

func (f fakeClock) Now() time.Time { return f.now }

func (f fakeClock) After(time.Duration) <-chan time.Time {
	fire := make(chan time.Time, 1)
	f.timers <- fire
	return fire
}

// TestTheClockTimesTheAcceptWindowAndTheOutcome: the accept window is the
// injected clock's timer and the outcome is stamped with its time.
func TestTheClockTimesTheAcceptWindowAndTheOutcome(t *testing.T) {
	release := make(chan struct{})
	var s *server
	s = newServer(t, func(w http.ResponseWriter, _ *http.Request, body map[string]any) {
		id := body["idempotencyKey"].(string)
		s.took(id, "running")
		<-release
		s.took(id, "completed")
		status, answer := sample(t, "api-post-ok.txt", "test-api-001", id)
		w.WriteHeader(status)
		_, _ = w.Write(answer)
	})
	clk := fakeClock{now: time.Date(2026, 12, 6, 19, 0, 0, 0, time.UTC), timers: make(chan chan time.Time, 1)}
	seen := make(outcomes, 1)
	c, err := creatorapi.New(creatorapi.Config{BaseURL: s.srv.URL, AcceptWindow: time.Hour}, seen, creatorapi.WithClock(clk))
	require.NoError(t, err)

	submitted := make(chan error, 1)
	go func() {
		_, err := c.Submit(context.Background(), request("task-a-1"))
		submitted <- err
	}()
	fire := <-clk.timers // the request left; the window is the clock's
	require.Empty(t, submitted, "accepted before the window closed")
	fire <- clk.now
	require.NoError(t, <-submitted)
	close(release)
	out := seen.next(t)
	require.Equal(t, ports.PhaseCompleted, out.Phase)
	require.Equal(t, clk.now, out.At)
}

// TestAnIDTheAnswerReportsIsTheAttempts (issue #19): the server may run the
// job under an id of its own. The id its answer names is the submission's
// and the outcome's external ref, the one acknowledged and asked about by
// id from then on; the id sent, which it never took, is only ever looked
// for in its task list (asking about it directly would kill it).
func TestAnIDTheAnswerReportsIsTheAttempts(t *testing.T) {
	for name, window := range map[string]time.Duration{
		"an answer within the accept window":   time.Minute,
		"an answer after the request was held": 20 * time.Millisecond,
	} {
		t.Run(name, func(t *testing.T) {
			var s *server
			s = newServer(t, func(w http.ResponseWriter, _ *http.Request, body map[string]any) {
				require.Equal(t, "task-a-1", body["idempotencyKey"])
				if window < time.Second {
					time.Sleep(100 * time.Millisecond) // past the window: the request is held
				}
				s.took("cc-own-7", "completed")
				status, answer := sample(t, "api-post-ok.txt", "test-api-001", "cc-own-7")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_, _ = w.Write(answer)
			})
			c, seen := newClient(t, s, window)
			res, err := c.Submit(t.Context(), request("task-a-1"))
			require.NoError(t, err)
			out := seen.next(t)
			<-res.Running
			if window > time.Second {
				require.Equal(t, "cc-own-7", res.ExternalRef, "the answer came with the submission: its id is the submission's")
			} else {
				require.Equal(t, "task-a-1", res.ExternalRef, "nothing reported yet when the request is held")
			}
			require.Equal(t, ports.PhaseCompleted, out.Phase)
			require.Equal(t, "cc-own-7", out.ExternalRef, "the outcome names the id it ran the job under")

			st, err := c.Status(t.Context(), "cc-own-7")
			require.NoError(t, err)
			require.Equal(t, ports.PhaseCompleted, st.Phase)
			_, err = c.Result(t.Context(), "cc-own-7")
			require.NoError(t, err)
			require.NoError(t, c.Cancel(t.Context(), "cc-own-7"))
			_, err = c.Status(t.Context(), "task-a-1")
			require.ErrorIs(t, err, ports.ErrCreatorUnknownTask, "the id sent is not one it took")

			require.Equal(t, []string{
				"POST /api/tasks",
				"GET /api/tasks/cc-own-7", // acknowledged by the answer: asked by id, no list lookup
				"GET /api/tasks/cc-own-7/result",
				"DELETE /api/tasks/cc-own-7",
				"GET /api/tasks?page=1&limit=100", // the id sent is only looked for in the list
			}, s.requests())
		})
	}
}

// TestStatusReportsHowFarARunHasGot: a task row's current step and update
// time are what a status answer says of the run's advance (§14 lost runs).
func TestStatusReportsHowFarARunHasGot(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/api/tasks" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			return
		}
		_, _ = io.WriteString(w, `{"success":true,"data":{"tasks":[
			{"id":"task-a-1","status":"running","currentStep":"text_generation","updatedAt":"2026-11-28T10:31:46.523Z"},
			{"id":"task-b-1","status":"pending","currentStep":null,"updatedAt":null}],
			"pagination":{"page":1,"limit":100,"total":2,"totalPages":1}}}`)
	}))
	t.Cleanup(srv.Close)
	c, err := creatorapi.New(creatorapi.Config{BaseURL: srv.URL}, make(outcomes, 1))
	require.NoError(t, err)

	st, err := c.Status(t.Context(), "task-a-1")
	require.NoError(t, err)
	require.Equal(t, ports.CreatorStatus{Phase: ports.PhaseRunning, Raw: "running",
		Progress: &domain.ProgressReport{Stage: "text_generation"}, UpdatedAt: time.Date(2026, 11, 28, 10, 31, 46, 523e6, time.UTC)}, st)

	st, err = c.Status(t.Context(), "task-b-1")
	require.NoError(t, err)
	require.Equal(t, ports.CreatorStatus{Phase: ports.PhaseRunning, Raw: "pending"}, st, "nulls are no step and no update time")
	require.False(t, c.Live("task-a-1"), "a run this client holds no request for is not live")
}
