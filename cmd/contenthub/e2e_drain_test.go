package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/signature"
	"contenthub/adapters/sqlstore/sqlstoretest"
)

const drainSecret = "drain-test-secret"

// simWorkerPID reads the simulator's state file of an attempt for the pid of
// its detached worker.
func simWorkerPID(t *testing.T, stateDir, ref string) int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(stateDir, ref+".json"))
	require.NoError(t, err)
	var st struct {
		WorkerPID int `json:"workerPid"`
	}
	require.NoError(t, json.Unmarshal(raw, &st))
	require.NotZero(t, st.WorkerPID, "the simulator recorded no worker pid")
	return st.WorkerPID
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// TestE2ESIGTERMDrain: SIGTERM arrives while a callback's body is still on
// the wire and content-creator is generating. The service logs the signal,
// stops accepting connections, finishes the callback (200, stored), stops its
// loops and closes the database, each with one log line, and exits 0 — and
// leaves the generation running. The next replica's reconciler then reads its
// outcome (status, result) and completes the task exactly once.
func TestE2ESIGTERMDrain(t *testing.T) {
	t.Parallel()
	stateDir := filepath.Join(t.TempDir(), "content-creator-sim")
	env := append([]string{
		"DATABASE_URL=" + sqlstoretest.SQLiteURL(t), "CONTENT_CREATOR_SIM_STATE_DIR=" + stateDir,
		"WEBHOOK_SECRET_KEY=" + drainSecret, "SIM_DELAY=6s", "SIM_PROGRESS_STEPS=6",
		// One try per callback: those aimed at the stopped replica fail at once.
		"SIM_CALLBACK_ATTEMPTS=1", "LOG_LEVEL=info",
	}, fastPolling...)
	a := startService(t, t.TempDir(), env)
	id := a.createTask("优雅退出 graceful drain")
	waitTask(a, id, "processing", 30*time.Second, func(v taskView) bool { return v.Status == "processing" })
	worker := simWorkerPID(t, stateDir, id+"-1")
	require.True(t, alive(worker))

	// A signed progress callback whose body is held back.
	body := []byte(fmt.Sprintf(`{"event":"progress","taskId":"%s-1","progress":{"percentage":99,"stage":"writing","message":"在途 in flight"}}`, id))
	ts := time.Now().Unix()
	conn, err := net.Dial("tcp", a.addr)
	require.NoError(t, err)
	defer conn.Close()
	head := fmt.Sprintf("POST /api/v1/content/callback/%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nX-Request-ID: drain-in-flight\r\n%s: %d\r\n%s: %s\r\n\r\n",
		id, a.addr, len(body), signature.HeaderTimestamp, ts, signature.HeaderSignature, signature.SignRaw(drainSecret, body, ts))
	_, err = io.WriteString(conn, head)
	require.NoError(t, err)
	_, err = conn.Write(body[:10])
	require.NoError(t, err)
	// The request is in the handler once its body has started arriving.
	time.Sleep(200 * time.Millisecond)

	require.NoError(t, a.cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool { return strings.Contains(a.logs.String(), "received SIGTERM") }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", a.addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, 10*time.Second, 10*time.Millisecond, "the listener still accepts after SIGTERM")

	// The callback in flight is finished and answered.
	_, err = conn.Write(body[10:])
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", answer)

	select {
	case <-a.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("the service did not exit after SIGTERM:\n%s", a.logs.String())
	}
	require.Equal(t, 0, a.cmd.ProcessState.ExitCode(), a.logs.String())
	logs := a.logs.String()
	phases := []string{
		"received SIGTERM: draining",
		"drain: HTTP server stopped accepting and finished its requests in flight",
		"drain: dispatcher and reconciler stopped",
		"drain: database closed",
	}
	last := -1
	for _, p := range phases {
		at := strings.Index(logs, p)
		require.Greater(t, at, last, "log line %q missing or out of order:\n%s", p, logs)
		last = at
	}
	require.Contains(t, logs, `"in_flight":1`, "the held callback was in flight")
	require.True(t, alive(worker), "content-creator's generation was left running")

	// The next replica, on another address: the generation's callbacks to
	// the old one fail, so polling completes the task.
	b := startService(t, t.TempDir(), env)
	v := waitTask(b, id, "completed by the next replica", 60*time.Second, func(v taskView) bool { return v.Status == "completed" })
	require.Equal(t, 1, v.Attempt, "the first attempt's generation completed it")
	requireCompletedOnce(t, b, b.pool(), id)
	var stored struct {
		Items []struct {
			RequestID string `json:"request_id"`
			Outcome   string `json:"outcome"`
		} `json:"items"`
	}
	require.Equal(t, http.StatusOK, b.call(http.MethodGet, "/api/v1/content/tasks/"+id+"/deliveries", nil, &stored))
	found := false
	for _, d := range stored.Items {
		found = found || d.RequestID == "drain-in-flight"
	}
	require.True(t, found, "the callback answered 200 during the drain was stored: %+v", stored.Items)
	t.Logf("drain log:\n%s", grepLines(logs, "drain", "received SIGTERM"))
}

// grepLines returns the lines of s containing any of the words.
func grepLines(s string, words ...string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(line, w) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
