package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
)

// The published content-creator, as the cli profile meets it: fake CLIs replay
// its captured output (testdata/, byte for byte what it printed) through the
// real service binary.

// cliCreator is a fake of the published CLI for CREATOR_PROFILE=cli. Every
// create is recorded (dir/creates.log) with its pid (dir/<ref>.pid) before
// body runs with $ref set to its --taskId; status answers "not found" unless
// status is given.
type cliCreator struct {
	path, dir string
}

func newCLICreator(t *testing.T, create string, status ...string) cliCreator {
	t.Helper()
	dir := t.TempDir()
	samples, err := filepath.Abs("testdata")
	require.NoError(t, err)
	statusBody := `echo "❌ 错误: 未找到任务 $ref" >&2; exit 1`
	if len(status) > 0 {
		statusBody = status[0]
	}
	script := `DIR='` + dir + `'; SAMPLES='` + samples + `'
ref=; prev=
for a in "$@"; do
  case "$prev" in --taskId|--task-id|-t) ref=$a ;; esac
  prev=$a
done
case "$1" in
create)
  ` + recordCreates(filepath.Join(dir, "creates.log")) + `
  echo $$ > "$DIR/$ref.pid.tmp"; mv "$DIR/$ref.pid.tmp" "$DIR/$ref.pid"
  ` + create + `
  ;;
status) ` + statusBody + ` ;;
*) echo "$1 $ref" >> "$DIR/others.log"; exit 0 ;;
esac
`
	return cliCreator{path: writeScript(t, script), dir: dir}
}

// replaySample prints a captured create run for $ref, as the real program
// prints the id it runs.
func replaySample(sample, sampleID string) string {
	return `sed "s/` + sampleID + `/$ref/g" "$SAMPLES/` + sample + `.stdout"; cat "$SAMPLES/` + sample + `.stderr" >&2`
}

func (c cliCreator) creates(t *testing.T) []createCall {
	return readCreates(t, filepath.Join(c.dir, "creates.log"))
}

func (c cliCreator) pid(t *testing.T, name string) int {
	t.Helper()
	path := filepath.Join(c.dir, name)
	require.Eventually(t, func() bool { _, err := os.Stat(path); return err == nil }, 20*time.Second, 10*time.Millisecond,
		"the fake CLI did not write %s", name)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var pid int
	_, err = fmt.Sscan(string(b), &pid)
	require.NoError(t, err)
	return pid
}

func cliProfile(c cliCreator, extra ...string) []string {
	return append([]string{"CREATOR_PROFILE=cli", "CREATOR_CLI_PATH=" + c.path}, extra...)
}

