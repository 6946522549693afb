package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"

	"contenthub/adapters/httpapi"
	"contenthub/adapters/signature"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/adapters/webui"
	"contenthub/bootstrap"
)

// docs/openapi.yaml is the API's contract for clients. These tests keep it
// honest: the service serves exactly the documented routes, and real answers
// (and the requests that earned them) fit the documented shapes.

const (
	openAPIFile = "../../docs/openapi.yaml"
	specToken   = "spec-token"
	specSecret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specWait    = 10 * time.Second // bounds every wait on a stream; reaching it fails the test
)

func loadOpenAPI(t testing.TB) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(openAPIFile)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(loader.Context), "docs/openapi.yaml is not a valid OpenAPI document")
	return doc
}

// specRoute is a method and a path template in OpenAPI's form ("/x/{id}").
type specRoute struct{ method, path string }

func (r specRoute) String() string { return r.method + " " + r.path }

func compareSpecRoutes(a, b specRoute) int {
	if c := strings.Compare(a.path, b.path); c != 0 {
		return c
	}
	return strings.Compare(a.method, b.method)
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// servedRoutes lists an engine's routes, ":param" written "{param}".
func servedRoutes(e *gin.Engine) []specRoute {
	var out []specRoute
	for _, r := range e.Routes() {
		out = append(out, specRoute{r.Method, ginParam.ReplaceAllString(r.Path, "{$1}")})
	}
	slices.SortFunc(out, compareSpecRoutes)
	return out
}

// documentedRoutes lists the document's operations.
func documentedRoutes(doc *openapi3.T) []specRoute {
	var out []specRoute
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, specRoute{method, path})
		}
	}
	slices.SortFunc(out, compareSpecRoutes)
	return out
}

// routeMismatch is what compareRoutes found: routes served but not
// documented, and documented but not served.
type routeMismatch struct {
	undocumented, unserved []specRoute
	table                  string
}

func (m routeMismatch) ok() bool { return len(m.undocumented) == 0 && len(m.unserved) == 0 }

func (m routeMismatch) String() string {
	var b strings.Builder
	for _, r := range m.undocumented {
		fmt.Fprintf(&b, "served but missing from docs/openapi.yaml: %s\n", r)
	}
	for _, r := range m.unserved {
		fmt.Fprintf(&b, "in docs/openapi.yaml but not served: %s\n", r)
	}
	return b.String() + "\n" + m.table
}

// compareRoutes compares the served routes with the documented ones, both
// ways, and draws the table of both.
func compareRoutes(served, documented []specRoute) routeMismatch {
	var m routeMismatch
	all := slices.Clone(served)
	for _, r := range documented {
		if !slices.Contains(served, r) {
			m.unserved = append(m.unserved, r)
			all = append(all, r)
		}
	}
	for _, r := range served {
		if !slices.Contains(documented, r) {
			m.undocumented = append(m.undocumented, r)
		}
	}
	slices.SortFunc(all, compareSpecRoutes)
	mark := func(routes []specRoute, r specRoute) string {
		if slices.Contains(routes, r) {
			return "yes"
		}
		return "MISSING"
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "METHOD\tPATH\tROUTER\tSPEC")
	for _, r := range all {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.method, r.path, mark(served, r), mark(documented, r))
	}
	_ = w.Flush()
	m.table = b.String()
	return m
}

// serviceEngine is the service's router as the binary wires it (role api),
// with what bootstrap adds (/metrics) and every optional route.
func serviceEngine(t *testing.T) *gin.Engine {
	t.Helper()
	cli := filepath.Join(t.TempDir(), "content-creator")
	require.NoError(t, os.WriteFile(cli, []byte("#!/bin/sh\nexit 0\n"), 0o755))
	cfg, err := bootstrap.LoadConfig([]string{
		"DATABASE_URL=" + sqlstoretest.SQLiteURL(t), "CREATOR_CLI_PATH=" + cli,
		"HTTP_ADDR=127.0.0.1:0", "LOG_LEVEL=error",
	})
	require.NoError(t, err)
	var engine *gin.Engine
	app := fxtest.New(t, bootstrap.App(cfg, bootstrap.RoleAPI), fx.Populate(&engine))
	gin.SetMode(gin.TestMode) // bootstrap switched Gin to release mode
	app.RequireStart()
	t.Cleanup(app.RequireStop)
	return engine
}

// TestOpenAPIDocumentsEveryRoute compares the service's routes with the
// document's operations, both ways. Run with -v for the table.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	served := servedRoutes(serviceEngine(t))
	require.Contains(t, served, specRoute{http.MethodGet, "/metrics"}, "bootstrap adds /metrics")

	m := compareRoutes(served, documentedRoutes(doc))
	t.Logf("routes of the service and of docs/openapi.yaml:\n%s", m.table)
	require.True(t, m.ok(), "docs/openapi.yaml and the router disagree:\n%s", m)

	t.Run("a route missing from the document is named", func(t *testing.T) {
		edited := loadOpenAPI(t) // a copy to edit
		edited.Paths.Delete("/api/v1/content/tasks/{task_id}/retry")
		edited.Paths.Value("/api/v1/content/tasks").Get = nil
		m := compareRoutes(served, documentedRoutes(edited))
		require.False(t, m.ok())
		require.Equal(t, []specRoute{
			{http.MethodGet, "/api/v1/content/tasks"},
			{http.MethodPost, "/api/v1/content/tasks/{task_id}/retry"},
		}, m.undocumented)
		require.Empty(t, m.unserved)
		require.Contains(t, m.String(), "served but missing from docs/openapi.yaml: POST /api/v1/content/tasks/{task_id}/retry")
		require.Regexp(t, `POST\s+/api/v1/content/tasks/\{task_id\}/retry\s+yes\s+MISSING`, m.table)
	})

	t.Run("a documented route the router lacks is named", func(t *testing.T) {
		m := compareRoutes(slices.DeleteFunc(slices.Clone(served), func(r specRoute) bool { return r.path == "/metrics" }),
			documentedRoutes(doc))
		require.Empty(t, m.undocumented)
		require.Equal(t, []specRoute{{http.MethodGet, "/metrics"}}, m.unserved)
		require.Contains(t, m.String(), "in docs/openapi.yaml but not served: GET /metrics")
	})
}

