package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
)

// The polling guarantee (SERVICE.md §6) with the real binaries: lost
// callbacks, a CLI whose status never answers, failed attempts, replicas that
// die mid-generation or mid-submission, and split api/worker roles. These
// tests wait for the retry backoff (5–10 s after a first failure, not
// configurable), so they run in parallel with each other.

// Short loop settings, so that polling repairs within seconds.
const (
	pollInterval  = time.Second
	callbackGrace = time.Second
)

var fastPolling = []string{
	"POLL_INTERVAL=" + pollInterval.String(),
	"CALLBACK_GRACE=" + callbackGrace.String(),
}

// retryWait bounds the wait for a task that needs a second attempt: the
// first retry's backoff is at most 10 s, plus detection and generation.
const retryWait = 45 * time.Second

// simStateDir is the simulator state directory every process of one test
// shares, so that a second service can poll the first one's tasks.
func simStateDir(t *testing.T) string {
	t.Helper()
	return "CONTENT_CREATOR_SIM_STATE_DIR=" + filepath.Join(t.TempDir(), "content-creator-sim")
}

// waitTask polls the API until cond holds for the task, failing the test
// with what after timeout.
func waitTask(s *service, id, what string, timeout time.Duration, cond func(taskView) bool) taskView {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := s.task(id)
		if cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("task %s: not %s after %s; last seen %+v", id, what, timeout, v)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// createTaskWith posts a task with extra fields in its body.
func createTaskWith(s *service, topic string, extra map[string]any) string {
	s.t.Helper()
	body := map[string]any{"account_id": 1, "topic": topic}
	for k, v := range extra {
		body[k] = v
	}
	var v taskView
	require.Equal(s.t, http.StatusAccepted, s.call(http.MethodPost, "/api/v1/content/tasks", body, &v))
	return v.TaskID
}

// taskState is the part of the task view that tells whether it changed.
type taskState struct {
	Status    string  `json:"status"`
	Attempt   int     `json:"attempt"`
	Version   int64   `json:"version"`
	UpdatedAt string  `json:"updated_at"`
	ContentID *string `json:"content_id"`
}

type poolView struct {
	Items []struct {
		ContentID string `json:"content_id"`
		TaskID    string `json:"task_id"`
	} `json:"items"`
}

func (s *service) pool() poolView {
	s.t.Helper()
	var p poolView
	require.Equal(s.t, http.StatusOK, s.call(http.MethodGet, "/api/v1/publish-pool?limit=200", nil, &p))
	return p
}

func (s *service) deliveries(id string) deliveriesView {
	s.t.Helper()
	var ds deliveriesView
	require.Equal(s.t, http.StatusOK, s.call(http.MethodGet, "/api/v1/content/tasks/"+id+"/deliveries", nil, &ds))
	return ds
}

// requireCompletedOnce checks a completed task's outcome: its content exists
// and belongs to it, and the publish pool holds exactly one entry for it,
// pointing at that content. It returns the content id.
func requireCompletedOnce(t *testing.T, s *service, pool poolView, id string) string {
	t.Helper()
	v := s.task(id)
	require.Equal(t, "completed", v.Status, "task %s", id)
	require.NotNil(t, v.ContentID, "task %s completed without content", id)
	var content struct {
		TaskID  string `json:"task_id"`
		Content string `json:"content"`
	}
	require.Equal(t, http.StatusOK, s.call(http.MethodGet, "/api/v1/contents/"+*v.ContentID, nil, &content))
	require.Equal(t, id, content.TaskID)
	require.NotEmpty(t, content.Content)
	var entries []string
	for _, e := range pool.Items {
		if e.TaskID == id {
			entries = append(entries, e.ContentID)
		}
	}
	require.Equal(t, []string{*v.ContentID}, entries, "pool entries of task %s", id)
	return *v.ContentID
}

// createCall is one `create` a fake CLI recorded.
type createCall struct {
	TaskID       string // --task-id (contract), --taskId (cli)
	CallbackURL  string // --callback-url, token included
	Requirements string // --requirements
}

// recordCreates is the shell line that appends create's argv, tab-separated,
// to path as one line (one write, so concurrent creates do not interleave).
func recordCreates(path string) string {
	return `line=$(printf '%s\t' "$@"); printf '%s\n' "$line" >> '` + path + `'`
}

// simulator is the shell word that runs the bundled simulator.
func simulator() string { return "'" + filepath.Join(binDir, "content-creator-sim") + "'" }

// readCreates parses what recordCreates wrote.
func readCreates(t *testing.T, path string) []createCall {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	defer f.Close()
	var calls []createCall
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		args := strings.Split(strings.TrimSuffix(sc.Text(), "\t"), "\t")
		require.Equal(t, "create", args[0], "recorded line %q", sc.Text())
		var c createCall
		for i := 1; i+1 < len(args); i++ {
			switch args[i] {
			case "--task-id", "--taskId":
				c.TaskID = args[i+1]
			case "--callback-url":
				c.CallbackURL = args[i+1]
			case "--requirements":
				c.Requirements = args[i+1]
			}
		}
		calls = append(calls, c)
	}
	require.NoError(t, sc.Err())
	return calls
}

