// Package creatorapi talks to the published content-creator's HTTP server
// (`api --port N`): the api profile of ports.ContentCreator (CREATOR_PROFILE=api).
//
// Its POST /api/tasks in sync mode (the only mode it serves without a queue)
// runs the whole generation before it answers — minutes with a real model —
// and answers with the outcome; meanwhile its own callback (unsigned, the
// token in the URL) reaches the service too. The request is therefore held
// open like a supervised child: the submission counts as accepted once the
// request has left and no quick refusal came back, and the answer, when it
// comes, is the run's outcome (source "creator answer"). Whichever of answer
// and callback arrives first completes the task.
//
// The server dies on a GET of an id it does not know (a 404 kills it,
// api-get-unknown.txt), so ids are asked about directly only once it has
// acknowledged them; an id whose submission was ambiguous is looked for in
// its task list instead, which is safe.
package creatorapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"contenthub/adapters/creatorwire"
	"contenthub/domain"
	"contenthub/ports"
)

// Defaults for the zero values of Config.
const (
	DefaultAcceptWindow  = 2 * time.Second
	DefaultRunTimeout    = time.Hour
	DefaultQueryTimeout  = 30 * time.Second
	DefaultListPages     = 50
	listPageSize         = 100 // the server's maximum
	maxAnswerBytes       = 32 << 20
	refusalMessageFields = 5
)

// Config says where the server is and how long to wait for it.
type Config struct {
	// BaseURL is CREATOR_API_BASE_URL, e.g. http://127.0.0.1:3000. Required.
	BaseURL string
	// AcceptWindow is how long Submit waits, once the request has left, for
	// a quick refusal (its validation answers at once) before it counts the
	// submission as accepted.
	AcceptWindow time.Duration
	// RunTimeout bounds how long a submission's request is held open: the
	// attempt's deadline, TASK_TIMEOUT, with a margin.
	RunTimeout time.Duration
	// StatusTimeout, ResultTimeout and CancelTimeout bound the other calls.
	StatusTimeout, ResultTimeout, CancelTimeout time.Duration
	// ListPages bounds how many pages of its task list an unacknowledged id
	// is looked for in.
	ListPages int
	// HTTPClient sends the requests; nil means a client of its own.
	HTTPClient *http.Client
	// AcknowledgedLimit bounds how many acknowledged ids are remembered
	// (DefaultAcknowledgedLimit when zero); the least recently used is
	// forgotten first and is then looked for in the task list again.
	AcknowledgedLimit int
}

// Option configures a Client beyond Config.
type Option func(*Client)

// WithMetrics records every call: RunnerExecuted(command, outcome, took).
func WithMetrics(m ports.Metrics) Option { return func(c *Client) { c.metrics = m } }

// WithLogger logs what the server answered that the service cannot use.
func WithLogger(l *zap.Logger) Option {
	return func(c *Client) {
		if l != nil {
			c.log = l
		}
	}
}

// WithClock tells the time for the client's timestamps, its metrics and its
// accept window (nil keeps the system clock). A clock that also has
// After(time.Duration) <-chan time.Time times the accept window too; the
// request's own run timeout stays the system's (it is a context deadline).
func WithClock(clk ports.Clock) Option {
	return func(c *Client) {
		if clk != nil {
			c.clock = clk
		}
	}
}