// sampleArticle is the article of the captured run: the same generator's
// callback carries it, and the CLI prints it between its separators.
func sampleArticle(t *testing.T) string {
	t.Helper()
	var cb struct {
		Result struct{ Content string } `json:"result"`
	}
	raw, err := os.ReadFile("testdata/callback-completed.body.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &cb))
	return cb.Result.Content
}

type contentView struct {
	TaskID       string   `json:"task_id"`
	Content      string   `json:"content"`
	Images       []string `json:"images"`
	QualityScore *float64 `json:"quality_score"`
	Title        string   `json:"title"`
}

func (s *service) content(id string) contentView {
	s.t.Helper()
	var c contentView
	require.Equal(s.t, http.StatusOK, s.call(http.MethodGet, "/api/v1/contents/"+id, nil, &c))
	return c
}

// TestE2ECLIProfileCompletesFromTheProcessExit: the completed sample's run
// completes the task with exactly the article between the separators, its two
// images and its quality score; nothing was called back.
func TestE2ECLIProfileCompletesFromTheProcessExit(t *testing.T) {
	t.Parallel()
	for name, dbURL := range map[string]func(testing.TB) string{"sqlite": sqlstoretest.SQLiteURL, "postgres": sqlstoretest.PostgresURL} {
		t.Run(name, func(t *testing.T) {
			cli := newCLICreator(t, "sleep 0.3; "+replaySample("cli-create-completed", "test-cli-001"))
			svc := startService(t, t.TempDir(), cliProfile(cli, "DATABASE_URL="+dbURL(t)))
			id := svc.createTask("边缘计算入门")

			v := waitTask(svc, id, "completed", 30*time.Second, func(v taskView) bool { return v.Status == "completed" })
			require.Equal(t, 1, v.Attempt)
			content := svc.content(requireCompletedOnce(t, svc, svc.pool(), id))
			require.Equal(t, sampleArticle(t), content.Content, "exactly the article between the separators")
			require.Equal(t, "边缘计算入门", content.Title)
			require.Equal(t, []string{
				"data/images/" + id + "-1_0_1795861895422.png", "data/images/" + id + "-1_1_1795861895422.png",
			}, content.Images)
			require.NotNil(t, content.QualityScore)
			require.Equal(t, 8.0, *content.QualityScore)
			require.Empty(t, svc.deliveries(id).Items, "the CLI never calls back: the exit carried the outcome")

			creates := cli.creates(t)
			require.Len(t, creates, 1)
			require.Equal(t, id+"-1", creates[0].TaskID)
		})
	}
}

// TestE2ECLIProfileFailedRunRetriesWithANewRef: the failed sample fails the
// attempt with the reason from its log lines; the retry is a new create with
// a new ref, which completes.
func TestE2ECLIProfileFailedRunRetriesWithANewRef(t *testing.T) {
	t.Parallel()
	cli := newCLICreator(t, `case "$ref" in
*-1) `+replaySample("cli-create-failed", "test-fail-001")+` ;;
*) `+replaySample("cli-create-completed", "test-cli-001")+` ;;
esac`)
	svc := startService(t, t.TempDir(), cliProfile(cli, "DATABASE_URL="+sqlstoretest.SQLiteURL(t)))
	id := svc.createTask("边缘计算入门")

	v := waitTask(svc, id, "back to pending for attempt 2", 30*time.Second, func(v taskView) bool { return v.Attempt == 2 })
	require.NotNil(t, v.LastError)
	require.Contains(t, v.LastError.Text, "Text quality check failed after 3 attempts")
	require.Equal(t, "failed", v.Attempts[0].State)

	v = waitTask(svc, id, "completed on attempt 2", retryWait, func(v taskView) bool { return v.Status == "completed" })
	require.Equal(t, 2, v.Attempt)
	require.Contains(t, v.LastError.Text, "Text quality check failed after 3 attempts", "the failed attempt's error is kept")
	requireCompletedOnce(t, svc, svc.pool(), id)
	var refs []string
	for _, c := range cli.creates(t) {
		refs = append(refs, c.TaskID)
	}
	require.Equal(t, []string{id + "-1", id + "-2"}, refs, "each attempt has its own ref: the program refuses one it has seen")
}

// TestE2ECLIProfileCrashAndAsyncOutput: a child killed mid-run fails with
// CREATOR_CRASHED and the end of its stderr; the async banner is never
// mistaken for success.
func TestE2ECLIProfileCrashAndAsyncOutput(t *testing.T) {
	t.Parallel()
	cli := newCLICreator(t, `case "$*" in
*崩溃*) echo "generating..." >&2; echo $$ > "$DIR/$ref.ready.tmp"; mv "$DIR/$ref.ready.tmp" "$DIR/$ref.ready"; sleep 300 ;;
*) cat "$SAMPLES/cli-create-async.stdout" ;;
esac`)
	svc := startService(t, t.TempDir(), cliProfile(cli, "DATABASE_URL="+sqlstoretest.SQLiteURL(t)))
	crashed := createTaskWith(svc, "崩溃 crash", map[string]any{"max_retries": 0})
	queued := createTaskWith(svc, "queued elsewhere", map[string]any{"max_retries": 0})

	require.NoError(t, syscall.Kill(cli.pid(t, crashed+"-1.ready"), syscall.SIGKILL))
	v := waitTask(svc, crashed, "failed", 30*time.Second, func(v taskView) bool { return v.Status == "failed" })
	require.Equal(t, "CREATOR_CRASHED", v.LastError.Code)
	require.Contains(t, v.LastError.Text, "signal: killed")
	require.Contains(t, v.LastError.Text, "generating...")

	v = waitTask(svc, queued, "failed", 30*time.Second, func(v taskView) bool { return v.Status == "failed" })
	require.Equal(t, "CREATOR_BAD_OUTPUT", v.LastError.Code)
	require.Nil(t, v.ContentID)
}

// TestE2ECallbackAndExitTellTheSameOutcomeOnce: whichever of callback and
// process exit arrives first completes the task; the other changes nothing.
func TestE2ECallbackAndExitTellTheSameOutcomeOnce(t *testing.T) {
	t.Parallel()
	// create waits for a go file before it prints the completed run.
	cli := newCLICreator(t, `while [ ! -e "$DIR/$ref.go" ]; do sleep 0.05; done
`+replaySample("cli-create-completed", "test-cli-001"))
	svc := startService(t, t.TempDir(), cliProfile(cli, "DATABASE_URL="+sqlstoretest.SQLiteURL(t)))
	release := func(ref string) { require.NoError(t, os.WriteFile(filepath.Join(cli.dir, ref+".go"), nil, 0o644)) }
	callback := func(c createCall, ref, marker string) (int, map[string]any) {
		raw, err := os.ReadFile("testdata/callback-completed.body.json")
		require.NoError(t, err)
		body := strings.ReplaceAll(string(raw), "test-api-001", ref)
		body = strings.Replace(body, `"content":"# 边缘计算入门`, `"content":"# `+marker, 1)
		resp, err := http.Post(c.CallbackURL, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		var answer map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&answer))
		return resp.StatusCode, answer
	}
	createOf := func(id string) createCall {
		var c []createCall
		require.Eventually(t, func() bool { c = createsOf(cli.creates(t), id); return len(c) == 1 }, 20*time.Second, 10*time.Millisecond)
		return c[0]
	}

	t.Run("callback while the child runs, then the exit", func(t *testing.T) {
		id := svc.createTask("边缘计算入门 callback first")
		c := createOf(id)
		svc.waitStatus(id, "processing", 20*time.Second)
		code, answer := callback(c, id+"-1", "回调先到")
		require.Equal(t, http.StatusOK, code, "%v", answer)
		require.Equal(t, "completed", answer["status"])
		var before taskState
		require.Equal(t, http.StatusOK, svc.call(http.MethodGet, "/api/v1/content/tasks/"+id, nil, &before))

		release(id + "-1")
		require.Eventually(t, func() bool { return processGone(cli.pid(t, id+"-1.pid")) }, 20*time.Second, 10*time.Millisecond)
		time.Sleep(300 * time.Millisecond) // the exit's outcome has been applied (or ignored) by now
		var after taskState
		require.Equal(t, http.StatusOK, svc.call(http.MethodGet, "/api/v1/content/tasks/"+id, nil, &after))
		require.Equal(t, before, after, "the later exit changes nothing")
		content := svc.content(requireCompletedOnce(t, svc, svc.pool(), id))
		require.Equal(t, "回调先到", content.Title, "the callback's article was kept")
	})

	t.Run("the exit first, then the callback", func(t *testing.T) {
		id := svc.createTask("边缘计算入门 exit first")
		c := createOf(id)
		release(id + "-1")
		svc.waitStatus(id, "completed", 20*time.Second)
		var before taskState
		require.Equal(t, http.StatusOK, svc.call(http.MethodGet, "/api/v1/content/tasks/"+id, nil, &before))

		code, answer := callback(c, id+"-1", "回调后到")
		require.Equal(t, http.StatusOK, code, "%v", answer)
		require.Equal(t, true, answer["duplicate"], "%v", answer)
		var after taskState
		require.Equal(t, http.StatusOK, svc.call(http.MethodGet, "/api/v1/content/tasks/"+id, nil, &after))
		require.Equal(t, before, after)
		content := svc.content(requireCompletedOnce(t, svc, svc.pool(), id))
		require.Equal(t, sampleArticle(t), content.Content, "the exit's article was kept")
	})
}