func createsOf(calls []createCall, taskID string) []createCall {
	var out []createCall
	for _, c := range calls {
		if strings.HasPrefix(c.TaskID, taskID+"-") {
			out = append(out, c)
		}
	}
	return out
}

// TestE2ELostWebhookCompletesByPolling: the simulator never calls back; the
// reconciler finds the finished generation by polling and the task completes
// with its content and pool entry, having received no callback at all.
func TestE2ELostWebhookCompletesByPolling(t *testing.T) {
	t.Parallel()
	backends := map[string]func(testing.TB) string{"sqlite": sqlstoretest.SQLiteURL, "postgres": sqlstoretest.PostgresURL}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			env := append([]string{"DATABASE_URL=" + backends[name](t), simStateDir(t), "SIM_NO_CALLBACK=1"}, fastPolling...)
			svc := startService(t, t.TempDir(), env)
			id := svc.createTask("丢失的回调 lost webhook")

			// Generation takes SIM_DELAY (300 ms); then one grace and one
			// interval at most before a pass polls it. The rest is slack.
			bound := pollInterval + callbackGrace + 15*time.Second
			v := waitTask(svc, id, "completed by polling (POLL_INTERVAL + CALLBACK_GRACE + slack)", bound,
				func(v taskView) bool { return v.Status == "completed" })
			require.Equal(t, 1, v.Attempt)
			require.Empty(t, svc.deliveries(id).Items, "no callback was sent, so polling completed the task")
			requireCompletedOnce(t, svc, svc.pool(), id)
		})
	}
}

// TestE2EStatusAlwaysFailingTimesOut: content-creator's status and result
// never answer. The first attempt, which never calls back, times out after
// TASK_TIMEOUT and is resubmitted as a new attempt, which completes by
// callback. A task without retries ends in `timeout`.
func TestE2EStatusAlwaysFailingTimesOut(t *testing.T) {
	t.Parallel()
	record := filepath.Join(t.TempDir(), "creates.log")
	cli := writeScript(t, `
if [ "$1" = create ]; then
  `+recordCreates(record)+`
  ref=; prev=
  for a in "$@"; do
    if [ "$prev" = --task-id ]; then ref=$a; fi
    prev=$a
  done
  case "$ref" in
  *-1) echo "{\"taskId\":\"$ref\",\"status\":\"pending\"}"; exit 0 ;;
  esac
  exec `+simulator()+` "$@"
fi
echo '%%% <html>502 Bad Gateway</html> Traceback (most recent call last) @@@' >&2
echo '{{{ garbage'
exit 1
`)
	env := append([]string{
		"DATABASE_URL=" + sqlstoretest.SQLiteURL(t), simStateDir(t), "CREATOR_CLI_PATH=" + cli, "TASK_TIMEOUT=3s",
	}, fastPolling...)
	svc := startService(t, t.TempDir(), env)
	retried := svc.createTask("status never answers")
	final := createTaskWith(svc, "status never answers, no retries", map[string]any{"max_retries": 0})

	v := waitTask(svc, retried, "back to pending for attempt 2 after timing out", 30*time.Second, func(v taskView) bool {
		return v.Attempt >= 2
	})
	require.NotNil(t, v.LastError, "the timed-out attempt's error is kept")
	require.Equal(t, "TIMEOUT", v.LastError.Code)
	require.Equal(t, "timeout", v.Attempts[0].State)

	v = waitTask(svc, retried, "completed on attempt 2", retryWait, func(v taskView) bool { return v.Status == "completed" })
	require.Equal(t, 2, v.Attempt)
	require.Equal(t, "completed", v.Attempts[1].State)
	requireCompletedOnce(t, svc, svc.pool(), retried)
	var refs []string
	for _, c := range createsOf(readCreates(t, record), retried) {
		refs = append(refs, c.TaskID)
	}
	require.Equal(t, []string{retried + "-1", retried + "-2"}, refs, "the timed-out attempt was resubmitted as attempt 2")

	v = waitTask(svc, final, "timeout", 30*time.Second, func(v taskView) bool { return v.Status == "timeout" })
	require.Equal(t, 1, v.Attempt)
	require.NotNil(t, v.LastError)
	require.Equal(t, "TIMEOUT", v.LastError.Code)
	require.Nil(t, v.ContentID)
	require.Len(t, createsOf(readCreates(t, record), final), 1, "a task without retries is submitted once")
}