// timer is the optional part of a clock that WithClock uses for the accept
// window.
type timer interface {
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now().UTC() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Client is the api profile's adapter. It is safe for concurrent use.
type Client struct {
	cfg      Config
	base     string
	http     *http.Client
	observer ports.RunObserver
	metrics  ports.Metrics
	log      *zap.Logger
	clock    ports.Clock

	mu       sync.Mutex
	inflight map[string]context.CancelFunc // submissions whose request is held open, by ref; removed when it ends
	known    *acknowledged                 // ids the server acknowledged, bounded
}

var (
	_ ports.ContentCreator = (*Client)(nil)
	_ ports.CreatorProber  = (*Client)(nil)
	_ ports.LiveRuns       = (*Client)(nil)
)

// New checks cfg and returns a Client that reports answers to observer.
func New(cfg Config, observer ports.RunObserver, opts ...Option) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("creatorapi: base URL %q: want an absolute http(s) URL", cfg.BaseURL)
	}
	if observer == nil {
		return nil, errors.New("creatorapi: a run observer is required")
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&cfg.AcceptWindow, DefaultAcceptWindow}, {&cfg.RunTimeout, DefaultRunTimeout},
		{&cfg.StatusTimeout, DefaultQueryTimeout}, {&cfg.ResultTimeout, DefaultQueryTimeout},
		{&cfg.CancelTimeout, DefaultQueryTimeout},
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if cfg.ListPages <= 0 {
		cfg.ListPages = DefaultListPages
	}
	if cfg.AcknowledgedLimit <= 0 {
		cfg.AcknowledgedLimit = DefaultAcknowledgedLimit
	}
	c := &Client{
		cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), http: cfg.HTTPClient, observer: observer,
		log: zap.NewNop(), clock: systemClock{}, inflight: map[string]context.CancelFunc{},
		known: newAcknowledged(cfg.AcknowledgedLimit),
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// createBody is POST /api/tasks's body for the attempt.
func createBody(req ports.SubmitRequest) ([]byte, error) {
	body := map[string]any{
		"mode":           "sync",
		"topic":          req.Topic,
		"requirements":   req.Requirements,
		"targetAudience": req.TargetAudience,
		"priority":       apiPriority(req.Priority),
		"idempotencyKey": req.ExternalRef, // becomes its task id
	}
	if req.Tone != "" {
		body["tone"] = req.Tone // a string or absent: it refuses null
	}
	if len(req.Keywords) > 0 {
		body["keywords"] = req.Keywords
	}
	if req.CallbackURL != "" {
		body["callbackUrl"] = req.CallbackURL
		body["callbackEnabled"] = true
		body["callbackEvents"] = []string{"completed", "failed"}
	}
	return json.Marshal(body)
}

// apiPriority maps the service's 1–10 (higher = more urgent) onto the
// server's 1–4 (low, normal, high, urgent).
func apiPriority(p int) int {
	switch {
	case p >= 9:
		return 4
	case p >= 7:
		return 3
	case p >= 4:
		return 2
	}
	return 1
}

// answer is what came back for a request.
type answer struct {
	status int
	body   []byte
	err    error
}

func (c *Client) do(req *http.Request) answer {
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	return answer{status: resp.StatusCode, body: body, err: err}
}

// Submit posts the attempt and returns once the request has left and no
// quick refusal came back (or the answer already came: a fast run). A 4xx is
// ports.ErrSubmitRefused naming the fields; a 5xx or a request that never
// left is a plain error; a connection that dropped after the request left is
// ports.ErrSubmitOutcomeUnknown.
func (c *Client) Submit(_ context.Context, req ports.SubmitRequest) (res ports.SubmitResult, err error) {
	started := c.clock.Now()
	defer c.observe("create", started, &err)
	body, err := createBody(req)
	if err != nil {
		return ports.SubmitResult{}, fmt.Errorf("content-creator API create: %w", err)
	}
	// The run outlives the submission: its request has a context of its own.
	runCtx, cancel := context.WithTimeout(context.Background(), c.cfg.RunTimeout)
	wrote := make(chan error, 1)
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		select {
		case wrote <- i.Err:
		default:
		}
	}}
	httpReq, err := http.NewRequestWithContext(httptrace.WithClientTrace(runCtx, trace), http.MethodPost,
		c.base+"/api/tasks", bytes.NewReader(body))
	if err != nil {
		cancel()
		return ports.SubmitResult{}, fmt.Errorf("content-creator API create: %w", err)
	}
	httpReq.Header.Set("Content-Type", "application/json")
	if req.Trace.TraceParent != "" {
		// The run joins the submission's trace (W3C Trace Context).
		httpReq.Header.Set("traceparent", req.Trace.TraceParent)
		if req.Trace.TraceState != "" {
			httpReq.Header.Set("tracestate", req.Trace.TraceState)
		}
	}
	c.mu.Lock()
	c.inflight[req.ExternalRef] = cancel
	c.mu.Unlock()
	answered := make(chan answer, 1)
	go func() { answered <- c.do(httpReq) }()

	left := false
	var window <-chan time.Time
	for {
		select {
		case werr := <-wrote:
			if werr == nil {
				left = true
				window = c.after(c.cfg.AcceptWindow)
			}
		case a := <-answered:
			// The answer and the write report can both be ready when this
			// goroutine gets to the select (the server read the request and
			// dropped it before we were scheduled), and select picks either
			// one at random. The write report was sent before the request
			// was flushed, so before any answer: if it is pending, the
			// request left.
			select {
			case werr := <-wrote:
				left = left || werr == nil
			default:
			}
			return c.early(req, a, left, started)
		case <-window:
			// No refusal: it validated the request and runs it — as far as
			// silence tells. Silence is no acknowledgement: the id is asked
			// about directly only once the server has shown it knows it.
			done := make(chan struct{})
			go func() {
				defer close(done)
				c.finish(runCtx, req, <-answered, started)
			}()
			return ports.SubmitResult{ExternalRef: req.ExternalRef, Running: done}, nil
		}
	}
}

