package httpapi_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"contenthub/adapters/httpapi"
	"contenthub/adapters/ids"
	"contenthub/adapters/metrics"
	"contenthub/adapters/signature"
	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/application"
	"contenthub/domain"
)

// Server timeouts over a real listener and the server NewServer builds:
// deadlines live on connections, which a recorder does not have.

// timedServer is the harness behind httpapi.NewServer on 127.0.0.1.
type timedServer struct {
	*sseServer
	addr     string
	registry *prometheus.Registry
}

func newTimedServer(t *testing.T, store *sqlstore.Store, cfg httpapi.Config) *timedServer {
	t.Helper()
	h := newHarness(t, store)
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	deps := application.Deps{
		Store: h.store, Claimer: h.store, Stale: h.store, Deliveries: h.store, Reader: h.store,
		Clock: h.clock, IDs: ids.Random{}, Publisher: h.events, Metrics: m, Log: zap.NewNop(),
		Rules: application.Rules{TaskTimeout: 30 * time.Minute},
	}
	verifier, err := signature.NewVerifier(signature.Config{Tokens: true, Tolerance: 5 * time.Minute})
	require.NoError(t, err)
	cfg.WebhookEnabled, cfg.WebhookTimeout, cfg.WebhookMaxBodyBytes = true, 10*time.Second, 5<<20
	router := httpapi.NewRouter(cfg, httpapi.Deps{
		Tasks: h.tasks, Callbacks: application.NewCallbacks(deps, verifier), Health: h.store, Clock: h.clock,
		Log: zap.NewNop(), Events: h.events, Metrics: m,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := httpapi.NewServer(ln.Addr().String(), cfg, router)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := ln.Addr().String()
	return &timedServer{sseServer: &sseServer{harness: h, url: "http://" + addr}, addr: addr, registry: reg}
}

// slowRequest sends a request's head at once and then its body in pieces,
// pause apart, over a raw connection, until the body is sent or the server
// stops reading. It returns the answer and how many body bytes went out.
type slowRequest struct {
	conn     net.Conn
	sent     atomic.Int64
	finished chan struct{} // closed when the writer stops
}

func startSlowRequest(t *testing.T, addr, method, path string, body []byte, piece int, pause time.Duration) *slowRequest {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		method, path, addr, len(body))
	_, err = io.WriteString(conn, head)
	require.NoError(t, err)
	r := &slowRequest{conn: conn, finished: make(chan struct{})}
	go func() {
		defer close(r.finished)
		for off := 0; off < len(body); off += piece {
			time.Sleep(pause)
			end := min(off+piece, len(body))
			n, err := conn.Write(body[off:end])
			r.sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	return r
}

// answer reads the response (bounded by sseWait) and its decoded body.
func (r *slowRequest) answer(t *testing.T) (*http.Response, map[string]any) {
	t.Helper()
	require.NoError(t, r.conn.SetReadDeadline(time.Now().Add(sseWait)))
	br := bufio.NewReader(r.conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m), "%s", raw)
	return resp, m
}

// closedByServer reports whether the server closed the connection (a read
// ends with EOF or reset rather than waiting).
func (r *slowRequest) closedByServer(t *testing.T) bool {
	t.Helper()
	require.NoError(t, r.conn.SetReadDeadline(time.Now().Add(sseWait)))
	_, err := r.conn.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// TestSlowBodyIsCutOffAtTheReadDeadline: a callback (or task) body trickled
// slower than HTTP_READ_TIMEOUT is answered 408 and its connection closed
// while the client is still sending, and nothing is applied; a body that
// arrives in time is handled. Meanwhile an event stream stays open well
// past both the read and the write timeout, and still delivers events.
func TestSlowBodyIsCutOffAtTheReadDeadline(t *testing.T) {
	const (
		readTimeout  = time.Second
		writeTimeout = 2 * time.Second
	)
	srv := newTimedServer(t, sqlstoretest.NewSQLite(t), httpapi.Config{ReadTimeout: readTimeout, WriteTimeout: writeTimeout, HeartbeatInterval: 200 * time.Millisecond})
	s := srv.submit(defaultTask)
	stream := srv.open(t, sseTaskPath(s.id), nil)
	stream.connected(t)
	opened := time.Now()

	// A real completed callback, one byte every 20 ms: 7 KB would take minutes.
	body := completedBody(s.ref, strings.Repeat("## 边缘计算\n\n边缘计算把计算放到离数据更近的地方。\n\n", 100))
	started := time.Now()
	slow := startSlowRequest(t, srv.addr, http.MethodPost, s.callback, body, 1, 20*time.Millisecond)
	resp, answer := slow.answer(t)
	require.Equal(t, http.StatusRequestTimeout, resp.StatusCode, "%v", answer)
	require.Equal(t, "body_timeout", errCode(answer))
	require.GreaterOrEqual(t, time.Since(started), readTimeout, "not cut off before the deadline")
	require.True(t, slow.closedByServer(t), "the server closes the connection")
	<-slow.finished
	require.Less(t, slow.sent.Load(), int64(len(body)), "the client was still sending when it was cut off")
	require.Equal(t, domain.StatusSubmitted, srv.task(s.id).Status(), "nothing of a cut-off body is applied")

	// The task API's bodies have the same deadline.
	slowCreate := startSlowRequest(t, srv.addr, http.MethodPost, "/api/v1/content/tasks", []byte(defaultTask), 1, 50*time.Millisecond)
	resp, answer = slowCreate.answer(t)
	require.Equal(t, http.StatusRequestTimeout, resp.StatusCode, "%v", answer)

	// Slow but within the deadline: 4 pieces 100 ms apart.
	inTime := startSlowRequest(t, srv.addr, http.MethodPost, s.callback, progressBody(s.ref, 40), 40, 100*time.Millisecond)
	resp, answer = inTime.answer(t)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", answer)

	// The stream outlived the read and the write timeout and still works:
	// heartbeats keep coming, and the next change arrives.
	for time.Since(opened) < readTimeout+writeTimeout {
		f := stream.next(t)
		if f.event == "task" {
			continue // the progress above
		}
		require.Equal(t, "heartbeat", f.comment)
	}
	rec := srv.do(http.MethodPost, s.callback, progressBody(s.ref, 70), nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	for {
		e := stream.nextTask(t)
		if e.Progress.Percentage == 70 {
			break
		}
	}
}

// TestCallbackConcurrencyCap: past WEBHOOK_MAX_CONCURRENT callbacks in
// flight, the next is answered 503 with Retry-After (and counted) without
// its body being read; once the slots free, callbacks are served again.
func TestCallbackConcurrencyCap(t *testing.T) {
	srv := newTimedServer(t, sqlstoretest.NewSQLite(t), httpapi.Config{ReadTimeout: 30 * time.Second, WriteTimeout: time.Minute, MaxConcurrentCallbacks: 2})
	s := srv.submit(defaultTask)

	// Two callbacks hold both slots while their bodies trickle in.
	body := progressBody(s.ref, 30)
	var holders []*slowRequest
	for range 2 {
		holders = append(holders, startSlowRequest(t, srv.addr, http.MethodPost, s.callback, body, 1, 40*time.Millisecond))
	}
	var (
		overloaded *http.Response
		seen       []int // the third callback's answers until one is 503 (-1: no answer)
		client     = &http.Client{Timeout: sseWait}
	)
	for deadline := time.Now().Add(2 * sseWait); overloaded == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := client.Post(srv.url+s.callback, "application/json", strings.NewReader(string(progressBody(s.ref, 20))))
		if err != nil {
			seen = append(seen, -1)
			continue
		}
		resp.Body.Close()
		seen = append(seen, resp.StatusCode)
		if resp.StatusCode == http.StatusServiceUnavailable {
			overloaded = resp
		}
	}
	require.NotNil(t, overloaded, "a third callback was never refused; its answers: %v; body bytes the holders sent: %d, %d",
		seen, holders[0].sent.Load(), holders[1].sent.Load())
	require.NotEmpty(t, overloaded.Header.Get("Retry-After"))
	require.Equal(t, 1.0, callbackCount(t, srv.registry, "overloaded"))

	for _, h := range holders {
		resp, answer := h.answer(t)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%v", answer)
	}
	resp, err := http.Post(srv.url+s.callback, "application/json", strings.NewReader(string(progressBody(s.ref, 50))))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// callbackCount sums contenthub_callbacks_total over events for one outcome.
func callbackCount(t testing.TB, reg *prometheus.Registry, outcome string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	total := 0.0
	for _, f := range families {
		if f.GetName() != "contenthub_callbacks_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}