// TestE2ECancelAndDeadlineKillTheRun: both end the child and its
// grandchildren, checked by pid.
func TestE2ECancelAndDeadlineKillTheRun(t *testing.T) {
	t.Parallel()
	body := `sleep 300 &
echo $! > "$DIR/$ref.grandchild.tmp"; mv "$DIR/$ref.grandchild.tmp" "$DIR/$ref.grandchild"
sleep 300`

	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		cli := newCLICreator(t, body)
		svc := startService(t, t.TempDir(), cliProfile(cli, "DATABASE_URL="+sqlstoretest.SQLiteURL(t)))
		id := svc.createTask("取消 cancel me")
		child, grandchild := cli.pid(t, id+"-1.pid"), cli.pid(t, id+"-1.grandchild")
		v, _ := svc.waitStatus(id, "processing", 20*time.Second)
		require.Equal(t, "running", v.Progress.Stage, "processing while the child runs")
		require.Equal(t, http.StatusOK, svc.call(http.MethodPost, "/api/v1/content/tasks/"+id+"/cancel", nil, &v))
		require.Equal(t, "cancelled", v.Status)
		requireProcessGone(t, child)
		requireProcessGone(t, grandchild)
	})

	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		cli := newCLICreator(t, body)
		env := append(cliProfile(cli, "DATABASE_URL="+sqlstoretest.SQLiteURL(t), "TASK_TIMEOUT=2s"), fastPolling...)
		svc := startService(t, t.TempDir(), env)
		id := createTaskWith(svc, "超时 runs past its deadline", map[string]any{"max_retries": 0})
		child, grandchild := cli.pid(t, id+"-1.pid"), cli.pid(t, id+"-1.grandchild")
		v := waitTask(svc, id, "timeout", 30*time.Second, func(v taskView) bool { return v.Status == "timeout" })
		require.Equal(t, "TIMEOUT", v.LastError.Code)
		requireProcessGone(t, child)
		requireProcessGone(t, grandchild)
	})
}