// early settles an answer that came within the accept window.
func (c *Client) early(req ports.SubmitRequest, a answer, left bool, started time.Time) (ports.SubmitResult, error) {
	switch {
	case a.err != nil:
		c.forget(req.ExternalRef)
		if left {
			return ports.SubmitResult{}, fmt.Errorf("content-creator API create: the connection dropped after the request left: %w: %w",
				ports.ErrSubmitOutcomeUnknown, a.err)
		}
		return ports.SubmitResult{}, fmt.Errorf("content-creator API create: %w", a.err)
	case a.status >= 400 && a.status < 500:
		c.forget(req.ExternalRef)
		return ports.SubmitResult{}, fmt.Errorf("content-creator API create: %w: %s", ports.ErrSubmitRefused, refusal(a))
	case a.status < 200 || a.status >= 300:
		c.forget(req.ExternalRef)
		return ports.SubmitResult{}, fmt.Errorf("content-creator API create: answered %d: %s", a.status, refusal(a))
	}
	// A run fast enough to answer at once (its test mode takes milliseconds).
	// The id its answer names is the attempt's from now on.
	_, ref, _ := c.answered(req.ExternalRef, a.body)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.finish(context.Background(), req, a, started)
	}()
	return ports.SubmitResult{ExternalRef: ref, Running: done}, nil
}

// answered reads a 2xx answer to a submission and the id it names for the
// run: its taskId (else its id), or sent when it names none. That id is the
// one the server knows — it may run the job under an id of its own (issue
// #19) — so it is the one acknowledged, and the only one asked about by id
// from then on: asking about sent instead could kill it. An answer it
// cannot read acknowledges nothing (its task list stays safe to ask).
func (c *Client) answered(sent string, body []byte) (taskData, string, error) {
	data, err := decodeData(body)
	if err != nil {
		return taskData{}, sent, err
	}
	ref := sent
	switch {
	case data.TaskID != "":
		ref = data.TaskID
	case data.ID != "":
		ref = data.ID
	}
	c.acknowledge(ref)
	return data, ref, nil
}

