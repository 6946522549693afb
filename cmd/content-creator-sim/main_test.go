package main

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
)

// simBin is the simulator, built once for all tests: they run the real binary, detached worker included.
var simBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "content-creator-sim-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	simBin = filepath.Join(dir, "content-creator-sim")
	if out, err := exec.Command("go", "build", "-o", simBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build simulator: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// waitFor bounds every wait for something the worker does; generous, since only failures reach it.
const waitFor = 30 * time.Second

// sim runs the simulator against a state directory of its own.
type sim struct {
	t   *testing.T
	dir string
	env []string
}

// newSim returns a simulator environment with short delays; env adds or overrides variables.
func newSim(t *testing.T, env ...string) *sim {
	t.Helper()
	s := &sim{t: t, dir: t.TempDir()}
	for _, kv := range os.Environ() { // nothing from the developer's shell may change the simulator's script
		if !strings.HasPrefix(kv, "SIM_") && !strings.HasPrefix(kv, "CONTENT_CREATOR_") {
			s.env = append(s.env, kv)
		}
	}
	s.env = append(s.env,
		"CONTENT_CREATOR_SIM_STATE_DIR="+s.dir,
		"SIM_DELAY=200ms",
		"SIM_CALLBACK_BACKOFF=20ms",
	)
	s.env = append(s.env, env...)
	return s
}

type runResult struct {
	stdout, stderr string
	code           int
}

// run runs the simulator with args; env adds variables for this run only.
func (s *sim) run(env []string, args ...string) runResult {
	s.t.Helper()
	cmd := exec.Command(simBin, args...)
	cmd.Env = append(slices.Clone(s.env), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(s.t, err)
	}
	return runResult{stdout.String(), stderr.String(), code}
}

// create runs create for id and topic and requires it to succeed.
func (s *sim) create(env []string, id, topic, callbackURL string) {
	s.t.Helper()
	args := []string{"create", "--type", "content-creator", "--mode", "async", "--topic", topic, "--task-id", id,
		"--requirements", "写一篇面向开发者的科普文章", "--tone", "专业", "--keywords", "a, b"}
	if callbackURL != "" {
		args = append(args, "--callback-url", callbackURL)
	}
	r := s.run(env, args...)
	require.Equal(s.t, 0, r.code, "create: %s", r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Greater(s.t, len(lines), 1, "a banner line comes before the JSON, as with the real CLI")
	require.JSONEq(s.t, fmt.Sprintf(`{"taskId":%q,"status":"pending"}`, id), lines[len(lines)-1])
}

type statusAnswer struct {
	TaskID   string `json:"taskId"`
	Status   string `json:"status"`
	Progress struct {
		Percentage int    `json:"percentage"`
		Stage      string `json:"stage"`
		Message    string `json:"message"`
	} `json:"progress"`
	Error *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    string `json:"code"`
	} `json:"error"`
	UpdatedAt string `json:"updatedAt"`
}

func (s *sim) status(id string) statusAnswer {
	s.t.Helper()
	r := s.run(nil, "status", "--task-id", id, "--json")
	require.Equal(s.t, 0, r.code, "status: %s", r.stderr)
	var a statusAnswer
	require.NoError(s.t, json.Unmarshal([]byte(lastLine(r.stdout)), &a))
	require.Equal(s.t, id, a.TaskID)
	require.Regexp(s.t, isoMillis, a.UpdatedAt)
	return a
}

// result runs result --json and returns its JSON object.
func (s *sim) result(id string) map[string]any {
	s.t.Helper()
	r := s.run(nil, "result", "--task-id", id, "--json")
	require.Equal(s.t, 0, r.code, "result: %s", r.stderr)
	var m map[string]any
	require.NoError(s.t, json.Unmarshal([]byte(lastLine(r.stdout)), &m))
	return m
}

// waitWorker waits for the task's worker to log its exit and returns the outcome it logged.
func (s *sim) waitWorker(id string) string {
	s.t.Helper()
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(s.dir, id+".log")); err == nil {
			sc := bufio.NewScanner(bytes.NewReader(b))
			for sc.Scan() {
				var line struct{ Msg, Outcome string }
				if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "worker exiting" {
					return line.Outcome
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("worker of %s did not finish", id)
	return ""
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

var isoMillis = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// delivery is one callback request as received.
type delivery struct {
	path   string
	header http.Header
	body   []byte
	doc    map[string]any
}

func (d delivery) event() string { return d.doc["event"].(string) }

func (d delivery) percentage() int {
	return int(d.doc["progress"].(map[string]any)["percentage"].(float64))
}

// receiver is a callback endpoint on 127.0.0.1 that records deliveries and answers what respond says.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	got     []delivery
	respond func(n int, d delivery) int // n counts requests from 0; nil answers 200
}

func newReceiver(t *testing.T, respond func(n int, d delivery) int) *receiver {
	r := &receiver{respond: respond}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		d := delivery{path: req.URL.RequestURI(), header: req.Header.Clone(), body: body}
		if err := json.Unmarshal(body, &d.doc); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		n := len(r.got)
		r.got = append(r.got, d)
		r.mu.Unlock()
		code := http.StatusOK
		if r.respond != nil {
			code = r.respond(n, d)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url(id string) string {
	return r.srv.URL + "/api/v1/content/callback/" + id + "?token=tok-" + id
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func events(ds []delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.event()
	}
	return out
}

func percentages(ds []delivery) []int {
	var out []int
	for _, d := range ds {
		if d.event() == "progress" {
			out = append(out, d.percentage())
		}
	}
	return out
}

// sampleBody reads a captured callback of the real sender.
func sampleBody(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

// requireSameKeys checks that got has exactly want's keys, recursively through objects and first list items.
func requireSameKeys(t *testing.T, want, got any, path string) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		require.True(t, ok, "%s: want an object, got %T", path, got)
		require.ElementsMatch(t, keys(w), keys(g), "keys of %s", path)
		for k := range w {
			requireSameKeys(t, w[k], g[k], path+"."+k)
		}
	case []any:
		g, ok := got.([]any)
		require.True(t, ok, "%s: want a list, got %T", path, got)
		if len(w) > 0 && len(g) > 0 {
			requireSameKeys(t, w[0], g[0], path+"[0]")
		}
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// requireRealSenderHeaders checks the headers every callback carries.
func requireRealSenderHeaders(t *testing.T, d delivery, id string) {
	t.Helper()
	require.Equal(t, "application/json", d.header.Get("Content-Type"))
	require.Equal(t, "content-creator-sim/1.0", d.header.Get("User-Agent"))
	require.Equal(t, d.event(), d.header.Get("X-Webhook-Event"))
	require.Equal(t, id, d.header.Get("X-Task-ID"))
	require.Equal(t, "/api/v1/content/callback/"+id+"?token=tok-"+id, d.path, "the callback URL is used as given")
	require.Equal(t, id, d.doc["taskId"])
	require.Equal(t, "content-creator", d.doc["workflowType"])
	require.Regexp(t, isoMillis, d.doc["timestamp"])
}

// verifySchemeA checks X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, "<ts>.<body>")>.
func verifySchemeA(t *testing.T, d delivery, secret string) {
	t.Helper()
	ts := d.header.Get("X-Webhook-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	require.NoError(t, err, "X-Webhook-Timestamp is unix seconds")
	require.InDelta(t, time.Now().Unix(), sec, 300, "timestamp within the default tolerance")
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(d.body)
	require.Equal(t, "sha256="+hex.EncodeToString(mac.Sum(nil)), d.header.Get("X-Webhook-Signature"))
}

// verifySchemeC checks the Standard Webhooks headers by hand and with the standard's own library.
func verifySchemeC(t *testing.T, d delivery, secret string) {
	t.Helper()
	id, ts := d.header.Get("webhook-id"), d.header.Get("webhook-timestamp")
	require.NotEmpty(t, id)
	require.Equal(t, d.header.Get("X-Webhook-Timestamp"), ts)
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	require.NoError(t, err)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(d.body)
	require.Contains(t, strings.Fields(d.header.Get("webhook-signature")),
		"v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))

	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	require.NoError(t, wh.Verify(d.body, d.header))
}

func TestCreateProgressCompletedCallbacksAndResult(t *testing.T) {
	t.Parallel()
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("simulator test signing key"))
	s := newSim(t, "CONTENT_CREATOR_WEBHOOK_SECRET="+secret, "SIM_PROGRESS_STEPS=3")

	// The first progress report is held until the test has looked at the state: the state file is written
	// before the callback is sent, so status must already tell what the callback is about to.
	firstProgress, release := make(chan struct{}), make(chan struct{})
	rec := newReceiver(t, func(n int, _ delivery) int {
		if n == 0 {
			close(firstProgress)
			<-release
		}
		return http.StatusOK
	})
	const id, topic = "task-happy-1", "边缘计算入门"
	s.create(nil, id, topic, rec.url(id))

	select {
	case <-firstProgress:
	case <-time.After(waitFor):
		t.Fatal("no progress callback")
	}
	st := s.status(id)
	close(release)
	require.Equal(t, "running", st.Status)
	require.Equal(t, 10, st.Progress.Percentage)
	require.NotEmpty(t, st.Progress.Stage)

	require.Equal(t, "done", s.waitWorker(id))
	st = s.status(id)
	require.Equal(t, "completed", st.Status)
	require.Equal(t, 100, st.Progress.Percentage)
	require.Nil(t, st.Error)

	got := rec.deliveries()
	require.Equal(t, []string{"progress", "progress", "progress", "progress", "completed"}, events(got))
	require.Equal(t, []int{10, 40, 70, 100}, percentages(got))

	ids := map[string]bool{}
	for _, d := range got {
		requireRealSenderHeaders(t, d, id)
		verifySchemeA(t, d, secret)
		verifySchemeC(t, d, secret)
		ids[d.header.Get("webhook-id")] = true
		require.Equal(t, map[string]any{"topic": topic, "requirements": "写一篇面向开发者的科普文章",
			"targetAudience": "普通读者"}, d.doc["metadata"])
	}
	require.Len(t, ids, len(got), "each event has its own webhook-id")

	progress := got[0].doc
	require.Equal(t, "running", progress["status"])
	require.NotContains(t, progress, "result")
	require.NotEmpty(t, progress["progress"].(map[string]any)["stage"])

	completed := got[len(got)-1]
	requireSameKeys(t, sampleBody(t, "callback-completed.body.json"), completed.doc, "body")
	res := completed.doc["result"].(map[string]any)
	content := res["content"].(string)
	require.True(t, strings.HasPrefix(content, "# "+topic+"\n"))
	require.Equal(t, content, res["htmlContent"], "like the real sender, htmlContent holds the Markdown")
	require.Equal(t, float64(len([]rune(content))), res["wordCount"])
	require.IsType(t, float64(0), res["qualityScore"])
	require.IsType(t, []any{}, res["metrics"].(map[string]any)["stepsCompleted"])

	r := s.result(id)
	require.Equal(t, id, r["taskId"])
	require.Equal(t, "completed", r["status"])
	require.Equal(t, content, r["content"])
	require.Equal(t, res["images"], r["images"])
	require.Equal(t, res["qualityScore"], r["qualityScore"])
	require.Equal(t, res["wordCount"], r["wordCount"])
	require.Equal(t, res["metrics"], r["metrics"])
}

func TestSchemeAOnlyForSecretsThatAreNotStandardWebhooks(t *testing.T) {
	t.Parallel()
	s := newSim(t, "CONTENT_CREATOR_WEBHOOK_SECRET=plain-secret", "SIM_PROGRESS_STEPS=0")
	rec := newReceiver(t, nil)
	const id = "task-plain-1"
	s.create(nil, id, "Plain secrets", rec.url(id))
	require.Equal(t, "done", s.waitWorker(id))

	got := rec.deliveries()
	require.Equal(t, []string{"completed"}, events(got), "no progress steps: only the outcome, like the real sender")
	verifySchemeA(t, got[0], "plain-secret")
	require.Empty(t, got[0].header.Get("webhook-signature"))
}

func TestUnsignedWithoutSecret(t *testing.T) {
	t.Parallel()
	s := newSim(t, "SIM_PROGRESS_STEPS=0")
	rec := newReceiver(t, nil)
	const id = "task-unsigned-1"
	s.create(nil, id, "No secret", rec.url(id))
	require.Equal(t, "done", s.waitWorker(id))

	got := rec.deliveries()
	require.Len(t, got, 1)
	for _, h := range []string{"X-Webhook-Signature", "X-Webhook-Timestamp", "webhook-id", "webhook-signature"} {
		require.Empty(t, got[0].header.Get(h), h)
	}
}

func TestArticleIsDeterministicPerTopic(t *testing.T) {
	t.Parallel()
	s := newSim(t, "SIM_DELAY=50ms")
	s.create(nil, "task-same-1", "Rust 所有权", "")
	s.create(nil, "task-same-2", "Rust 所有权", "")
	s.create(nil, "task-other-1", "Go 并发", "")
	for _, id := range []string{"task-same-1", "task-same-2", "task-other-1"} {
		require.Equal(t, "done", s.waitWorker(id))
	}
	a, b, c := s.result("task-same-1"), s.result("task-same-2"), s.result("task-other-1")
	require.Equal(t, a["content"], b["content"])
	require.Equal(t, a["qualityScore"], b["qualityScore"])
	require.NotEqual(t, a["content"], c["content"])
	require.True(t, strings.HasPrefix(c["content"].(string), "# Go 并发\n"))
}

func TestDuplicateIDRejected(t *testing.T) {
	t.Parallel()
	s := newSim(t)
	s.create(nil, "task-dup-1", "First", "")
	r := s.run(nil, "create", "--type", "content-creator", "--mode", "async", "--topic", "Second", "--task-id", "task-dup-1")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "UNIQUE constraint failed: tasks.id")
	require.Equal(t, "done", s.waitWorker("task-dup-1"))
	require.True(t, strings.HasPrefix(s.result("task-dup-1")["content"].(string), "# First\n"), "the first task is untouched")
}

func TestUnknownIDAndUsageErrors(t *testing.T) {
	t.Parallel()
	s := newSim(t)
	for _, args := range [][]string{
		{"status", "--task-id", "task-nope", "--json"},
		{"result", "--task-id", "task-nope", "--json"},
		{"cancel", "--task-id", "task-nope"},
	} {
		r := s.run(nil, args...)
		require.Equal(t, 1, r.code, args)
		require.Contains(t, r.stderr, "❌ 错误: 未找到任务 task-nope", args)
	}

	for _, args := range [][]string{
		{"create", "--type", "content-creator", "--mode", "async", "--task-id", "task-x-1"},
		{"create", "--type", "content-creator", "--mode", "async", "--topic", "T"},
		{"create", "--topic", "T", "--task-id", "../../escape"},
		{"create", "--topic", "T", "--task-id", "task-x-1", "--no-such-flag"},
		{"status", "--json"},
		{"frobnicate"},
		{},
	} {
		r := s.run(nil, args...)
		require.Equal(t, 2, r.code, args)
		require.NotEmpty(t, r.stderr, args)
	}
	r := s.run([]string{"SIM_DELAY=soon"}, "create", "--topic", "T", "--task-id", "task-x-1")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "SIM_DELAY")

	r = s.run(nil, "--help")
	require.Equal(t, 0, r.code)
	for _, word := range []string{"create", "status", "result", "cancel", "--task-id", "--callback-url",
		"CONTENT_CREATOR_SIM_STATE_DIR", "CONTENT_CREATOR_WEBHOOK_SECRET", "SIM_DELAY", "SIM_PROGRESS_STEPS",
		"SIM_FAIL", "SIM_FAIL_MESSAGE", "SIM_FAIL_ATTEMPTS", "SIM_NO_CALLBACK", "SIM_DUPLICATE",
		"SIM_OUT_OF_ORDER", "SIM_SLOW", "SIM_CRASH", "SIM_CRASH_ATTEMPTS", "SIM_CREATE_FAIL", "SIM_LOG", "[fail]", "[no-callback]",
		"[crash]", "[slow]"} {
		require.Contains(t, r.stdout, word)
	}
	r = s.run(nil, "create", "--help")
	require.Equal(t, 0, r.code)
	require.Contains(t, r.stdout, "-callback-url")
}

func TestCancel(t *testing.T) {
	t.Parallel()
	// A minute-long run: its first stage is 15 s away, so the task is certainly still pending when looked at.
	s := newSim(t, "SIM_DELAY=1m")
	rec := newReceiver(t, nil)
	const id = "task-cancel-1"
	s.create(nil, id, "Cancelled article", rec.url(id))
	require.Equal(t, "pending", s.status(id).Status)

	r := s.run(nil, "cancel", "--task-id", id)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "cancelled", s.status(id).Status)
	require.Equal(t, "done", s.waitWorker(id), "the worker notices the cancellation while waiting")
	require.Empty(t, rec.deliveries(), "a cancelled task sends no completion")
	require.Equal(t, "cancelled", s.status(id).Status)
	require.Equal(t, 0, s.run(nil, "cancel", "--task-id", id).code, "cancelling twice is fine")
	require.Equal(t, 1, s.run(nil, "result", "--task-id", id, "--json").code)

	const finished = "task-cancel-2"
	s.create([]string{"SIM_DELAY=0"}, finished, "Finished article", "")
	require.Equal(t, "done", s.waitWorker(finished))
	r = s.run(nil, "cancel", "--task-id", finished)
	require.Equal(t, 1, r.code, "a completed task cannot be cancelled")
	require.Equal(t, "completed", s.status(finished).Status)
}

func TestCancelWhileRunningStopsBeforeCompletion(t *testing.T) {
	t.Parallel()
	s := newSim(t)
	const id = "task-cancel-run-1"
	cancelled := make(chan error, 1)
	rec := newReceiver(t, func(n int, _ delivery) int {
		if n == 0 { // cancel while the worker waits for the answer to its first progress callback
			cmd := exec.Command(simBin, "cancel", "--task-id", id)
			cmd.Env = s.env
			out, err := cmd.CombinedOutput()
			if err != nil {
				err = fmt.Errorf("cancel: %w: %s", err, out)
			}
			cancelled <- err
		}
		return http.StatusOK
	})
	s.create(nil, id, "Cancelled mid-way", rec.url(id))
	require.Equal(t, "done", s.waitWorker(id))
	require.NoError(t, <-cancelled)

	require.Equal(t, []string{"progress"}, events(rec.deliveries()))
	st := s.status(id)
	require.Equal(t, "cancelled", st.Status)
	require.Equal(t, 10, st.Progress.Percentage)
}

func TestFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, id, topic string
		env             []string
		message         string
	}{
		{"SIM_FAIL", "task-fail-1", "Failing", []string{"SIM_FAIL=1", "SIM_FAIL_MESSAGE=boom"}, "boom"},
		{"marker", "task-failmark-1", "Failing [fail]", nil, "Text quality check failed after 3 attempts"},
		{"first attempt", "task-attempts-1", "Retried", []string{"SIM_FAIL_ATTEMPTS=1"}, "Text quality check failed after 3 attempts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSim(t, "SIM_PROGRESS_STEPS=3")
			rec := newReceiver(t, nil)
			s.create(tc.env, tc.id, tc.topic, rec.url(tc.id))
			require.Equal(t, "done", s.waitWorker(tc.id))

			got := rec.deliveries()
			require.Equal(t, []string{"progress", "progress", "failed"}, events(got), "fails half-way")
			failed := got[len(got)-1]
			requireRealSenderHeaders(t, failed, tc.id)
			requireSameKeys(t, sampleBody(t, "callback-failed.body.json"), failed.doc, "body")
			require.Equal(t, "failed", failed.doc["status"])
			e := failed.doc["error"].(map[string]any)
			require.Equal(t, tc.message, e["message"])
			require.Equal(t, "execution_error", e["type"])
			require.NotContains(t, e, "code", "the real sender sends no code")

			st := s.status(tc.id)
			require.Equal(t, "failed", st.Status)
			require.NotNil(t, st.Error)
			require.Equal(t, tc.message, st.Error.Message)
			require.Equal(t, "execution_error", st.Error.Type)
			require.NotEmpty(t, st.Error.Code)

			r := s.run(nil, "result", "--task-id", tc.id, "--json")
			require.Equal(t, 1, r.code)
			require.Contains(t, r.stderr, "failed")
		})
	}
}

func TestFailAttemptsLetsTheRetrySucceed(t *testing.T) {
	t.Parallel()
	s := newSim(t, "SIM_FAIL_ATTEMPTS=1", "SIM_PROGRESS_STEPS=0")
	rec := newReceiver(t, nil)
	s.create(nil, "task-retry-1", "Retried", rec.url("task-retry-1"))
	s.create(nil, "task-retry-2", "Retried", rec.url("task-retry-2"))
	require.Equal(t, "done", s.waitWorker("task-retry-1"))
	require.Equal(t, "done", s.waitWorker("task-retry-2"))
	require.Equal(t, "failed", s.status("task-retry-1").Status)
	require.Equal(t, "completed", s.status("task-retry-2").Status)

	byTask := map[string]string{}
	for _, d := range rec.deliveries() {
		byTask[d.doc["taskId"].(string)] = d.event()
	}
	require.Equal(t, map[string]string{"task-retry-1": "failed", "task-retry-2": "completed"}, byTask)
}

func TestNoCallback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, topic, env string }{
		{"SIM_NO_CALLBACK", "Silent", "SIM_NO_CALLBACK=1"},
		{"marker", "Silent [no-callback]", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSim(t)
			rec := newReceiver(t, nil)
			const id = "task-silent-1"
			s.create([]string{tc.env}, id, tc.topic, rec.url(id))
			require.Equal(t, "done", s.waitWorker(id))
			require.Empty(t, rec.deliveries())
			require.Equal(t, "completed", s.status(id).Status, "polling still sees the truth")
			require.True(t, strings.HasPrefix(s.result(id)["content"].(string), "# "+tc.topic+"\n"))
		})
	}
}

