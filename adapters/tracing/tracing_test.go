package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/zap"

	"contenthub/adapters/clock"
	"contenthub/adapters/events"
	"contenthub/adapters/httpapi"
	"contenthub/adapters/ids"
	"contenthub/adapters/metrics"
	"contenthub/adapters/signature"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/adapters/tracing"
	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

func init() { gin.SetMode(gin.TestMode) }

const (
	apiToken      = "api-token-b3Jpb24tc2VjcmV0"
	webhookSecret = "whsec_dGhpcy1pcy1hLXdlYmhvb2stc2VjcmV0"
	incomingTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	incomingSpan  = "00f067aa0ba902b7"
)

// recordingCreator accepts every submission and keeps it.
type recordingCreator struct {
	mu      sync.Mutex
	submits []ports.SubmitRequest
}

func (c *recordingCreator) Submit(_ context.Context, req ports.SubmitRequest) (ports.SubmitResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.submits = append(c.submits, req)
	return ports.SubmitResult{ExternalRef: req.ExternalRef}, nil
}
func (c *recordingCreator) Status(context.Context, string) (ports.CreatorStatus, error) {
	return ports.CreatorStatus{Phase: ports.PhaseRunning}, nil
}
func (c *recordingCreator) Result(context.Context, string) (domain.Result, error) {
	return domain.Result{}, ports.ErrCreatorUnknownTask
}
func (c *recordingCreator) Cancel(context.Context, string) error { return nil }

// stack is the service's HTTP handler, use cases and store, traced as
// bootstrap wires them, with the spans kept in memory.
type stack struct {
	handler    http.Handler
	dispatcher *application.Dispatcher
	creator    *recordingCreator
	spans      *tracetest.InMemoryExporter
}

func newStack(t *testing.T) *stack {
	spans := tracetest.NewInMemoryExporter()
	p, err := tracing.Setup(t.Context(), tracing.Options{Exporter: spans})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	store := tracing.NewStore(sqlstoretest.NewSQLite(t), p)
	creator := &recordingCreator{}
	traced := tracing.NewCreator(creator, p)
	hub := events.NewLocal()
	t.Cleanup(func() { _ = hub.Close() })
	deps := application.Deps{
		Store: store, Claimer: store, Stale: store, Deliveries: store, Reader: store,
		Clock: clock.System{}, IDs: ids.Random{}, Publisher: hub, Metrics: metrics.Discard{}, Log: zap.NewNop(),
		Rules:  application.Rules{TaskTimeout: 30 * time.Minute, Backoff: domain.Backoff{Base: time.Second, Max: time.Minute}},
		Tracer: tracing.NewTracer(p),
	}
	verifier, err := signature.NewVerifier(signature.Config{Tokens: true, Secrets: []string{webhookSecret}, Tolerance: 5 * time.Minute})
	require.NoError(t, err)
	wakeup := application.NewWakeup()
	router := httpapi.NewRouter(httpapi.Config{
		APITokens: []string{apiToken}, WebhookEnabled: true, WebhookTimeout: 10 * time.Second, WebhookMaxBodyBytes: 5 << 20,
	}, httpapi.Deps{
		Tasks: application.NewTasks(deps, traced, wakeup), Callbacks: application.NewCallbacks(deps, verifier),
		Health: sqlstoretest.NewSQLite(t), Clock: clock.System{}, Log: zap.NewNop(), Middleware: []gin.HandlerFunc{tracing.Route()},
	})
	dispatcher := application.NewDispatcher(deps, traced, wakeup, application.DispatcherConfig{
		Owner: "test", Lease: time.Minute, Concurrency: 2, CallbackBaseURL: "http://hub.test", Callbacks: true, Tokens: true,
	})
	return &stack{handler: tracing.Handler(router, p), dispatcher: dispatcher, creator: creator, spans: spans}
}

func (s *stack) do(t *testing.T, method, target string, body []byte, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	return rec
}

// submitted creates a task through the API and dispatches it; it returns
// what content-creator was handed.
func (s *stack) submitted(t *testing.T) ports.SubmitRequest {
	t.Helper()
	rec := s.do(t, http.MethodPost, "/api/v1/content/tasks", []byte(`{"account_id":7,"topic":"边缘计算入门","requirements":"面向初学者"}`),
		http.Header{"Authorization": {"Bearer " + apiToken}})
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	_, err := s.dispatcher.DispatchDue(t.Context())
	require.NoError(t, err)
	s.dispatcher.Wait()
	s.creator.mu.Lock()
	defer s.creator.mu.Unlock()
	require.Len(t, s.creator.submits, 1)
	return s.creator.submits[0]
}

// article is a real-sized (about 20 KB) Chinese article.
func article() string {
	var b strings.Builder
	b.WriteString("# 边缘计算入门\n\n")
	for i := 0; b.Len() < 20<<10; i++ {
		fmt.Fprintf(&b, "第%d段：边缘计算把数据的处理放在离用户更近的地方，降低延迟，也减轻了中心机房的负担。\n\n", i)
	}
	return b.String()
}