// TestE2EDefaultsAndUsageErrors: a task without requirements reaches the
// creator with the documented default; a usage error fails the task after
// one call, with the message in last_error — in both CLI profiles.
func TestE2EDefaultsAndUsageErrors(t *testing.T) {
	t.Parallel()
	usage := `printf '❌ 参数错误:\n  • 缺少必需参数: requirements\n' >&2; exit 1`
	for _, profile := range []string{"contract", "cli"} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			cli := newCLICreator(t, `case "$*" in
*refuse*) `+usage+` ;;
*) `+replaySample("cli-create-completed", "test-cli-001")+`; echo '{"taskId":"'$ref'","status":"pending"}' ;;
esac`)
			env := []string{"CREATOR_PROFILE=" + profile, "CREATOR_CLI_PATH=" + cli.path, "DATABASE_URL=" + sqlstoretest.SQLiteURL(t)}
			svc := startService(t, t.TempDir(), env)

			id := createTaskWith(svc, "边缘计算入门", map[string]any{"keywords": "edge,iot"})
			c := func() createCall {
				var c []createCall
				require.Eventually(t, func() bool { c = createsOf(cli.creates(t), id); return len(c) == 1 }, 20*time.Second, 10*time.Millisecond)
				return c[0]
			}()
			require.Equal(t, "围绕「边缘计算入门」写一篇结构清晰、内容准确的文章，自然融入关键词：edge、iot。", c.Requirements)

			refused := svc.createTask("refuse me")
			v := waitTask(svc, refused, "failed", 30*time.Second, func(v taskView) bool { return v.Status == "failed" })
			require.Equal(t, 1, v.Attempt, "no retry of identical arguments")
			require.Equal(t, "SUBMIT_REFUSED", v.LastError.Code)
			require.Contains(t, v.LastError.Text, "缺少必需参数: requirements")
			time.Sleep(500 * time.Millisecond)
			require.Len(t, createsOf(cli.creates(t), refused), 1, "one call")
		})
	}
}