// TestE2EFailedCallbackResubmits: the simulator fails attempt 1 by callback;
// the retry is a real second create with its own ref and token, and
// completes. A late `failed` for attempt 1 on its own callback URL is then
// acknowledged as ignored and changes nothing.
func TestE2EFailedCallbackResubmits(t *testing.T) {
	t.Parallel()
	record := filepath.Join(t.TempDir(), "creates.log")
	cli := writeScript(t, `
if [ "$1" = create ]; then
  `+recordCreates(record)+`
fi
exec `+simulator()+` "$@"
`)
	env := append([]string{
		"DATABASE_URL=" + sqlstoretest.SQLiteURL(t), simStateDir(t), "CREATOR_CLI_PATH=" + cli, "SIM_FAIL_ATTEMPTS=1",
	}, fastPolling...)
	svc := startService(t, t.TempDir(), env)
	id := svc.createTask("第一次失败 fails once")

	v := waitTask(svc, id, "completed on attempt 2", retryWait, func(v taskView) bool { return v.Status == "completed" })
	require.Equal(t, 2, v.Attempt)
	require.Equal(t, "failed", v.Attempts[0].State)
	require.Equal(t, "completed", v.Attempts[1].State)
	requireCompletedOnce(t, svc, svc.pool(), id)

	creates := createsOf(readCreates(t, record), id)
	require.Len(t, creates, 2)
	require.Equal(t, id+"-1", creates[0].TaskID)
	require.Equal(t, id+"-2", creates[1].TaskID)
	first, err := url.Parse(creates[0].CallbackURL)
	require.NoError(t, err)
	second, err := url.Parse(creates[1].CallbackURL)
	require.NoError(t, err)
	require.Equal(t, "/api/v1/content/callback/"+id, first.Path)
	require.Equal(t, first.Path, second.Path)
	require.NotEmpty(t, first.Query().Get("token"))
	require.NotEmpty(t, second.Query().Get("token"))
	require.NotEqual(t, first.Query().Get("token"), second.Query().Get("token"), "each attempt has its own token")

	var before taskState
	require.Equal(t, http.StatusOK, svc.call(http.MethodGet, "/api/v1/content/tasks/"+id, nil, &before))
	late := `{"event":"failed","taskId":"` + id + `-1","error":{"message":"late"}}`
	resp, err := http.Post(creates[0].CallbackURL, "application/json", strings.NewReader(late))
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", raw)
	var answer struct {
		Success bool   `json:"success"`
		Ignored bool   `json:"ignored"`
		Status  string `json:"status"`
	}
	require.NoError(t, json.Unmarshal(raw, &answer), "%s", raw)
	require.True(t, answer.Success, "%s", raw)
	require.True(t, answer.Ignored, "%s", raw)
	require.Equal(t, "completed", answer.Status)

	var after taskState
	require.Equal(t, http.StatusOK, svc.call(http.MethodGet, "/api/v1/content/tasks/"+id, nil, &after))
	require.Equal(t, before, after, "a late failure of attempt 1 changes nothing")
}

