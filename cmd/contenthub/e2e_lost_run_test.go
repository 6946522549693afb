package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore/sqlstoretest"
)

// Lost runs (SERVICE.md §14, issue #19), one test per profile: content-creator
// reports a run as running forever while nothing of the service runs it any
// more. Within CREATOR_STALL_TIMEOUT (+ a poll) of the service's first look
// at the silent run, its attempt fails with CREATOR_LOST, content-creator is
// asked to cancel it, and the retry completes.

// lostRunEnv is short timings: polled a second after silence, lost three
// seconds after its last advance, retried after a second or two.
var lostRunEnv = append([]string{"CREATOR_STALL_TIMEOUT=3s", "RETRY_BACKOFF_BASE=1s"}, fastPolling...)

// requireLostThenCompleted waits for the task to complete on its second
// attempt after the first was found lost, and checks the lifecycle line of
// the loss.
func requireLostThenCompleted(t *testing.T, svc *service, id string) {
	t.Helper()
	v := waitTask(svc, id, "completed on attempt 2", retryWait, func(v taskView) bool { return v.Status == "completed" })
	require.Equal(t, 2, v.Attempt)
	require.Equal(t, "failed", v.Attempts[0].State)
	require.NotNil(t, v.LastError)
	require.Equal(t, "CREATOR_LOST", v.LastError.Code, "the lost attempt's error is kept")
	require.Contains(t, v.LastError.Text, "has not advanced since")
	requireCompletedOnce(t, svc, svc.pool(), id)

	var lost []lifecycleLine
	for _, l := range lifecycleOf(t, svc.logs.String(), id) {
		if strings.Contains(l.Reason, "CREATOR_LOST") {
			lost = append(lost, l)
		}
	}
	require.Len(t, lost, 1, "one lifecycle line for the loss")
	require.Equal(t, "poll", lost[0].Source)
	require.Equal(t, 1, lost[0].Attempt)
	require.Equal(t, 2, lost[0].Next)
}

// TestE2ELostRunContractProfile: the simulator's worker dies half-way
// (SIM_CRASH_ATTEMPTS=1) and its status says running, progress and update
// time frozen, forever.
func TestE2ELostRunContractProfile(t *testing.T) {
	t.Parallel()
	for name, dbURL := range map[string]func(testing.TB) string{"sqlite": sqlstoretest.SQLiteURL, "postgres": sqlstoretest.PostgresURL} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			stateDir := filepath.Join(t.TempDir(), "content-creator-sim")
			env := append([]string{"DATABASE_URL=" + dbURL(t), "CONTENT_CREATOR_SIM_STATE_DIR=" + stateDir,
				"SIM_CRASH_ATTEMPTS=1"}, lostRunEnv...)
			svc := startService(t, t.TempDir(), env)
			id := svc.createTask("失联的运行 lost run")

			requireLostThenCompleted(t, svc, id)
			require.Eventually(t, func() bool {
				var st struct {
					Status string `json:"status"`
				}
				b, err := os.ReadFile(filepath.Join(stateDir, id+"-1.json"))
				return err == nil && json.Unmarshal(b, &st) == nil && st.Status == "cancelled"
			}, 30*time.Second, 50*time.Millisecond, "the simulator was asked to cancel the lost run")
		})
	}
}

// TestE2ELostRunCLIProfileAfterARestart: the cli profile's run of an earlier
// process — the service died, its child with it — is reported running by
// `status` forever; the restarted service supervises no child for it.
func TestE2ELostRunCLIProfileAfterARestart(t *testing.T) {
	t.Parallel()
	cli := newCLICreator(t, `case "$ref" in
*-1) exec sleep 300 ;;
*) `+replaySample("cli-create-completed", "test-cli-001")+` ;;
esac`, `printf '\n📊 任务状态\n任务ID: %s\n状态: 🔄 运行中\n当前步骤: text_generation\n执行模式: 同步\n' "$ref"`)
	env := cliProfile(cli, append([]string{"DATABASE_URL=" + sqlstoretest.SQLiteURL(t)}, lostRunEnv...)...)
	first := startService(t, t.TempDir(), env)
	id := first.createTask("边缘计算入门")
	waitTask(first, id, "submitted", 30*time.Second, func(v taskView) bool { return v.Status == "submitted" || v.Status == "processing" })
	child := cli.pid(t, id+"-1.pid")
	// Its own child is live: however long it runs unchanged, it is not lost.
	time.Sleep(5 * time.Second)
	require.Equal(t, 1, first.task(id).Attempt, "a supervised child is never lost")
	first.kill()
	_ = syscall.Kill(child, syscall.SIGKILL) // gone with the process that ran it

	second := startService(t, t.TempDir(), env)
	requireLostThenCompleted(t, second, id)
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(filepath.Join(cli.dir, "others.log"))
		return strings.Contains(string(b), "cancel "+id+"-1\n")
	}, 30*time.Second, 50*time.Millisecond, "the CLI was asked to cancel the lost run")
	var refs []string
	for _, c := range cli.creates(t) {
		refs = append(refs, c.TaskID)
	}
	require.Equal(t, []string{id + "-1", id + "-2"}, refs)
}

// TestE2ELostRunAPIProfileAfterADroppedRequest: the api profile's request
// dropped; the server took the run and lists it as running forever.
func TestE2ELostRunAPIProfileAfterADroppedRequest(t *testing.T) {
	t.Parallel()
	var api *fakeCreatorAPI
	api = newFakeCreatorAPI(t, func(w http.ResponseWriter, body map[string]any, _ int) {
		id := body["idempotencyKey"].(string)
		if strings.HasSuffix(id, "-1") {
			api.mu.Lock()
			api.took[id] = "running"
			api.mu.Unlock()
			conn, _, err := w.(http.Hijacker).Hijack()
			require.NoError(t, err)
			_ = conn.Close()
			return
		}
		require.Equal(t, http.StatusOK, api.callBack(body))
		api.answer(w, "api-post-ok.txt", "test-api-001", id)
	})
	env := append([]string{"CREATOR_PROFILE=api", "CREATOR_API_BASE_URL=" + api.srv.URL,
		"DATABASE_URL=" + sqlstoretest.SQLiteURL(t)}, lostRunEnv...)
	svc := startService(t, t.TempDir(), env)
	id := svc.createTask("边缘计算入门")

	requireLostThenCompleted(t, svc, id)
	require.Eventually(t, func() bool {
		api.mu.Lock()
		defer api.mu.Unlock()
		for _, d := range api.deleted {
			if d == id+"-1" {
				return true
			}
		}
		return false
	}, 30*time.Second, 50*time.Millisecond, "the server was asked to cancel the lost run")
}