// TestOpenAPIDocumentConventions checks what the answer validation relies
// on: every answer declares its body and X-Request-ID, so none is accepted
// unchecked, and access rules are declared as §5 says.
func TestOpenAPIDocumentConventions(t *testing.T) {
	doc := loadOpenAPI(t)
	open := []string{"/healthz", "/readyz", "/metrics", "/api/v1/content/health", "/api/v1/content/callback/{task_id}",
		"/ui", "/ui/{filepath}"}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			require.NotEmpty(t, op.OperationID, name)
			for status, ref := range op.Responses.Map() {
				require.NotEqual(t, "default", status, "%s: a default answer would let undocumented statuses pass", name)
				resp := ref.Value
				require.Contains(t, resp.Headers, "X-Request-ID", "%s %s", name, status)
				if method == http.MethodHead || status == "304" {
					require.Empty(t, resp.Content, "%s %s has no body", name, status)
					continue
				}
				require.NotEmpty(t, resp.Content, "%s %s declares no body", name, status)
				for ct, media := range resp.Content {
					require.NotNil(t, media.Schema, "%s %s %s has no schema", name, status, ct)
				}
			}
			security := doc.Security
			if op.Security != nil {
				security = *op.Security
			}
			if slices.Contains(open, path) {
				require.Empty(t, security, "%s needs no bearer token", name)
				continue
			}
			require.True(t, slices.ContainsFunc(security, func(r openapi3.SecurityRequirement) bool {
				_, ok := r["bearer"]
				return ok
			}), "%s accepts the bearer token", name)
			require.Contains(t, op.Responses.Map(), "401", "%s can refuse a request without a token", name)
		}
	}
	for _, name := range []string{"Task", "Attempt", "Progress", "TaskError", "TaskPage", "Content", "PoolEntry",
		"Delivery", "TaskEvent", "ErrorEnvelope", "CallbackPayload", "CallbackAnswer", "CreateTaskRequest"} {
		require.Contains(t, doc.Components.Schemas, name)
	}
}

// specValidator checks requests and answers against the document, and
// remembers which operations real answers covered.
type specValidator struct {
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options

	mu       sync.Mutex
	answered map[string][]int // operationId → statuses validated
}

func newSpecValidator(t *testing.T, doc *openapi3.T) *specValidator {
	t.Helper()
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return &specValidator{
		doc: doc, router: router, answered: map[string][]int{},
		opts: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
			AuthenticationFunc:    specAuthenticate,
			// The failing value and rule say enough; the whole schema is noise.
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
		},
	}
}

// specAuthenticate accepts what the service accepts with API_TOKENS=spec-token.
func specAuthenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	req := in.RequestValidationInput.Request
	switch in.SecuritySchemeName {
	case "bearer":
		if req.Header.Get("Authorization") == "Bearer "+specToken {
			return nil
		}
	case "accessToken":
		if req.URL.Query().Get("access_token") == specToken {
			return nil
		}
	}
	return in.NewError(nil)
}

// fallbackRoute stands for a request the document has no operation for: its
// only answer is the named component response.
func (v *specValidator) fallbackRoute(req *http.Request, path string, status int, response string) *routers.Route {
	op := openapi3.NewOperation()
	op.Responses = openapi3.NewResponses(openapi3.WithStatus(status, v.doc.Components.Responses[response]))
	return &routers.Route{Spec: v.doc, Path: path, Method: req.Method, Operation: op}
}

// documentedMethods lists the methods the document has for req's path.
func (v *specValidator) documentedMethods(req *http.Request) (path string, methods []string) {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		other := req.Clone(req.Context())
		other.Method = m
		if route, _, err := v.router.FindRoute(other); err == nil {
			path, methods = route.Path, append(methods, m)
		}
	}
	return path, methods
}

// check validates one exchange. The request is validated only when the
// service accepted it (2xx): the document must allow what the service
// accepts; refused requests are refused on purpose.
func (v *specValidator) check(t *testing.T, req *http.Request, reqBody []byte, status int, header http.Header, body []byte) {
	t.Helper()
	exchange := fmt.Sprintf("%s %s → %d %s", req.Method, req.URL.RequestURI(), status, body)
	route, params, err := v.router.FindRoute(req)
	switch {
	case errors.Is(err, routers.ErrMethodNotAllowed):
		path, methods := v.documentedMethods(req)
		allow := strings.Split(header.Get("Allow"), ", ")
		slices.Sort(allow)
		slices.Sort(methods)
		require.Equal(t, methods, allow, "%s: Allow lists the methods documented for %s", exchange, path)
		route = v.fallbackRoute(req, path, http.StatusMethodNotAllowed, "MethodNotAllowed")
	case errors.Is(err, routers.ErrPathNotFound):
		route = v.fallbackRoute(req, req.URL.Path, http.StatusNotFound, "NotFound")
	default:
		require.NoError(t, err, exchange)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: v.opts}
	if status < 300 {
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
		require.NoError(t, openapi3filter.ValidateRequest(req.Context(), in),
			"%s: docs/openapi.yaml refuses a request the service accepted", exchange)
	}
	err = openapi3filter.ValidateResponse(req.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)), Options: v.opts,
	})
	require.NoError(t, err, "%s: the answer does not fit docs/openapi.yaml", exchange)

	if id := route.Operation.OperationID; id != "" {
		v.mu.Lock()
		v.answered[id] = append(v.answered[id], status)
		v.mu.Unlock()
	}
}

// requireEveryOperationAnswered asserts that each documented operation was
// validated against at least one real answer that was not an error.
func (v *specValidator) requireEveryOperationAnswered(t *testing.T) {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range documentedRoutes(v.doc) {
		op := v.doc.Paths.Value(r.path).GetOperation(r.method)
		ok := slices.ContainsFunc(v.answered[op.OperationID], func(s int) bool { return s < 400 })
		require.True(t, ok, "%s (%s) was never validated against an answer that was not an error; statuses seen: %v",
			r, op.OperationID, v.answered[op.OperationID])
	}
}

// specClient sends requests through a handler and validates every answer.
type specClient struct {
	t       *testing.T
	v       *specValidator
	handler http.Handler
}