func TestDuplicateCallbacks(t *testing.T) {
	t.Parallel()
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("duplicate key"))
	s := newSim(t, "SIM_DUPLICATE=1", "SIM_PROGRESS_STEPS=1", "CONTENT_CREATOR_WEBHOOK_SECRET="+secret)
	rec := newReceiver(t, nil)
	const id = "task-twice-1"
	s.create(nil, id, "Twice", rec.url(id))
	require.Equal(t, "done", s.waitWorker(id))

	got := rec.deliveries()
	require.Equal(t, []string{"progress", "progress", "progress", "progress", "completed", "completed"}, events(got))
	for i := 0; i < len(got); i += 2 {
		require.Equal(t, got[i].body, got[i+1].body, "a duplicate is the same delivery")
		require.Equal(t, got[i].header.Get("webhook-id"), got[i+1].header.Get("webhook-id"))
		verifySchemeC(t, got[i+1], secret)
	}
	require.NotEqual(t, got[0].header.Get("webhook-id"), got[2].header.Get("webhook-id"))
}

func TestOutOfOrderProgress(t *testing.T) {
	t.Parallel()
	s := newSim(t, "SIM_OUT_OF_ORDER=1", "SIM_PROGRESS_STEPS=3")
	rec := newReceiver(t, nil)
	const id = "task-scrambled-1"
	s.create(nil, id, "Scrambled", rec.url(id))
	require.Equal(t, "done", s.waitWorker(id))

	got := rec.deliveries()
	require.Equal(t, "completed", got[len(got)-1].event())
	p := percentages(got)
	require.ElementsMatch(t, []int{10, 40, 70, 100}, p)
	require.False(t, slices.IsSorted(p), "progress arrives out of order: %v", p)
	require.Equal(t, 100, s.status(id).Progress.Percentage, "the state itself only moves forward")
}