// finish reports the answer that ended a submission's request. A request
// the service gave up on (cancel, run timeout) or whose connection dropped
// mid-run tells nothing: callbacks and the reconciler settle those.
func (c *Client) finish(runCtx context.Context, req ports.SubmitRequest, a answer, started time.Time) {
	at := c.clock.Now().UTC()
	gaveUp := runCtx.Err() != nil // before forget, which ends runCtx
	c.forget(req.ExternalRef)
	if a.err != nil {
		if !gaveUp {
			c.log.Warn("content-creator API dropped a running submission; polling will find its outcome",
				zap.String("external_ref", req.ExternalRef), zap.Error(a.err))
		}
		return
	}
	o := ports.RunOutcome{TaskID: req.TaskID, Attempt: req.Attempt, ExternalRef: req.ExternalRef,
		Source: domain.SourceCreatorAnswer, Phase: ports.PhaseFailed, At: at}
	switch {
	case a.status >= 400 && a.status < 500:
		o.Permanent = true
		o.Error = domain.SubmitRefused(refusal(a))
	case a.status < 200 || a.status >= 300:
		o.Error = domain.CreatorError(fmt.Sprintf("content-creator API answered %d: %s", a.status, refusal(a)))
	default:
		data, ref, err := c.answered(req.ExternalRef, a.body)
		o.ExternalRef = ref
		switch {
		case err != nil:
			o.Error = domain.CreatorBadOutput(err.Error())
		case creatorwire.PhaseOf(data.Status) == ports.PhaseCompleted:
			o.Phase, o.Result = ports.PhaseCompleted, data.result()
		case creatorwire.PhaseOf(data.Status) == ports.PhaseFailed || creatorwire.PhaseOf(data.Status) == ports.PhaseCancelled:
			o.Error = domain.CreatorExecutionFailed(data.errorText(data.Status))
		default:
			o.Error = domain.CreatorBadOutput(fmt.Sprintf("content-creator API answered the run with status %q", data.Status))
		}
	}
	var runErr error
	if o.Phase != ports.PhaseCompleted {
		runErr = errors.New(o.Error.String())
	}
	c.observe("run", started, &runErr)
	c.observer.RunEnded(context.Background(), o)
}

// Status reports a run whose request is still held as running; otherwise it
// asks the server — by id once it acknowledged the id, else through its task
// list (an unknown id asked by id kills it).
func (c *Client) Status(ctx context.Context, ref string) (st ports.CreatorStatus, err error) {
	defer c.observe("status", c.clock.Now(), &err)
	c.mu.Lock()
	_, held := c.inflight[ref]
	known := c.known.has(ref)
	c.mu.Unlock()
	if held {
		return ports.CreatorStatus{Phase: ports.PhaseRunning, Raw: "running"}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StatusTimeout)
	defer cancel()
	var task taskData
	if known {
		task, err = c.getTask(ctx, ref)
	} else {
		task, err = c.findInList(ctx, ref)
	}
	if err != nil {
		return ports.CreatorStatus{}, err
	}
	st = ports.CreatorStatus{Phase: creatorwire.PhaseOf(task.Status), Raw: task.Status}
	task.advance(&st)
	if st.Phase == ports.PhaseFailed || st.Phase == ports.PhaseCancelled {
		st.Error = domain.CreatorExecutionFailed(task.errorText(task.Status))
	}
	return st, nil
}

func (c *Client) getTask(ctx context.Context, ref string) (taskData, error) {
	a := c.get(ctx, "/api/tasks/"+url.PathEscape(ref))
	if err := a.check("status"); err != nil {
		return taskData{}, err
	}
	return decodeData(a.body)
}

// findInList looks for ref among the newest tasks, page by page (newest
// first). Not there after the last page means the server never took it.
func (c *Client) findInList(ctx context.Context, ref string) (taskData, error) {
	for page := 1; page <= c.cfg.ListPages; page++ {
		a := c.get(ctx, fmt.Sprintf("/api/tasks?page=%d&limit=%d", page, listPageSize))
		if err := a.check("status"); err != nil {
			return taskData{}, err
		}
		var list struct {
			Data struct {
				Tasks      []taskData `json:"tasks"`
				Pagination struct {
					TotalPages int `json:"totalPages"`
				} `json:"pagination"`
			} `json:"data"`
		}
		if err := json.Unmarshal(a.body, &list); err != nil {
			return taskData{}, fmt.Errorf("content-creator API status: task list: %w", err)
		}
		for _, t := range list.Data.Tasks {
			if t.ID == ref || t.TaskID == ref {
				c.acknowledge(ref)
				return t, nil
			}
		}
		if page >= list.Data.Pagination.TotalPages || len(list.Data.Tasks) == 0 {
			return taskData{}, fmt.Errorf("content-creator API status: %q is not in its task list: %w", ref, ports.ErrCreatorUnknownTask)
		}
	}
	return taskData{}, fmt.Errorf("content-creator API status: %q is not among its newest %d tasks", ref, c.cfg.ListPages*listPageSize)
}