// send sends one request with the bearer token; header entries override it
// (an empty Authorization value sends none).
func (c *specClient) send(method, target string, body []byte, header http.Header) *httptest.ResponseRecorder {
	c.t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+specToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range header {
		req.Header.Del(k)
		for _, v := range vs {
			if v != "" {
				req.Header.Add(k, v)
			}
		}
	}
	validation := req.Clone(context.Background())
	rec := httptest.NewRecorder()
	c.handler.ServeHTTP(rec, req)
	c.v.check(c.t, validation, body, rec.Code, rec.Header(), rec.Body.Bytes())
	return rec
}

// expect sends one request, requires the status and returns the JSON answer.
func (c *specClient) expect(status int, method, target string, body []byte, header http.Header) map[string]any {
	c.t.Helper()
	rec := c.send(method, target, body, header)
	require.Equal(c.t, status, rec.Code, "%s %s: %s", method, target, rec.Body.String())
	var answer map[string]any
	require.NoError(c.t, json.Unmarshal(rec.Body.Bytes(), &answer), rec.Body.String())
	return answer
}

// requireErrorCode asserts an error answer's code.
func requireErrorCode(t *testing.T, answer map[string]any, code string) {
	t.Helper()
	e, _ := answer["error"].(map[string]any)
	require.Equal(t, code, e["code"], "%v", answer)
}