func completedBody(ref, content string) []byte {
	b, _ := json.Marshal(map[string]any{
		"event": "completed", "taskId": ref, "status": "completed", "timestamp": time.Now().UTC().Format(time.RFC3339Nano),
		"result": map[string]any{"content": content, "images": []string{"https://img.test/1.png"}, "qualityScore": 8.0},
	})
	return b
}

// callback posts a completed callback with the attempt's token and an
// incoming W3C traceparent.
func (s *stack) callback(t *testing.T, req ports.SubmitRequest, content string) {
	t.Helper()
	u, err := url.Parse(req.CallbackURL)
	require.NoError(t, err)
	rec := s.do(t, http.MethodPost, u.RequestURI(), completedBody(req.ExternalRef, content),
		http.Header{"Traceparent": {"00-" + incomingTrace + "-" + incomingSpan + "-01"}})
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
}

func byName(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name {
			found = append(found, s)
		}
	}
	require.Len(t, found, 1, "spans named %q", name)
	return found[0]
}

func attrs(s tracetest.SpanStub) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// TestCallbackSpanTree: one callback is one tree under the incoming
// traceparent: the server span, the callback's span, and under it the
// steps — authentication, decoding, the store's read and write, the publish.
func TestCallbackSpanTree(t *testing.T) {
	s := newStack(t)
	req := s.submitted(t)
	s.spans.Reset()

	s.callback(t, req, article())

	spans := s.spans.GetSpans()
	server := byName(t, spans, "POST /api/v1/content/callback/:task_id")
	require.Equal(t, incomingTrace, server.SpanContext.TraceID().String())
	require.Equal(t, incomingSpan, server.Parent.SpanID().String(), "the incoming traceparent is the parent")
	require.True(t, server.Parent.IsRemote())
	require.Equal(t, "/api/v1/content/callback/:task_id", attrs(server)["http.route"])

	cb := byName(t, spans, "callback")
	require.Equal(t, server.SpanContext.SpanID(), cb.Parent.SpanID())
	a := attrs(cb)
	require.Equal(t, req.TaskID, a[ports.AttrTaskID])
	require.Equal(t, "1", a[ports.AttrAttempt])
	require.Equal(t, "completed", a[ports.AttrEvent])
	require.Equal(t, "applied", a[ports.AttrOutcome])

	var children []string
	for _, sp := range spans {
		require.Equal(t, incomingTrace, sp.SpanContext.TraceID().String(), "span %s is in another trace", sp.Name)
		if sp.Parent.SpanID() == cb.SpanContext.SpanID() {
			children = append(children, sp.Name)
		}
	}
	// The early duplicate check reads the task (and the delivery id) and
	// authenticates; admitting decodes; the change is written on the task as
	// read; the change is published.
	require.Equal(t, []string{"store.GetTaskAndDelivery", "callback.authenticate", "callback.decode", "store.UpdateTaskAt", "publish"},
		children)
	require.Equal(t, req.TaskID, attrs(byName(t, spans, "store.UpdateTaskAt"))[ports.AttrTaskID])
	require.Equal(t, "1", attrs(byName(t, spans, "callback.authenticate"))[ports.AttrAttempt])
}

// TestSubmissionHandsItsTraceContextToContentCreator: the dispatch is a
// trace; content-creator is handed the submit span's context.
func TestSubmissionHandsItsTraceContextToContentCreator(t *testing.T) {
	s := newStack(t)
	req := s.submitted(t)

	spans := s.spans.GetSpans()
	submit := byName(t, spans, "content_creator.submit")
	dispatch := byName(t, spans, "dispatch")
	require.Equal(t, dispatch.SpanContext.SpanID(), submit.Parent.SpanID())
	require.Equal(t, fmt.Sprintf("00-%s-%s-01", submit.SpanContext.TraceID(), submit.SpanContext.SpanID()), req.Trace.TraceParent)
	require.Equal(t, req.TaskID, attrs(dispatch)[ports.AttrTaskID])
	require.Equal(t, "1", attrs(dispatch)[ports.AttrAttempt])
}

// TestNoSpanCarriesASecret: across a task's creation, dispatch and
// callback, no span's name, attribute, event or status holds the API token,
// the webhook secret, the attempt's callback token or the article.
func TestNoSpanCarriesASecret(t *testing.T) {
	s := newStack(t)
	req := s.submitted(t)
	u, err := url.Parse(req.CallbackURL)
	require.NoError(t, err)
	token := u.Query().Get("token")
	require.NotEmpty(t, token)
	content := article()
	s.callback(t, req, content)

	secrets := map[string]string{"API token": apiToken, "webhook secret": webhookSecret, "callback token": token,
		"article": content[200:260]}
	spans := s.spans.GetSpans()
	require.NotEmpty(t, spans)
	for _, sp := range spans {
		texts := []string{sp.Name, sp.Status.Description}
		for _, kv := range sp.Attributes {
			texts = append(texts, kv.Value.String())
		}
		for _, ev := range sp.Events {
			texts = append(texts, ev.Name)
			for _, kv := range ev.Attributes {
				texts = append(texts, kv.Value.String())
			}
		}
		for _, res := range sp.Resource.Attributes() {
			texts = append(texts, res.Value.String())
		}
		for what, secret := range secrets {
			for _, text := range texts {
				require.NotContains(t, text, secret, "span %s carries the %s", sp.Name, what)
			}
		}
	}
}