// TestE2EAmbiguousSubmitKeepsTheAttempt is the reproduction: create
// starts the job, then outlives CREATOR_SUBMIT_TIMEOUT. The attempt stays
// open, its callbacks complete the task with the first article; there is no
// second attempt and no second generation.
func TestE2EAmbiguousSubmitKeepsTheAttempt(t *testing.T) {
	t.Parallel()
	for name, dbURL := range map[string]func(testing.TB) string{"sqlite": sqlstoretest.SQLiteURL, "postgres": sqlstoretest.PostgresURL} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			record := filepath.Join(t.TempDir(), "creates.log")
			state := filepath.Join(t.TempDir(), "content-creator-sim")
			cli := writeScript(t, `if [ "$1" = create ]; then
  `+recordCreates(record)+`
  `+simulator()+` "$@"; rc=$?
  sleep 10
  exit $rc
fi
exec `+simulator()+` "$@"
`)
			env := append([]string{
				"DATABASE_URL=" + dbURL(t), "CONTENT_CREATOR_SIM_STATE_DIR=" + state, "CREATOR_CLI_PATH=" + cli,
				"CREATOR_SUBMIT_TIMEOUT=3s", "SIM_DELAY=5s", // the article comes after the submit timed out
			}, fastPolling...)
			svc := startService(t, t.TempDir(), env)
			id := svc.createTask("模糊的提交 ambiguous submit")

			v := waitTask(svc, id, "completed", 45*time.Second, func(v taskView) bool { return v.Status == "completed" })
			require.Equal(t, 1, v.Attempt, "no attempt 2")
			require.Len(t, v.Attempts, 1)
			require.Equal(t, "completed", v.Attempts[0].State)
			require.Nil(t, v.LastError)
			requireCompletedOnce(t, svc, svc.pool(), id)

			require.Len(t, createsOf(readCreates(t, record), id), 1, "one create")
			generated, err := filepath.Glob(filepath.Join(state, id+"-*.json"))
			require.NoError(t, err)
			require.Equal(t, []string{filepath.Join(state, id+"-1.json")}, generated, "exactly one generation")
		})
	}
}

func requireProcessGone(t *testing.T, pid int) {
	t.Helper()
	require.Eventually(t, func() bool { return processGone(pid) }, 20*time.Second, 10*time.Millisecond, "process %d still runs", pid)
}

// processGone reports whether pid no longer runs; a zombie counts as gone.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// fakeCreatorAPI plays the published content-creator's HTTP server with its
// captured answers. A GET of an id it never took fails the test: the real
// one dies of it.
type fakeCreatorAPI struct {
	t     *testing.T
	mu    sync.Mutex
	posts []map[string]any
	took  map[string]string // id → status
	// deleted are the ids it was asked to cancel (DELETE /api/tasks/{id}).
	deleted []string
	srv     *httptest.Server
	// create answers one POST /api/tasks; it may call back first.
	create func(w http.ResponseWriter, body map[string]any, attempt int)
}