// TestOpenAPIAnswersFitTheDocument drives a realistic flow through the real
// router, use cases and store, and validates every answer (status, declared
// headers, body) and every accepted request against docs/openapi.yaml.
func TestOpenAPIAnswersFitTheDocument(t *testing.T) {
	// Text bodies are validated as strings.
	for _, ct := range []string{"text/event-stream", "text/html", "text/javascript", "text/css"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
		t.Cleanup(func() { openapi3filter.UnregisterBodyDecoder(ct) })
	}

	doc := loadOpenAPI(t)
	v := newSpecValidator(t, doc)
	store := sqlstoretest.NewSQLite(t)
	h := newHarness(t, store, func(o *harnessOptions) {
		o.apiTokens = []string{specToken}
		o.api.WebhookMaxBodyBytes = 64 << 10
		o.verifier = signature.Config{Secrets: []string{specSecret}, Tokens: true, Tolerance: 5 * time.Minute}
	})
	c := &specClient{t: t, v: v, handler: h.router}
	full := fullRouter(h)
	noBearer := http.Header{"Authorization": {""}}
	const tasks = "/api/v1/content/tasks"

	t.Run("health", func(t *testing.T) {
		c := &specClient{t: t, v: v, handler: h.router}
		c.expect(http.StatusOK, http.MethodGet, "/healthz", nil, noBearer)
		c.expect(http.StatusOK, http.MethodGet, "/readyz", nil, noBearer)
		c.expect(http.StatusOK, http.MethodGet, "/api/v1/content/health", nil, noBearer)
	})

	// Two tasks handed to content-creator, one at a time (the dispatcher
	// submits every due task): the first created idempotently and completed
	// by the real sender's body, the second failed, cancelled and retried.
	const firstBody = `{"account_id":7,"topic":"边缘计算入门","keywords":"边缘, 计算","requirements":"写一篇面向开发者的科普文章","priority":8}`
	key := http.Header{"Idempotency-Key": {"spec-order-1"}}
	firstID := c.expect(http.StatusAccepted, http.MethodPost, tasks, []byte(firstBody), key)["task_id"].(string)
	s := h.dispatch(firstID)
	second := h.dispatch(c.expect(http.StatusAccepted, http.MethodPost, tasks,
		[]byte(`{"account_id":8,"topic":"需要审核","auto_approve":false,"max_retries":1}`), nil)["task_id"].(string))

	t.Run("create", func(t *testing.T) {
		c := &specClient{t: t, v: v, handler: h.router}
		replay := c.expect(http.StatusOK, http.MethodPost, tasks, []byte(firstBody), key)
		require.Equal(t, firstID, replay["task_id"])
		c.expect(http.StatusOK, http.MethodPost, "/api/v1/content/generate/async", []byte(firstBody), key)
		requireErrorCode(t, c.expect(http.StatusConflict, http.MethodPost, tasks, []byte(`{"account_id":7,"topic":"other"}`), key),
			"idempotency_conflict")
		c.expect(http.StatusAccepted, http.MethodPost, "/api/v1/content/generate/async",
			[]byte(`{"account_id":9,"topic":"t","keywords":["a","b"],"category":"tech","tone":"casual","auto_approve":false,"max_retries":0,"unknown":1}`), nil)
		c.expect(http.StatusAccepted, http.MethodPost, tasks,
			[]byte(`{"account_id":9,"topic":"t","keywords":null,"priority":null,"auto_approve":null,"max_retries":null}`), nil)

		answer := c.expect(http.StatusUnprocessableEntity, http.MethodPost, tasks, []byte(`{"topic":"t"}`), nil)
		require.Equal(t, "account_id", answer["error"].(map[string]any)["field"])
		c.expect(http.StatusUnprocessableEntity, http.MethodPost, tasks, []byte(`{"account_id":1,"topic":"t","priority":11}`), nil)
		requireErrorCode(t, c.expect(http.StatusBadRequest, http.MethodPost, tasks, []byte(`{"account_id":`), nil), "invalid_json")
		requireErrorCode(t, c.expect(http.StatusRequestEntityTooLarge, http.MethodPost, tasks,
			[]byte(`{"account_id":1,"topic":"t","requirements":"`+strings.Repeat("r", 1<<20)+`"}`), nil), "body_too_large")
		requireErrorCode(t, c.expect(http.StatusUnauthorized, http.MethodPost, tasks, []byte(firstBody), noBearer), "unauthorized")
	})

	t.Run("callback", func(t *testing.T) {
		c := &specClient{t: t, v: v, handler: h.router}
		answer := c.expect(http.StatusOK, http.MethodPost, s.callback, progressBody(s.ref, 30), nil)
		require.Equal(t, "processing", answer["status"])
		answer = c.expect(http.StatusOK, http.MethodPost, s.callback, progressBody(s.ref, 30), nil)
		require.Equal(t, true, answer["duplicate"])
		answer = c.expect(http.StatusOK, http.MethodPost, s.callback, progressBody(s.ref, 10), nil)
		require.Equal(t, true, answer["ignored"])

		// Standard Webhooks signature instead of the token.
		body := progressBody(s.ref, 40)
		now := h.clock.Now().Unix()
		sig, err := signature.SignStandard(specSecret, "msg_spec_1", now, body)
		require.NoError(t, err)
		noToken := "/api/v1/content/callback/" + s.id
		c.expect(http.StatusOK, http.MethodPost, noToken, body, http.Header{
			"webhook-id": {"msg_spec_1"}, "webhook-timestamp": {strconv.FormatInt(now, 10)}, "webhook-signature": {sig},
		})
		// Scheme a, with a timestamp.
		body = progressBody(s.ref, 45)
		c.expect(http.StatusOK, http.MethodPost, noToken, body, http.Header{
			"X-Webhook-Signature": {"sha256=" + signature.SignRaw(specSecret, body, now)},
			"X-Webhook-Timestamp": {strconv.FormatInt(now, 10)},
		})

		refused := []struct {
			name, target string
			body         []byte
			status       int
			code         string
		}{
			{"not JSON", s.callback, []byte(`event=completed`), http.StatusBadRequest, "invalid_json"},
			{"event missing", s.callback, []byte(`{"taskId":"` + s.ref + `"}`), http.StatusBadRequest, "missing_event"},
			{"event unknown", s.callback, []byte(`{"event":"done"}`), http.StatusBadRequest, "unknown_event"},
			{"token invalid", noToken + "?token=wrong", progressBody(s.ref, 50), http.StatusUnauthorized, "credential_invalid"},
			{"credential missing", noToken, progressBody(s.ref, 50), http.StatusForbidden, "credential_missing"},
			{"unknown task", "/api/v1/content/callback/task-unknown?token=" + s.token, progressBody(s.ref, 50), http.StatusNotFound, "not_found"},
			{"too large", s.callback, []byte(`{"event":"progress","x":"` + strings.Repeat("a", 70<<10) + `"}`),
				http.StatusRequestEntityTooLarge, "body_too_large"},
		}
		for _, r := range refused {
			t.Run(r.name, func(t *testing.T) {
				c := &specClient{t: t, v: v, handler: h.router}
				requireErrorCode(t, c.expect(r.status, http.MethodPost, r.target, r.body, noBearer), r.code)
			})
		}

		raw, err := os.ReadFile("testdata/callback-completed.body.json")
		require.NoError(t, err)
		completed := bytes.Replace(raw, []byte(`"taskId":"test-api-001"`), []byte(`"taskId":"`+s.ref+`"`), 1)
		answer = c.expect(http.StatusOK, http.MethodPost, s.callback, completed, http.Header{"User-Agent": {"content-creator/1.0"}})
		require.Equal(t, "completed", answer["status"])
		raw, err = os.ReadFile("testdata/callback-failed.body.json")
		require.NoError(t, err)
		failed := bytes.Replace(raw, []byte(`"taskId":"test-fail-api-001"`), []byte(`"taskId":"`+s.ref+`"`), 1)
		require.Equal(t, true, c.expect(http.StatusOK, http.MethodPost, s.callback, failed, nil)["ignored"])
	})

	var contentID string
	t.Run("results", func(t *testing.T) {
		c := &specClient{t: t, v: v, handler: h.router}
		task := c.expect(http.StatusOK, http.MethodGet, tasks+"/"+firstID, nil, nil)
		require.Equal(t, "completed", task["status"])
		contentID = task["content_id"].(string)
		content := c.expect(http.StatusOK, http.MethodGet, "/api/v1/contents/"+contentID, nil, nil)
		require.NotNil(t, content["metrics"], "the real sender's metrics are kept")
		pool := c.expect(http.StatusOK, http.MethodGet, "/api/v1/publish-pool?status=pending&limit=10", nil, nil)
		require.Len(t, pool["items"], 1)
		deliveries := c.expect(http.StatusOK, http.MethodGet, tasks+"/"+firstID+"/deliveries", nil, nil)
		require.NotEmpty(t, deliveries["items"])

		c.expect(http.StatusNotFound, http.MethodGet, "/api/v1/contents/content-unknown", nil, nil)
		c.expect(http.StatusNotFound, http.MethodGet, "/api/v1/contents/bad%20id!", nil, nil)
		c.expect(http.StatusUnprocessableEntity, http.MethodGet, "/api/v1/publish-pool?limit=0", nil, nil)
		c.expect(http.StatusUnprocessableEntity, http.MethodGet, "/api/v1/publish-pool?status=%%%garbage", nil, nil)
		c.expect(http.StatusUnauthorized, http.MethodGet, "/api/v1/publish-pool", nil, noBearer)
	})

	t.Run("review and pool", func(t *testing.T) {
		c := &specClient{t: t, v: v, handler: h.router}
		awaiting := func(topic string) string {
			t.Helper()
			id := c.expect(http.StatusAccepted, http.MethodPost, tasks,
				[]byte(`{"account_id":11,"topic":"`+topic+`","auto_approve":false,"priority":6}`), nil)["task_id"].(string)
			s := h.submitted(id) // other tasks are due too: find this one's submission
			c.expect(http.StatusOK, http.MethodPost, s.callback, completedBody(s.ref, "# "+topic+"\n\n正文。"), nil)
			return c.expect(http.StatusOK, http.MethodGet, tasks+"/"+id, nil, nil)["content_id"].(string)
		}
		toApprove, toReject := awaiting("待审核文章"), awaiting("将被拒绝")
		const contents = "/api/v1/contents"
		queue := c.expect(http.StatusOK, http.MethodGet, contents+"?review_status=pending_review&account_id=11&limit=1", nil, nil)
		require.Len(t, queue["items"], 1)
		c.expect(http.StatusOK, http.MethodGet, contents+"?cursor="+url.QueryEscape(queue["next_cursor"].(string)), nil, nil)
		for _, query := range []string{"?review_status=maybe", "?limit=0", "?limit=201", "?account_id=-1", "?task_id=bad%20id", "?cursor=x"} {
			requireErrorCode(t, c.expect(http.StatusUnprocessableEntity, http.MethodGet, contents+query, nil, nil), "validation_error")
		}

		approved := c.expect(http.StatusOK, http.MethodPost, contents+"/"+toApprove+"/approve",
			[]byte(`{"reviewer":"王编辑","note":"可以","priority":9}`), nil)
		require.Equal(t, "approved", approved["review_status"])
		require.NotNil(t, approved["pool_entry_id"])
		again := c.expect(http.StatusOK, http.MethodPost, contents+"/"+toApprove+"/approve", nil, nil)
		require.Equal(t, approved["pool_entry_id"], again["pool_entry_id"], "a repeated approval is a no-op")
		requireErrorCode(t, c.expect(http.StatusConflict, http.MethodPost, contents+"/"+toApprove+"/reject",
			[]byte(`{"reason":"晚了"}`), nil), "review_conflict")
		for _, body := range []string{`{}`, `{"reason":""}`, `{"reason":"` + strings.Repeat("长", 1001) + `"}`, `{"reason":5}`} {
			answer := c.expect(http.StatusUnprocessableEntity, http.MethodPost, contents+"/"+toReject+"/reject", []byte(body), nil)
			require.Equal(t, "reason", answer["error"].(map[string]any)["field"])
		}
		rejected := c.expect(http.StatusOK, http.MethodPost, contents+"/"+toReject+"/reject", []byte(`{"reason":"事实有误"}`), nil)
		require.Equal(t, "事实有误", rejected["review_note"])
		requireErrorCode(t, c.expect(http.StatusConflict, http.MethodPost, contents+"/"+toReject+"/approve", nil, nil), "review_conflict")
		c.expect(http.StatusUnprocessableEntity, http.MethodPost, contents+"/"+toReject+"/approve", []byte(`{"scheduled_at":"tomorrow"}`), nil)
		c.expect(http.StatusNotFound, http.MethodPost, contents+"/content-unknown/approve", nil, nil)
		c.expect(http.StatusBadRequest, http.MethodPost, contents+"/"+toReject+"/reject", []byte(`{"reason":`), nil)
		c.expect(http.StatusUnauthorized, http.MethodPost, contents+"/"+toReject+"/reject", nil, noBearer)

		const pool = "/api/v1/publish-pool"
		listed := c.expect(http.StatusOK, http.MethodGet, pool+"?account_id=11", nil, nil)
		require.Equal(t, 1.0, listed["counts"].(map[string]any)["pending"])
		for _, body := range []string{`{"limit":0}`, `{"limit":51}`, `{"lease":"9s"}`, `{"lease":"2h"}`, `{"lease":"soon"}`, `{"account_id":0}`} {
			requireErrorCode(t, c.expect(http.StatusUnprocessableEntity, http.MethodPost, pool+"/claim", []byte(body), nil), "validation_error")
		}
		claimed := c.expect(http.StatusOK, http.MethodPost, pool+"/claim", []byte(`{"limit":5,"lease":"1m","account_id":11}`), nil)
		items := claimed["items"].([]any)
		require.Len(t, items, 1)
		entry := items[0].(map[string]any)
		entryID, token := entry["id"].(string), entry["claim_token"].(string)
		require.Equal(t, approved["pool_entry_id"], entryID)
		require.Empty(t, c.expect(http.StatusOK, http.MethodPost, pool+"/claim", []byte(`{"account_id":11}`), nil)["items"], "nothing else is due")
		c.expect(http.StatusOK, http.MethodGet, pool+"/"+entryID, nil, nil)
		c.expect(http.StatusNotFound, http.MethodGet, pool+"/pool-unknown", nil, nil)

		requireErrorCode(t, c.expect(http.StatusConflict, http.MethodPost, pool+"/"+entryID+"/published",
			[]byte(`{"claim_token":"wrong.`+entryID+`"}`), nil), "claim_token_invalid")
		answer := c.expect(http.StatusUnprocessableEntity, http.MethodPost, pool+"/"+entryID+"/failed", []byte(`{"claim_token":"`+token+`"}`), nil)
		require.Equal(t, "error", answer["error"].(map[string]any)["field"])
		failed := c.expect(http.StatusOK, http.MethodPost, pool+"/"+entryID+"/failed",
			[]byte(`{"claim_token":"`+token+`","error":"平台超时"}`), nil)
		require.Equal(t, "pending", failed["status"])
		require.Equal(t, 1.0, failed["retry_count"])
		requireErrorCode(t, c.expect(http.StatusConflict, http.MethodPost, pool+"/"+entryID+"/published",
			[]byte(`{"claim_token":"`+token+`"}`), nil), "pool_conflict")

		h.clock.Advance(2 * time.Minute) // past the backoff
		token = c.expect(http.StatusOK, http.MethodPost, pool+"/claim", []byte(`{"lease":30,"account_id":11}`), nil)["items"].([]any)[0].(map[string]any)["claim_token"].(string)
		h.clock.Advance(31 * time.Second)
		requireErrorCode(t, c.expect(http.StatusConflict, http.MethodPost, pool+"/"+entryID+"/published",
			[]byte(`{"claim_token":"`+token+`"}`), nil), "lease_expired")
		require.Empty(t, c.expect(http.StatusOK, http.MethodPost, pool+"/claim", []byte(`{"lease":"10m","account_id":11}`), nil)["items"],
			"still claimed until the lease sweep")
		released, err := h.store.ReleaseExpiredLeases(t.Context(), h.clock.Now())
		require.NoError(t, err)
		require.Equal(t, 1, released)
		claimedAgain := c.expect(http.StatusOK, http.MethodPost, pool+"/claim", []byte(`{"account_id":11}`), nil)["items"].([]any)
		require.Len(t, claimedAgain, 1, "the expired lease returned the entry to the pool")
		token = claimedAgain[0].(map[string]any)["claim_token"].(string)
		published := c.expect(http.StatusOK, http.MethodPost, pool+"/"+entryID+"/published",
			[]byte(`{"claim_token":"`+token+`","url":"https://mp.example/s/1","platform_id":"wx-1"}`), nil)
		require.Equal(t, "published", published["status"])
		c.expect(http.StatusOK, http.MethodGet, pool+"?status=published", nil, nil)
		c.expect(http.StatusUnprocessableEntity, http.MethodPost, pool+"/"+entryID+"/published", []byte(`{}`), nil)
		c.expect(http.StatusNotFound, http.MethodPost, pool+"/pool-unknown/failed", []byte(`{"claim_token":"a.b","error":"x"}`), nil)
		c.expect(http.StatusUnauthorized, http.MethodPost, pool+"/claim", nil, noBearer)
	})

	t.Run("failure, cancel and retry", func(t *testing.T) {
		c := &specClient{t: t, v: v, handler: h.router}
		requireErrorCode(t, c.expect(http.StatusUnprocessableEntity, http.MethodPost, second.callback,
			[]byte(`{"event":"completed","taskId":"`+second.ref+`","result":{"content":" "}}`), nil), "invalid_result")
		task := c.expect(http.StatusOK, http.MethodGet, tasks+"/"+second.id, nil, nil)
		require.Equal(t, "pending", task["status"])
		require.NotNil(t, task["last_error"])
		require.NotNil(t, task["next_attempt_at"])

		c.expect(http.StatusOK, http.MethodPost, tasks+"/"+second.id+"/cancel", nil, nil)
		requireErrorCode(t, c.expect(http.StatusConflict, http.MethodPost, tasks+"/"+second.id+"/cancel", nil, nil), "conflict")
		c.expect(http.StatusOK, http.MethodPost, tasks+"/"+second.id+"/retry", nil, nil)
		requireErrorCode(t, c.expect(http.StatusConflict, http.MethodPost, tasks+"/"+second.id+"/retry", nil, nil), "conflict")
		for _, op := range []string{"", "/cancel", "/retry", "/deliveries"} {
			method := http.MethodPost
			if op == "" || op == "/deliveries" {
				method = http.MethodGet
			}
			requireErrorCode(t, c.expect(http.StatusNotFound, method, tasks+"/task-unknown"+op, nil, nil), "not_found")
			requireErrorCode(t, c.expect(http.StatusNotFound, method, tasks+"/bad%20id!"+op, nil, nil), "not_found")
			requireErrorCode(t, c.expect(http.StatusUnauthorized, method, tasks+"/"+second.id+op, nil, noBearer), "unauthorized")
		}
	})

	t.Run("list", func(t *testing.T) {
		c := &specClient{t: t, v: v, handler: h.router}
		page := c.expect(http.StatusOK, http.MethodGet, tasks+"?limit=1", nil, nil)
		cursor, ok := page["next_cursor"].(string)
		require.True(t, ok, "more than one task: a next page")
		c.expect(http.StatusOK, http.MethodGet, tasks+"?limit=200&cursor="+url.QueryEscape(cursor), nil, nil)
		last := c.expect(http.StatusOK, http.MethodGet, tasks+"?account_id=8&status=pending", nil, nil)
		require.Nil(t, last["next_cursor"])
		for _, query := range []string{"?account_id=0", "?status=done", "?limit=201", "?limit=x",
			"?cursor=%%%garbage", "?cursor=garbage", "?status=%zz"} {
			requireErrorCode(t, c.expect(http.StatusUnprocessableEntity, http.MethodGet, tasks+query, nil, nil), "validation_error")
		}
	})

	t.Run("schedules", func(t *testing.T) {
		c := &specClient{t: t, v: v, handler: h.router}
		const schedules = "/api/v1/schedules"
		created := c.expect(http.StatusCreated, http.MethodPost, schedules, []byte(`{"name":"每日早报","cron":"0 8 * * *",
			"timezone":"Asia/Shanghai","account_ids":[1,2],"count_per_account":3,
			"topics":[{"topic":"AI 周报","keywords":"AI,大模型"},{"topic":"云原生","keywords":["k8s"],"tone":"专业"}]}`), nil)
		id := created["schedule_id"].(string)
		require.NotNil(t, created["next_run_at"])
		require.Nil(t, created["last_run"])

		run := c.expect(http.StatusCreated, http.MethodPost, schedules+"/"+id+"/trigger", nil, nil)
		require.Equal(t, "manual", run["trigger"])
		require.EqualValues(t, 6, run["total_submitted"])
		require.Equal(t, map[string]any{"1": map[string]any{"submitted": 3.0}, "2": map[string]any{"submitted": 3.0}}, run["account_stats"])
		page := c.expect(http.StatusOK, http.MethodGet, tasks+"?schedule_id="+id, nil, nil)
		require.Len(t, page["items"], 6)
		task := page["items"].([]any)[0].(map[string]any)
		require.Equal(t, id, task["schedule_id"])
		require.Equal(t, run["run_id"], task["run_id"])

		got := c.expect(http.StatusOK, http.MethodGet, schedules+"/"+id, nil, nil)
		require.Equal(t, run["run_id"], got["last_run"].(map[string]any)["run_id"])
		require.Len(t, c.expect(http.StatusOK, http.MethodGet, schedules, nil, nil)["items"], 1)
		require.Len(t, c.expect(http.StatusOK, http.MethodGet, schedules+"/"+id+"/runs?limit=10", nil, nil)["items"], 1)

		paused := c.expect(http.StatusOK, http.MethodPatch, schedules+"/"+id, []byte(`{"enabled":false}`), nil)
		require.Equal(t, false, paused["enabled"])
		require.Nil(t, paused["next_run_at"])
		resumed := c.expect(http.StatusOK, http.MethodPatch, schedules+"/"+id, []byte(`{"enabled":true,"misfire":"skip"}`), nil)
		require.NotNil(t, resumed["next_run_at"])

		for _, bad := range []struct{ body, field string }{
			{`{"name":"n","cron":"0 25 * * *","account_ids":[1],"count_per_account":1,"topics":[{"topic":"t"}]}`, "cron"},
			{`{"name":"n","cron":"0 0 30 2 *","account_ids":[1],"count_per_account":1,"topics":[{"topic":"t"}]}`, "cron"},
			{`{"name":"n","cron":"0 8 * * *","timezone":"Asia/Atlantis","account_ids":[1],"count_per_account":1,"topics":[{"topic":"t"}]}`, "timezone"},
			{`{"name":"n","cron":"0 8 * * *","account_ids":[],"count_per_account":1,"topics":[{"topic":"t"}]}`, "account_ids"},
			{`{"name":"n","cron":"0 8 * * *","account_ids":[1],"count_per_account":1,"topics":[]}`, "topics"},
			{`{"name":"n","cron":"0 8 * * *","account_ids":[1],"count_per_account":51,"topics":[{"topic":"t"}]}`, "count_per_account"},
			{`{"name":"n","cron":"0 8 * * *","account_ids":[1],"count_per_account":1,"topics":[{"topic":"t"}],"misfire":"later"}`, "misfire"},
		} {
			answer := c.expect(http.StatusUnprocessableEntity, http.MethodPost, schedules, []byte(bad.body), nil)
			require.Equal(t, bad.field, answer["error"].(map[string]any)["field"], bad.body)
		}
		answer := c.expect(http.StatusUnprocessableEntity, http.MethodPatch, schedules+"/"+id, []byte(`{"count_per_account":0}`), nil)
		require.Equal(t, "count_per_account", answer["error"].(map[string]any)["field"])
		c.expect(http.StatusUnprocessableEntity, http.MethodGet, schedules+"/"+id+"/runs?limit=0", nil, nil)
		requireErrorCode(t, c.expect(http.StatusBadRequest, http.MethodPost, schedules, []byte(`{"name":`), nil), "invalid_json")
		requireErrorCode(t, c.expect(http.StatusUnauthorized, http.MethodGet, schedules, nil, noBearer), "unauthorized")

		deleted := c.expect(http.StatusOK, http.MethodDelete, schedules+"/"+id, nil, nil)
		require.Equal(t, true, deleted["deleted"])
		for _, r := range []struct{ method, suffix string }{
			{http.MethodGet, ""}, {http.MethodDelete, ""}, {http.MethodPost, "/trigger"}, {http.MethodGet, "/runs"},
		} {
			requireErrorCode(t, c.expect(http.StatusNotFound, r.method, schedules+"/"+id+r.suffix, nil, nil), "not_found")
		}
		requireErrorCode(t, c.expect(http.StatusNotFound, http.MethodPatch, schedules+"/"+id, []byte(`{"name":"x"}`), nil), "not_found")
		require.Len(t, c.expect(http.StatusOK, http.MethodGet, tasks+"?schedule_id="+id, nil, nil)["items"], 6, "its tasks stay")
	})

	t.Run("wrong method and unknown route", func(t *testing.T) {
		c := &specClient{t: t, v: v, handler: h.router}
		for _, r := range []struct{ method, target string }{
			{http.MethodDelete, tasks},
			{http.MethodPut, tasks + "/" + firstID},
			{http.MethodGet, tasks + "/" + firstID + "/cancel"},
			{http.MethodGet, "/api/v1/content/generate/async"},
			{http.MethodGet, "/api/v1/content/callback/" + firstID},
			{http.MethodPost, "/api/v1/publish-pool"},
			{http.MethodPost, "/healthz"},
		} {
			requireErrorCode(t, c.expect(http.StatusMethodNotAllowed, r.method, r.target, nil, nil), "method_not_allowed")
		}
		requireErrorCode(t, c.expect(http.StatusNotFound, http.MethodGet, "/api/v1/nothing", nil, nil), "not_found")
	})

	t.Run("dashboard", func(t *testing.T) {
		c := &specClient{t: t, v: v, handler: full}
		require.Equal(t, http.StatusMovedPermanently, c.send(http.MethodGet, "/ui", nil, noBearer).Code)
		var etag string
		for _, file := range []string{"index.html", "app.js", "app.css"} {
			rec := c.send(http.MethodGet, "/ui/"+file, nil, noBearer)
			require.Equal(t, http.StatusOK, rec.Code, file)
			etag = rec.Header().Get("ETag")
		}
		require.Equal(t, http.StatusNotModified, c.send(http.MethodGet, "/ui/app.css", nil, http.Header{
			"Authorization": {""}, "If-None-Match": {etag},
		}).Code)
		require.Equal(t, http.StatusOK, c.send(http.MethodHead, "/ui/index.html", nil, noBearer).Code)
		requireErrorCode(t, c.expect(http.StatusNotFound, http.MethodGet, "/ui/nothing.txt", nil, noBearer), "not_found")

		preview := c.expect(http.StatusOK, http.MethodGet, "/api/v1/contents/"+contentID+"/preview", nil, nil)
		require.Contains(t, preview["html"], "<h1>边缘计算入门</h1>")
		requireErrorCode(t, c.expect(http.StatusNotFound, http.MethodGet, "/api/v1/contents/content-unknown/preview", nil, nil), "not_found")
		requireErrorCode(t, c.expect(http.StatusUnauthorized, http.MethodGet, "/api/v1/contents/"+contentID+"/preview", nil, noBearer), "unauthorized")
	})

	t.Run("event streams", func(t *testing.T) {
		checkEventStreams(t, v, h, full, second.id)
	})

	t.Run("accounts and batches", func(t *testing.T) {
		c := &specClient{t: t, v: v, handler: h.router}
		c.expect(http.StatusOK, http.MethodPut, "/api/v1/accounts/7/limits",
			[]byte(`{"max_concurrency":1,"max_tasks_per_hour":60,"weight":2}`), nil)
		c.expect(http.StatusOK, http.MethodGet, "/api/v1/accounts/7", nil, nil)
		c.expect(http.StatusOK, http.MethodGet, "/api/v1/accounts", nil, nil)
		answer := c.expect(http.StatusUnprocessableEntity, http.MethodPut, "/api/v1/accounts/7/limits", []byte(`{"weight":0}`), nil)
		require.Equal(t, "weight", answer["error"].(map[string]any)["field"])
		c.expect(http.StatusUnprocessableEntity, http.MethodGet, "/api/v1/accounts/seven", nil, nil)

		bkey := http.Header{"Idempotency-Key": {"spec-batch-1"}}
		batch := []byte(`{"tasks":[{"account_id":7,"topic":"批量一"},{"account_id":8,"topic":"批量二","keywords":"a,b"}]}`)
		created := c.expect(http.StatusAccepted, http.MethodPost, tasks+"/batch", batch, bkey)
		require.Len(t, created["items"], 2)
		c.expect(http.StatusOK, http.MethodPost, tasks+"/batch", batch, bkey)
		c.expect(http.StatusConflict, http.MethodPost, tasks+"/batch", []byte(`{"tasks":[{"account_id":7,"topic":"x"}]}`), bkey)
		bad := c.expect(http.StatusUnprocessableEntity, http.MethodPost, tasks+"/batch",
			[]byte(`{"tasks":[{"account_id":7,"topic":"ok"},{"account_id":7}]}`), nil)
		require.Equal(t, "topic", bad["error"].(map[string]any)["items"].([]any)[0].(map[string]any)["field"])
		c.expect(http.StatusUnprocessableEntity, http.MethodPost, tasks+"/batch", []byte(`{"tasks":[]}`), nil)
	})

	t.Run("database unavailable", func(t *testing.T) {
		c := &specClient{t: t, v: v, handler: h.router}
		require.NoError(t, store.Close())
		for _, r := range []struct {
			method, target string
			body           []byte
			header         http.Header
		}{
			{http.MethodGet, "/readyz", nil, noBearer},
			{http.MethodGet, tasks + "/" + firstID, nil, nil},
			{http.MethodGet, tasks, nil, nil},
			{http.MethodPost, tasks, []byte(firstBody), nil},
			{http.MethodPost, second.callback, progressBody(second.ref, 10), noBearer},
		} {
			rec := c.send(r.method, r.target, r.body, r.header)
			require.Equal(t, http.StatusServiceUnavailable, rec.Code, "%s %s: %s", r.method, r.target, rec.Body.String())
		}
	})

	t.Run("webhook endpoints", func(t *testing.T) {
		store := sqlstoretest.NewSQLite(t)
		clock := &fakeClock{now: time.Now().UTC()}
		checkWebhookRoutes(t, &specClient{t: t, v: v, handler: webhookRouter(t, store, clock)}, store, clock)
	})

	t.Run("service routes", func(t *testing.T) {
		c := &specClient{t: t, v: v, handler: serviceEngine(t)}
		rec := c.send(http.MethodGet, "/metrics", nil, noBearer)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Contains(t, rec.Body.String(), "go_goroutines")
		c.expect(http.StatusOK, http.MethodGet, "/readyz", nil, noBearer)
	})

	v.requireEveryOperationAnswered(t)
}