func TestCrash(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, topic, env string }{
		{"SIM_CRASH", "Crashing", "SIM_CRASH=1"},
		{"marker", "Crashing [crash]", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSim(t, "SIM_PROGRESS_STEPS=3")
			rec := newReceiver(t, nil)
			const id = "task-crash-1"
			s.create([]string{tc.env}, id, tc.topic, rec.url(id))
			require.Equal(t, "crashed", s.waitWorker(id))

			for _, e := range events(rec.deliveries()) {
				require.Equal(t, "progress", e, "a crashed worker sends no outcome")
			}
			st := s.status(id)
			require.Equal(t, "running", st.Status)
			require.Less(t, st.Progress.Percentage, 100)
			require.Equal(t, 1, s.run(nil, "result", "--task-id", id, "--json").code)
		})
	}
}

// TestCrashAttemptsLeaveALostRunAndLetTheRetrySucceed: the first attempt
// reports running forever, its progress and update time frozen (a lost run,
// SERVICE.md §14), until it is cancelled; the second completes.
func TestCrashAttemptsLeaveALostRunAndLetTheRetrySucceed(t *testing.T) {
	t.Parallel()
	s := newSim(t, "SIM_CRASH_ATTEMPTS=1", "SIM_PROGRESS_STEPS=3")
	rec := newReceiver(t, nil)
	s.create(nil, "task-lost-1", "Lost", rec.url("task-lost-1"))
	s.create(nil, "task-lost-2", "Lost", rec.url("task-lost-2"))
	require.Equal(t, "crashed", s.waitWorker("task-lost-1"))
	require.Equal(t, "done", s.waitWorker("task-lost-2"))

	first := s.status("task-lost-1")
	require.Equal(t, "running", first.Status)
	time.Sleep(50 * time.Millisecond)
	again := s.status("task-lost-1")
	require.Equal(t, first, again, "a crashed run does not advance")
	require.Equal(t, "completed", s.status("task-lost-2").Status)

	require.Equal(t, 0, s.run(nil, "cancel", "--task-id", "task-lost-1").code)
	require.Equal(t, "cancelled", s.status("task-lost-1").Status)
}