// TestE2ECrashedReplicaTasksFinishByPolling: replica A submits 30 tasks and
// is killed while the simulator generates them; replica B, on the same
// database and simulator state but another address (so the simulator's
// callbacks to A fail), finishes every task by polling, each exactly once.
func TestE2ECrashedReplicaTasksFinishByPolling(t *testing.T) {
	t.Parallel()
	dbURL := sqlstoretest.PostgresURL(t)
	env := append([]string{
		"DATABASE_URL=" + dbURL, simStateDir(t), "SIM_DELAY=4s",
		// Generous, so that a slow machine does not fail submissions: every
		// task is submitted before the kill, so the lease plays no part.
		"CREATOR_SUBMIT_TIMEOUT=5s",
		// One try per callback: callbacks to the dead A fail at once rather
		// than holding the simulator's workers in retries.
		"SIM_CALLBACK_ATTEMPTS=1",
	}, fastPolling...)
	a := startService(t, t.TempDir(), env)
	const n = 30
	ids := make([]string, n)
	for i := range ids {
		ids[i] = a.createTask("崩溃恢复 crash " + strconv.Itoa(i))
	}
	for _, id := range ids {
		// On a loaded machine the first tasks may already be done.
		waitTask(a, id, "submitted by A", 30*time.Second, func(v taskView) bool {
			return v.Status == "submitted" || v.Status == "processing" || v.Status == "completed"
		})
	}
	a.kill()
	// With A dead and B not started, the database holds the state at the kill.
	running := 0
	for _, task := range loadTasks(t, dbURL, ids) {
		if task.Status() != domain.StatusCompleted {
			running++
		}
	}
	require.NotZero(t, running, "every generation finished before A was killed: the machine is too slow for SIM_DELAY")
	t.Logf("%d of %d tasks were still generating when A was killed", running, n)

	b := startService(t, t.TempDir(), env)
	for _, id := range ids {
		waitTask(b, id, "completed by B", 60*time.Second, func(v taskView) bool { return v.Status == "completed" })
	}
	pool := b.pool()
	require.Len(t, pool.Items, n, "one pool entry per task")
	contents := map[string]string{}
	for _, id := range ids {
		cid := requireCompletedOnce(t, b, pool, id)
		require.NotContains(t, contents, cid, "content %s shared by two tasks", cid)
		contents[cid] = id
		require.Equal(t, 1, b.task(id).Attempt, "finished on its first attempt")
	}
	for _, status := range []string{"pending", "submitted", "processing"} {
		var page struct {
			Items []taskView `json:"items"`
		}
		require.Equal(t, http.StatusOK, b.call(http.MethodGet, "/api/v1/content/tasks?limit=200&status="+status, nil, &page))
		require.Empty(t, page.Items, "tasks left %s", status)
	}
}

// TestE2EClaimedNotSubmittedIsRecovered: replica C claims a task and dies
// while its create is still running, leaving the attempt open. Once C's
// dispatch lease (2 × CREATOR_SUBMIT_TIMEOUT) expires, replica D recovers
// the attempt, learns the simulator never heard of it, and retries: the task
// completes exactly once.
func TestE2EClaimedNotSubmittedIsRecovered(t *testing.T) {
	t.Parallel()
	dbURL := sqlstoretest.PostgresURL(t)
	simDir := simStateDir(t)
	pidFile := filepath.Join(t.TempDir(), "create.pid")
	// create hangs until its replica dies (its $PPID is gone), at most 30 s;
	// its pid file exists while it runs.
	hanging := writeScript(t, `
if [ "$1" = create ]; then
  echo $$ > '`+pidFile+`'
  i=0
  while [ $i -lt 300 ] && kill -0 $PPID 2>/dev/null; do sleep 0.1; i=$((i+1)); done
  rm -f '`+pidFile+`'
  exit 1
fi
exec `+simulator()+` "$@"
`)
	t.Cleanup(func() {
		// Still running (the runner made it a process group leader): end it.
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
	})
	c := startService(t, t.TempDir(), append([]string{
		"DATABASE_URL=" + dbURL, simDir, "CREATOR_CLI_PATH=" + hanging, "CREATOR_SUBMIT_TIMEOUT=2s",
	}, fastPolling...))
	id := c.createTask("认领未提交 claimed, not submitted")
	waitTask(c, id, "claimed with an open attempt", 15*time.Second, func(v taskView) bool {
		return v.Status == "pending" && len(v.Attempts) == 1 && v.Attempts[0].State == "open"
	})
	require.Eventually(t, func() bool { _, err := os.Stat(pidFile); return err == nil }, 10*time.Second, 10*time.Millisecond,
		"C's create never started")
	c.kill()
	require.Eventually(t, func() bool { _, err := os.Stat(pidFile); return os.IsNotExist(err) }, 10*time.Second,
		20*time.Millisecond, "C's create outlived C")
	// Read straight from the database: no replica is up to answer.
	requireClaimedOpen(t, dbURL, id)

	d := startService(t, t.TempDir(), append([]string{"DATABASE_URL=" + dbURL, simDir}, fastPolling...))
	v := waitTask(d, id, "completed after recovery", retryWait, func(v taskView) bool { return v.Status == "completed" })
	require.Equal(t, 2, v.Attempt, "the lost attempt 1 failed and attempt 2 completed")
	require.Equal(t, "failed", v.Attempts[0].State)
	require.Equal(t, "completed", v.Attempts[1].State)
	requireCompletedOnce(t, d, d.pool(), id)
	completions := 0
	for _, dl := range d.deliveries(id).Items {
		if dl.Event == "completed" && dl.Outcome == "applied" {
			completions++
		}
	}
	require.Equal(t, 1, completions)
}