func newFakeCreatorAPI(t *testing.T, create func(w http.ResponseWriter, body map[string]any, attempt int)) *fakeCreatorAPI {
	f := &fakeCreatorAPI{t: t, took: map[string]string{}, create: create}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCreatorAPI) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/tasks":
		var body map[string]any
		require.NoError(f.t, json.NewDecoder(r.Body).Decode(&body))
		f.mu.Lock()
		f.posts = append(f.posts, body)
		n := len(f.posts)
		f.mu.Unlock()
		f.create(w, body, n)
	case r.Method == http.MethodGet && r.URL.Path == "/api/tasks":
		f.mu.Lock()
		tasks := []map[string]string{}
		for id, st := range f.took {
			tasks = append(tasks, map[string]string{"id": id, "status": st})
		}
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "data": map[string]any{
			"tasks": tasks, "pagination": map[string]int{"page": 1, "totalPages": 1},
		}})
	default:
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/tasks/"), "/result")
		f.mu.Lock()
		st, ok := f.took[id]
		if ok && r.Method == http.MethodDelete {
			f.deleted = append(f.deleted, id)
		}
		f.mu.Unlock()
		if !ok {
			f.t.Errorf("%s %s: an id it never took", r.Method, r.URL.Path)
			panic(http.ErrAbortHandler)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "data": map[string]any{"id": id, "status": st}})
	}
}

