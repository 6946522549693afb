package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"contenthub/adapters/cronspec"
	"contenthub/adapters/events"
	"contenthub/adapters/httpapi"
	"contenthub/adapters/ids"
	"contenthub/adapters/metrics"
	"contenthub/adapters/signature"
	"contenthub/adapters/sqlstore"
	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

func init() { gin.SetMode(gin.TestMode) }

// fakeClock is a settable clock shared by the harness and the use cases.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// recordingCreator stands in for content-creator: it accepts every
// submission and remembers it, so tests can read the callback URL (token).
type recordingCreator struct {
	mu        sync.Mutex
	submits   []ports.SubmitRequest
	cancelled []string
	submitErr error
}

func (c *recordingCreator) Submit(_ context.Context, req ports.SubmitRequest) (ports.SubmitResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.submits = append(c.submits, req)
	return ports.SubmitResult{ExternalRef: req.ExternalRef}, c.submitErr
}

func (c *recordingCreator) Status(context.Context, string) (ports.CreatorStatus, error) {
	return ports.CreatorStatus{Phase: ports.PhaseRunning}, nil
}

func (c *recordingCreator) Result(context.Context, string) (domain.Result, error) {
	return domain.Result{}, ports.ErrCreatorUnknownTask
}

func (c *recordingCreator) Cancel(_ context.Context, ref string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cancelled = append(c.cancelled, ref)
	return nil
}

func (c *recordingCreator) lastSubmit(t testing.TB) ports.SubmitRequest {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.NotEmpty(t, c.submits, "nothing was submitted")
	return c.submits[len(c.submits)-1]
}

// harnessConcurrency is the harness's CREATOR_MAX_CONCURRENCY.
const harnessConcurrency = 4

type harnessOptions struct {
	verifier   signature.Config
	api        httpapi.Config
	backoff    domain.Backoff
	apiTokens  []string
	noCallback bool
	// creatorHealth is the health route's creator field; nil: unknown.
	creatorHealth ports.CreatorHealthReporter
	// concurrency is CREATOR_MAX_CONCURRENCY; 0: harnessConcurrency. A
	// submitted attempt holds its slot until its outcome (§11).
	concurrency int
}

// harness is the real router over the real use cases and a real store.
type harness struct {
	t          testing.TB
	store      *sqlstore.Store
	clock      *fakeClock
	creator    *recordingCreator
	tasks      *application.Tasks
	schedules  *application.Schedules
	reviews    *application.Reviews
	pool       *application.Pool
	counts     *application.TaskCounts
	dispatcher *application.Dispatcher
	router     *gin.Engine
	events     *events.Local
}

func newHarness(t testing.TB, store *sqlstore.Store, opts ...func(*harnessOptions)) *harness {
	t.Helper()
	o := harnessOptions{
		verifier: signature.Config{Tokens: true, Tolerance: 5 * time.Minute},
		api:      httpapi.Config{WebhookEnabled: true, WebhookTimeout: 10 * time.Second, WebhookMaxBodyBytes: 5 << 20},
		backoff:  domain.Backoff{Base: time.Second, Max: time.Minute},
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.concurrency == 0 {
		o.concurrency = harnessConcurrency
	}
	o.api.APITokens = o.apiTokens
	clock := &fakeClock{now: time.Now().UTC().Truncate(time.Microsecond)}
	hub := events.NewLocal()
	deps := application.Deps{
		Store: store, Claimer: store, Stale: store, Deliveries: store, Reader: store,
		Clock: clock, IDs: ids.Random{}, Publisher: hub, Metrics: metrics.Discard{}, Log: zap.NewNop(),
		Rules: application.Rules{TaskTimeout: 30 * time.Minute, Backoff: o.backoff},
	}
	verifier, err := signature.NewVerifier(o.verifier)
	require.NoError(t, err)
	creator := &recordingCreator{}
	wakeup := application.NewWakeup()
	tasks := application.NewTasks(deps, creator, wakeup)
	schedules := application.NewSchedules(deps, store, cronspec.NewParser(), wakeup)
	reviews := application.NewReviews(deps, store)
	pool := application.NewPool(deps, store, application.PoolConfig{Backoff: domain.Backoff{Base: time.Minute, Max: time.Hour}})
	counts := application.NewTaskCounts(store)
	router := httpapi.NewRouter(o.api, httpapi.Deps{
		Tasks: tasks, Callbacks: application.NewCallbacks(deps, verifier), Health: store, Clock: clock, Log: zap.NewNop(),
		Reviews: reviews, Pool: pool, TaskCounts: counts, CreatorHealth: o.creatorHealth,
		Extra:    []func(gin.IRouter, gin.IRouter){httpapi.ScheduleRoutes(schedules)},
		Accounts: application.NewAccounts(store, store, clock, application.AccountsConfig{Capacity: o.concurrency, CreatorHealth: o.creatorHealth}),
		Batches:  application.NewBatches(deps, store, wakeup),
	})
	dispatcher := application.NewDispatcher(deps, creator, wakeup, application.DispatcherConfig{
		Owner: "test", Lease: time.Minute, Concurrency: o.concurrency, CallbackBaseURL: "http://hub.test",
		Callbacks: !o.noCallback, Tokens: o.verifier.Tokens, CreatorHealth: o.creatorHealth,
	})
	return &harness{t: t, store: store, clock: clock, creator: creator, tasks: tasks, schedules: schedules,
		reviews: reviews, pool: pool, counts: counts, dispatcher: dispatcher, router: router, events: hub}
}

// do sends one request through the router.
func (h *harness) do(method, target string, body []byte, header http.Header) *httptest.ResponseRecorder {
	h.t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.router.ServeHTTP(rec, req)
	return rec
}

func decode(t testing.TB, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m), "body: %s", rec.Body.String())
	return m
}