func TestCreateFail(t *testing.T) {
	t.Parallel()
	s := newSim(t)
	r := s.run([]string{"SIM_CREATE_FAIL=1"}, "create", "--type", "content-creator", "--mode", "async",
		"--topic", "T", "--task-id", "task-nocreate-1")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "SIM_CREATE_FAIL")
	require.NotContains(t, r.stdout, `"taskId"`)
	require.Equal(t, 1, s.run(nil, "status", "--task-id", "task-nocreate-1", "--json").code, "nothing was recorded")
}

func TestCallbackRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		codes []int
	}{
		{"500 then 200", []int{500, 200}},
		{"204 is not success", []int{204, 200}},
		{"201 is not success, 202 is", []int{201, 202}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("retry key"))
			s := newSim(t, "SIM_PROGRESS_STEPS=0", "CONTENT_CREATOR_WEBHOOK_SECRET="+secret)
			rec := newReceiver(t, func(n int, _ delivery) int { return tc.codes[min(n, len(tc.codes)-1)] })
			const id = "task-retried-1"
			s.create(nil, id, "Retried delivery", rec.url(id))
			require.Equal(t, "done", s.waitWorker(id))

			got := rec.deliveries()
			require.Len(t, got, 2, "one failed try, then the accepted one")
			require.Equal(t, got[0].body, got[1].body, "the body is identical across retries")
			require.Equal(t, got[0].doc["timestamp"], got[1].doc["timestamp"])
			require.Equal(t, got[0].header.Get("webhook-id"), got[1].header.Get("webhook-id"))
			verifySchemeA(t, got[1], secret)
			verifySchemeC(t, got[1], secret)
		})
	}
}