// Result fetches the article of a completed run the server acknowledged
// (an id not remembered as acknowledged is looked for in its task list
// first, which acknowledges it if the server has it).
func (c *Client) Result(ctx context.Context, ref string) (res domain.Result, err error) {
	defer c.observe("result", c.clock.Now(), &err)
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ResultTimeout)
	defer cancel()
	if !c.isKnown(ref) {
		if _, err := c.findInList(ctx, ref); err != nil {
			return domain.Result{}, fmt.Errorf("content-creator API result: %q is not acknowledged by the server; not asked: %w", ref, err)
		}
	}
	a := c.get(ctx, "/api/tasks/"+url.PathEscape(ref)+"/result")
	if err := a.check("result"); err != nil {
		return domain.Result{}, err
	}
	data, err := decodeData(a.body)
	if err != nil {
		return domain.Result{}, err
	}
	return data.result(), nil
}

// Cancel lets go of a held request and asks the server to cancel the id if
// it took it (an id it never took is left alone).
func (c *Client) Cancel(ctx context.Context, ref string) (err error) {
	defer c.observe("cancel", c.clock.Now(), &err)
	c.mu.Lock()
	if stop, held := c.inflight[ref]; held {
		stop()
		delete(c.inflight, ref)
	}
	known := c.known.has(ref)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CancelTimeout)
	defer cancel()
	if !known {
		// Asking by id could kill it: its task list says whether it took it.
		if _, err := c.findInList(ctx, ref); errors.Is(err, ports.ErrCreatorUnknownTask) {
			return nil
		} else if err != nil {
			return fmt.Errorf("content-creator API cancel: %w", err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.base+"/api/tasks/"+url.PathEscape(ref), nil)
	if err != nil {
		return fmt.Errorf("content-creator API cancel: %w", err)
	}
	a := c.do(req)
	if a.err != nil {
		return fmt.Errorf("content-creator API cancel: %w", a.err)
	}
	// A 400 says it cannot be cancelled (it finished): nothing left to stop.
	if a.status >= 500 {
		return fmt.Errorf("content-creator API cancel: answered %d: %s", a.status, refusal(a))
	}
	return nil
}

// Probe asks GET /health: the server answers (SERVICE.md §14).
func (c *Client) Probe(ctx context.Context) (err error) {
	defer c.observe("probe", c.clock.Now(), &err)
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StatusTimeout)
	defer cancel()
	return c.get(ctx, "/health").check("probe")
}

func (c *Client) get(ctx context.Context, path string) answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return answer{err: err}
	}
	return c.do(req)
}

func (a answer) check(command string) error {
	switch {
	case a.err != nil:
		return fmt.Errorf("content-creator API %s: %w", command, a.err)
	case a.status < 200 || a.status >= 300:
		return fmt.Errorf("content-creator API %s: answered %d: %s", command, a.status, refusal(a))
	}
	return nil
}

func (c *Client) acknowledge(ref string) {
	c.mu.Lock()
	c.known.add(ref)
	c.mu.Unlock()
}

func (c *Client) isKnown(ref string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.known.has(ref)
}

// after is the accept window's timer: the clock's when it has one.
func (c *Client) after(d time.Duration) <-chan time.Time {
	if t, ok := c.clock.(timer); ok {
		return t.After(d)
	}
	return time.After(d)
}

// Live reports whether this process holds ref's request open (§14: such a
// run is never found lost; a dropped request leaves nothing live here).
func (c *Client) Live(ref string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, held := c.inflight[ref]
	return held
}

func (c *Client) forget(ref string) {
	c.mu.Lock()
	if stop, ok := c.inflight[ref]; ok {
		stop()
		delete(c.inflight, ref)
	}
	c.mu.Unlock()
}

func (c *Client) observe(command string, start time.Time, err *error) {
	outcome := "ok"
	switch {
	case *err == nil:
	case errors.Is(*err, ports.ErrSubmitRefused):
		outcome = "refused"
	case errors.Is(*err, ports.ErrSubmitOutcomeUnknown):
		outcome = "unknown_outcome"
	case errors.Is(*err, ports.ErrCreatorUnknownTask):
		outcome = "unknown_task"
	default:
		outcome = "error"
	}
	if c.metrics != nil {
		c.metrics.RunnerExecuted(command, outcome, c.clock.Now().Sub(start))
	}
}