// answer writes a captured answer (testdata/api-*.txt) for id.
func (f *fakeCreatorAPI) answer(w http.ResponseWriter, sample, sampleID, id string) {
	raw, err := os.ReadFile("testdata/" + sample)
	require.NoError(f.t, err)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	require.NoError(f.t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(f.t, err)
	if sampleID != "" {
		body = bytes.ReplaceAll(body, []byte(sampleID), []byte(id))
		f.mu.Lock()
		f.took[id] = "completed"
		f.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// callBack posts the captured completed callback for the body's id to its
// URL, as its server does: unsigned, the token in the URL.
func (f *fakeCreatorAPI) callBack(body map[string]any) int {
	code, _ := f.callBackAs(body, body["idempotencyKey"].(string))
	return code
}

// callBackAs posts the captured completed callback naming id (the id the
// server ran the job under) to the body's URL, and returns the answer.
func (f *fakeCreatorAPI) callBackAs(body map[string]any, id string) (int, map[string]any) {
	raw, err := os.ReadFile("testdata/callback-completed.body.json")
	require.NoError(f.t, err)
	req, err := http.NewRequest(http.MethodPost, body["callbackUrl"].(string), bytes.NewReader(bytes.ReplaceAll(raw, []byte("test-api-001"), []byte(id))))
	require.NoError(f.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "content-creator/1.0")
	req.Header.Set("X-Webhook-Event", "completed")
	req.Header.Set("X-Task-ID", id)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	var answer map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&answer)
	return resp.StatusCode, answer
}

// TestE2EAPIProfile: the published server's answers and callbacks through
// the real binary — its callback completes the task, a 400 is a permanent
// failure naming the field, a dropped connection is retried.
func TestE2EAPIProfile(t *testing.T) {
	t.Parallel()
	var api *fakeCreatorAPI
	api = newFakeCreatorAPI(t, func(w http.ResponseWriter, body map[string]any, _ int) {
		id := body["idempotencyKey"].(string)
		switch topic := body["topic"].(string); {
		case strings.Contains(topic, "refused"):
			api.answer(w, "api-post-no-audience.txt", "", id)
		case strings.Contains(topic, "dropped") && strings.HasSuffix(id, "-1"):
			conn, _, err := w.(http.Hijacker).Hijack()
			require.NoError(t, err)
			_ = conn.Close()
		default:
			require.Equal(t, http.StatusOK, api.callBack(body), "its callback is answered 200")
			api.answer(w, "api-post-ok.txt", "test-api-001", id)
		}
	})
	// CREATOR_STATUS_TIMEOUT also bounds how long an unknown id may be a
	// run still starting: short, so the dropped submission is retried soon.
	env := append([]string{"CREATOR_PROFILE=api", "CREATOR_API_BASE_URL=" + api.srv.URL, "DATABASE_URL=" + sqlstoretest.SQLiteURL(t),
		"CREATOR_STATUS_TIMEOUT=2s"}, fastPolling...)
	svc := startService(t, t.TempDir(), env)

	completed := svc.createTask("边缘计算入门")
	refused := svc.createTask("refused 边缘计算")
	dropped := svc.createTask("dropped 边缘计算")

	v := waitTask(svc, completed, "completed", 30*time.Second, func(v taskView) bool { return v.Status == "completed" })
	require.Equal(t, 1, v.Attempt)
	ds := svc.deliveries(completed).Items
	require.NotEmpty(t, ds)
	require.Equal(t, "completed", ds[0].Event)
	require.Equal(t, "applied", ds[0].Outcome, "its callback completed the task; the answer that followed changed nothing")
	content := svc.content(requireCompletedOnce(t, svc, svc.pool(), completed))
	require.True(t, strings.HasPrefix(content.Content, "# 边缘计算入门\n\n## 引言"))

	v = waitTask(svc, refused, "failed", 30*time.Second, func(v taskView) bool { return v.Status == "failed" })
	require.Equal(t, 1, v.Attempt, "a 4xx is not retried")
	require.Equal(t, "SUBMIT_REFUSED", v.LastError.Code)
	require.Contains(t, v.LastError.Text, "targetAudience")

	v = waitTask(svc, dropped, "completed on attempt 2", retryWait, func(v taskView) bool { return v.Status == "completed" })
	require.Equal(t, 2, v.Attempt, "the dropped submission was retried as a new attempt")
	require.Equal(t, "failed", v.Attempts[0].State)
	require.Equal(t, "UNKNOWN_TO_CREATOR", v.LastError.Code, "its task list said it never took attempt 1")
	requireCompletedOnce(t, svc, svc.pool(), dropped)

	api.mu.Lock()
	defer api.mu.Unlock()
	first := api.posts[0]
	require.Equal(t, "sync", first["mode"])
	require.Equal(t, domain.DefaultTargetAudience, first["targetAudience"])
	require.NotContains(t, first, "tone")
	require.Contains(t, first["callbackUrl"], "?token=")
}

// TestE2EAPIProfileKeepsTheIDItReports (issue #19): the published server may
// run a job under an id of its own. The id its answer names is the attempt's
// external ref, and its callback naming that id is accepted — whether the
// answer or the callback comes first. The id sent, which it never took, is
// never asked about (the fake fails the test if it is: the real one dies).
func TestE2EAPIProfileKeepsTheIDItReports(t *testing.T) {
	t.Parallel()
	for name, dbURL := range map[string]func(testing.TB) string{"sqlite": sqlstoretest.SQLiteURL, "postgres": sqlstoretest.PostgresURL} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			type call struct {
				body map[string]any
				own  string
				code int
				resp map[string]any
			}
			calls := make(chan call, 4)
			var api *fakeCreatorAPI
			api = newFakeCreatorAPI(t, func(w http.ResponseWriter, body map[string]any, n int) {
				c := call{body: body, own: fmt.Sprintf("cc-own-%d", n)}
				if strings.Contains(body["topic"].(string), "callback first") {
					c.code, c.resp = api.callBackAs(body, c.own)
				}
				api.answer(w, "api-post-ok.txt", "test-api-001", c.own)
				calls <- c
			})
			env := append([]string{"CREATOR_PROFILE=api", "CREATOR_API_BASE_URL=" + api.srv.URL, "DATABASE_URL=" + dbURL(t)}, fastPolling...)
			svc := startService(t, t.TempDir(), env)
			ownRef := func(v taskView) string {
				if len(v.Attempts) == 0 {
					return ""
				}
				return v.Attempts[0].ExternalRef
			}

			// The answer first: it completes the task and its id is kept;
			// the callback naming that id, which follows, is a duplicate.
			answered := svc.createTask("边缘计算入门 answer first")
			c := <-calls
			require.Equal(t, answered+"-1", c.body["idempotencyKey"], "the id sent")
			v := waitTask(svc, answered, "completed", 30*time.Second, func(v taskView) bool { return v.Status == "completed" })
			require.Equal(t, c.own, ownRef(v), "the id its answer names is the attempt's external ref")
			code, resp := api.callBackAs(c.body, c.own)
			require.Equal(t, http.StatusOK, code, "its callback with the id it reported: %v", resp)
			require.Equal(t, true, resp["duplicate"], "%v", resp)
			requireCompletedOnce(t, svc, svc.pool(), answered)

			// The callback first: accepted (the token authenticates it), it
			// completes the task; the answer that follows changes nothing.
			calledBack := svc.createTask("边缘计算入门 callback first")
			c = <-calls
			require.Equal(t, http.StatusOK, c.code, "%v", c.resp)
			require.Equal(t, "completed", c.resp["status"], "%v", c.resp)
			v = waitTask(svc, calledBack, "completed", 30*time.Second, func(v taskView) bool { return v.Status == "completed" })
			require.Equal(t, c.own, ownRef(v))
			ds := svc.deliveries(calledBack).Items
			require.Len(t, ds, 1)
			require.Equal(t, "applied", ds[0].Outcome)
			requireCompletedOnce(t, svc, svc.pool(), calledBack)
		})
	}
}