// fullRouter is the router with the optional routes bootstrap adds (event
// streams, dashboard) over the harness's use cases. It serves no callbacks:
// the harness's router does.
func fullRouter(h *harness) *gin.Engine {
	dashboard := func(r gin.IRouter, api gin.IRouter) { webui.Register(r, api, h.tasks) }
	return httpapi.NewRouter(httpapi.Config{APITokens: []string{specToken}}, httpapi.Deps{
		Tasks: h.tasks, Health: h.store, Clock: h.clock, Log: zap.NewNop(), Events: h.events,
		Reviews: h.reviews, Pool: h.pool, TaskCounts: h.counts,
		Extra: []func(r gin.IRouter, api gin.IRouter){dashboard, httpapi.ScheduleRoutes(h.schedules)},
	})
}

// checkEventStreams validates the SSE routes: streams over a real
// connection (a stream only shows what it is once bytes are flushed), their
// refusals through the recorder. The task's change comes through h.router.
func checkEventStreams(t *testing.T, v *specValidator, h *harness, router http.Handler, taskID string) {
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)

	taskEvents := "/api/v1/content/tasks/" + taskID + "/events"
	t.Run("a task's stream", func(t *testing.T) {
		st := openSpecStream(t, v, srv.URL, taskEvents, http.Header{"Authorization": {"Bearer " + specToken}})
		st.next(t) // ": connected"
		c := &specClient{t: t, v: v, handler: h.router}
		c.expect(http.StatusOK, http.MethodPost, "/api/v1/content/tasks/"+taskID+"/cancel", nil, nil)
		frame := st.next(t)
		data, ok := strings.CutPrefix(frame[len(frame)-1], "data: ")
		require.True(t, ok, "an event frame ends with its data: %q", frame)
		require.Contains(t, frame, "event: task")
		var event any
		require.NoError(t, json.Unmarshal([]byte(data), &event))
		require.NoError(t, v.doc.Components.Schemas["TaskEvent"].Value.VisitJSON(event),
			"the event's data does not fit TaskEvent: %s", data)
		require.Equal(t, "cancelled", event.(map[string]any)["status"])
		st.validate(t)
	})
	t.Run("an account's stream, token in the query", func(t *testing.T) {
		st := openSpecStream(t, v, srv.URL, "/api/v1/content/events?account_id=8&access_token="+specToken, nil)
		st.next(t)
		st.validate(t)
	})
	t.Run("every task's stream, resumed", func(t *testing.T) {
		st := openSpecStream(t, v, srv.URL, "/api/v1/content/events", http.Header{
			"Authorization": {"Bearer " + specToken}, "Last-Event-ID": {"0"},
		})
		st.next(t)
		st.validate(t)
	})
	t.Run("refusals", func(t *testing.T) {
		c := &specClient{t: t, v: v, handler: router}
		requireErrorCode(t, c.expect(http.StatusNotFound, http.MethodGet, "/api/v1/content/tasks/task-unknown/events", nil, nil), "not_found")
		requireErrorCode(t, c.expect(http.StatusUnprocessableEntity, http.MethodGet, "/api/v1/content/events?account_id=x", nil, nil), "validation_error")
		requireErrorCode(t, c.expect(http.StatusUnprocessableEntity, http.MethodGet, taskEvents, nil, http.Header{"Last-Event-ID": {"abc"}}), "validation_error")
		requireErrorCode(t, c.expect(http.StatusUnauthorized, http.MethodGet, taskEvents, nil, http.Header{"Authorization": {""}}), "unauthorized")
		requireErrorCode(t, c.expect(http.StatusUnauthorized, http.MethodGet, "/api/v1/content/events?access_token=wrong", nil, http.Header{"Authorization": {""}}), "unauthorized")
	})
}

// specStream is an open event stream; it keeps what it read for validation.
type specStream struct {
	v    *specValidator
	req  *http.Request
	resp *http.Response
	r    *bufio.Reader
	read bytes.Buffer
}

func openSpecStream(t *testing.T, v *specValidator, base, target string, header http.Header) *specStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), specWait)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+target, nil)
	require.NoError(t, err)
	for k, vs := range header {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() {
		cancel()
		_ = resp.Body.Close()
	})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return &specStream{v: v, req: req, resp: resp, r: bufio.NewReader(resp.Body)}
}

// next reads one frame, up to its blank line, and returns its lines.
func (s *specStream) next(t *testing.T) []string {
	t.Helper()
	var lines []string
	for {
		line, err := s.r.ReadString('\n')
		s.read.WriteString(line)
		require.NoError(t, err, "the stream ended or stalled; read so far: %q", s.read.String())
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return lines
		}
		lines = append(lines, line)
	}
}

// validate checks the stream's status, headers and what was read of it.
func (s *specStream) validate(t *testing.T) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, s.req.URL.RequestURI(), nil)
	req.Header = s.req.Header.Clone()
	s.v.check(t, req, nil, s.resp.StatusCode, s.resp.Header, s.read.Bytes())
}