// loadTasks reads tasks straight from the database, for moments when no
// replica is up to answer.
func loadTasks(t *testing.T, dbURL string, ids []string) []*domain.Task {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store, err := sqlstore.Open(ctx, dbURL)
	require.NoError(t, err)
	defer store.Close()
	tasks := make([]*domain.Task, len(ids))
	for i, id := range ids {
		tasks[i], err = store.GetTask(ctx, id)
		require.NoError(t, err)
	}
	return tasks
}

// requireClaimedOpen checks that the task is still as its dead claimant left
// it: pending, its first attempt open, its lease held.
func requireClaimedOpen(t *testing.T, dbURL, id string) {
	t.Helper()
	task := loadTasks(t, dbURL, []string{id})[0]
	const msg = "C was to die before recording its submission (was its create killed by CREATOR_SUBMIT_TIMEOUT first?)"
	require.Equal(t, domain.StatusPending, task.Status(), msg)
	require.Equal(t, 1, task.Attempt(), msg)
	require.True(t, task.AttemptOpen(), msg)
	require.NotEmpty(t, task.LeaseOwner(), msg)
}

// TestE2ESplitRoles: an api process and a worker process on one PostgreSQL.
// The api process alone submits nothing; the worker serves no HTTP, submits
// to the simulator with the api process's callback address, and the
// callbacks complete the tasks there.
func TestE2ESplitRoles(t *testing.T) {
	t.Parallel()
	dbURL := sqlstoretest.PostgresURL(t)
	simDir := simStateDir(t)
	// Default POLL_INTERVAL (30 s): within these waits only callbacks can
	// complete a task.
	api := startService(t, t.TempDir(), []string{"DATABASE_URL=" + dbURL, simDir}, "--role", "api")
	early := api.createTask("分角色 created before any worker")
	// Longer than a dispatcher's sweep: had the api process one, it would
	// have claimed the task by now.
	time.Sleep(2 * time.Second)
	v := api.task(early)
	require.Equal(t, "pending", v.Status, "the api process does not submit")
	require.Empty(t, v.Attempts, "the api process does not submit")

	worker := startService(t, t.TempDir(), []string{
		"DATABASE_URL=" + dbURL, simDir, "WEBHOOK_CALLBACK_BASE_URL=http://" + api.addr,
	}, "--role", "worker")
	conn, err := net.DialTimeout("tcp", worker.addr, time.Second)
	if err == nil {
		conn.Close()
	}
	require.Error(t, err, "the worker process listens on its HTTP_ADDR %s", worker.addr)

	late := api.createTask("分角色 created with a worker running")
	for _, id := range []string{early, late} {
		api.waitStatus(id, "completed", 30*time.Second)
		requireCompletedOnce(t, api, api.pool(), id)
		applied := map[string]int{}
		for _, d := range api.deliveries(id).Items {
			if d.Outcome == "applied" {
				applied[d.Event]++
			}
		}
		require.Equal(t, 1, applied["completed"], "the completion reached the api process by callback: %v", applied)
	}
}