// TestE2ECLIProfileKeepsTheIDItPrints (issue #19): a run the CLI printed
// under an id of its own is that run's outcome, not CREATOR_BAD_OUTPUT, and
// the id is the attempt's from then on: the failed run's reason is asked of
// `status -t` with it, and the retry's run completes the task through its own.
func TestE2ECLIProfileKeepsTheIDItPrints(t *testing.T) {
	t.Parallel()
	for name, dbURL := range map[string]func(testing.TB) string{"sqlite": sqlstoretest.SQLiteURL, "postgres": sqlstoretest.PostgresURL} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Attempt 1 fails without saying why in its output; status tells.
			cli := newCLICreator(t, `case "$ref" in
*-1) printf '✅ 执行成功\n────────────────────────────────────────\n任务ID: own-%s\n状态: 失败\n────────────────────────────────────────\n' "$ref" ;;
*) sed "s/test-cli-001/own-$ref/g" "$SAMPLES/cli-create-completed.stdout" ;;
esac`, `echo "$ref" >> "$DIR/status.log"
case "$ref" in
own-*) sed "s/test-fail-001/$ref/g" "$SAMPLES/cli-status-fail.stdout" ;;
*) echo "❌ 错误: 未找到任务 $ref" >&2; exit 1 ;;
esac`)
			svc := startService(t, t.TempDir(), cliProfile(cli, "DATABASE_URL="+dbURL(t)))
			id := svc.createTask("边缘计算入门")

			v := waitTask(svc, id, "completed on attempt 2", retryWait, func(v taskView) bool { return v.Status == "completed" })
			require.Equal(t, 2, v.Attempt)
			require.Len(t, v.Attempts, 2)
			require.Equal(t, "own-"+id+"-1", v.Attempts[0].ExternalRef)
			require.Equal(t, "failed", v.Attempts[0].State)
			require.Equal(t, "own-"+id+"-2", v.Attempts[1].ExternalRef)
			require.Equal(t, "completed", v.Attempts[1].State)
			require.Contains(t, v.LastError.Text, "Text quality check failed after 3 attempts", "the reason status -t gave")
			require.NotEqual(t, "CREATOR_BAD_OUTPUT", v.LastError.Code)

			content := svc.content(requireCompletedOnce(t, svc, svc.pool(), id))
			require.Equal(t, sampleArticle(t), content.Content)
			require.Equal(t, []string{
				"data/images/own-" + id + "-2_0_1795861895422.png", "data/images/own-" + id + "-2_1_1795861895422.png",
			}, content.Images)

			var refs []string
			for _, c := range cli.creates(t) {
				refs = append(refs, c.TaskID)
			}
			require.Equal(t, []string{id + "-1", id + "-2"}, refs, "each attempt is sent its own id")
			statuses, err := os.ReadFile(filepath.Join(cli.dir, "status.log"))
			require.NoError(t, err)
			require.Equal(t, "own-"+id+"-1\n", string(statuses), "status asked about the id the run printed, and only it")
		})
	}
}