// createTask creates a task through the API and returns its id.
func (h *harness) createTask(body string) string {
	h.t.Helper()
	rec := h.do(http.MethodPost, "/api/v1/content/tasks", []byte(body), nil)
	require.Equal(h.t, http.StatusAccepted, rec.Code, rec.Body.String())
	return decode(h.t, rec)["task_id"].(string)
}

// submitted is a task handed to content-creator: its id, the callback path
// with the attempt's token, and the attempt's external ref.
type submitted struct {
	id, callback, ref, token string
}

// submit creates a task and runs the dispatcher once, as the worker would.
func (h *harness) submit(body string) submitted {
	h.t.Helper()
	id := h.createTask(body)
	return h.dispatch(id)
}

// dispatch runs the dispatcher and returns the latest submission of id.
func (h *harness) dispatch(id string) submitted {
	h.t.Helper()
	_, err := h.dispatcher.DispatchDue(context.Background())
	require.NoError(h.t, err)
	h.dispatcher.Wait()
	req := h.creator.lastSubmit(h.t)
	u, err := url.Parse(req.CallbackURL)
	require.NoError(h.t, err)
	require.True(h.t, strings.HasSuffix(u.Path, "/"+id), "last submission is for %s, not %s", u.Path, id)
	return submitted{id: id, callback: u.RequestURI(), ref: req.ExternalRef, token: u.Query().Get("token")}
}

// submitted runs the dispatcher and returns id's submission, whatever else
// was due.
func (h *harness) submitted(id string) submitted {
	h.t.Helper()
	_, err := h.dispatcher.DispatchDue(context.Background())
	require.NoError(h.t, err)
	h.dispatcher.Wait()
	h.creator.mu.Lock()
	defer h.creator.mu.Unlock()
	for i := len(h.creator.submits) - 1; i >= 0; i-- {
		req := h.creator.submits[i]
		u, err := url.Parse(req.CallbackURL)
		require.NoError(h.t, err)
		if strings.HasSuffix(u.Path, "/"+id) {
			return submitted{id: id, callback: u.RequestURI(), ref: req.ExternalRef, token: u.Query().Get("token")}
		}
	}
	h.t.Fatalf("%s was not submitted", id)
	return submitted{}
}

func (h *harness) task(id string) *domain.Task {
	h.t.Helper()
	task, err := h.store.GetTask(context.Background(), id)
	require.NoError(h.t, err)
	return task
}

func (h *harness) deliveries(id string) []domain.Delivery {
	h.t.Helper()
	ds, err := h.store.ListDeliveries(context.Background(), id)
	require.NoError(h.t, err)
	return ds
}

const defaultTask = `{"account_id":7,"topic":"边缘计算入门","requirements":"写一篇面向开发者的科普文章","priority":8}`