func TestGivesUpAfterConfiguredAttempts(t *testing.T) {
	t.Parallel()
	s := newSim(t, "SIM_PROGRESS_STEPS=0", "SIM_CALLBACK_ATTEMPTS=3")
	rec := newReceiver(t, func(int, delivery) int { return http.StatusServiceUnavailable })
	const id = "task-refused-1"
	s.create(nil, id, "Refused", rec.url(id))
	require.Equal(t, "done", s.waitWorker(id))
	require.Len(t, rec.deliveries(), 3)
	require.Equal(t, "completed", s.status(id).Status)
}

func TestConcurrentCreates(t *testing.T) {
	t.Parallel()
	s := newSim(t, "SIM_DELAY=50ms")
	const n = 8
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			codes[i] = s.run(nil, "create", "--topic", fmt.Sprintf("Topic %d", i), "--task-id", fmt.Sprintf("task-many-%d", i)).code
		})
	}
	wg.Wait()
	for i := range n {
		require.Equal(t, 0, codes[i])
		id := fmt.Sprintf("task-many-%d", i)
		require.Equal(t, "done", s.waitWorker(id))
		require.Equal(t, "completed", s.status(id).Status)
	}
}

func TestSharedLogFile(t *testing.T) {
	t.Parallel()
	s := newSim(t)
	logPath := filepath.Join(t.TempDir(), "sim.log")
	s.create([]string{"SIM_LOG=" + logPath, "SIM_DELAY=0"}, "task-log-1", "Logged", "")
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(logPath); bytes.Contains(b, []byte(`"worker exiting"`)) {
			require.Contains(t, string(b), `"task_id":"task-log-1"`)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the worker did not log to SIM_LOG")
}
