package main

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore/sqlstoretest"
)

// lifecycleLine is one task-lifecycle log line (SERVICE.md §14, issue #19).
type lifecycleLine struct {
	Level   string  `json:"level"`
	Msg     string  `json:"msg"`
	TaskID  string  `json:"task_id"`
	Attempt int     `json:"attempt"`
	From    *string `json:"from"`
	To      string  `json:"to"`
	Reason  string  `json:"reason"`
	Source  string  `json:"source"`
	Next    int     `json:"next_attempt"`
}

// lifecycleOf picks a task's lifecycle lines out of the service's JSON log,
// in order.
func lifecycleOf(t *testing.T, logs, taskID string) []lifecycleLine {
	t.Helper()
	var lines []lifecycleLine
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l lifecycleLine
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.TaskID != taskID || l.From == nil || l.To == "" {
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// TestE2ELifecycleLogAtInfo: at LOG_LEVEL=info a task's life — created,
// handed to content-creator, its first attempt failed by callback and
// retried, the second completed — reads as its own lines, in order, each
// starting where the previous ended.
func TestE2ELifecycleLogAtInfo(t *testing.T) {
	t.Parallel()
	env := append([]string{
		"DATABASE_URL=" + sqlstoretest.SQLiteURL(t), simStateDir(t), "SIM_FAIL_ATTEMPTS=1",
		"RETRY_BACKOFF_BASE=1s", "LOG_LEVEL=info",
	}, fastPolling...)
	svc := startService(t, t.TempDir(), env)
	id := svc.createTask("生命周期日志 lifecycle log")
	v := waitTask(svc, id, "completed", retryWait, func(v taskView) bool { return v.Status == "completed" })
	require.Equal(t, 2, v.Attempt)

	var lines []lifecycleLine
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines = lifecycleOf(t, svc.logs.String(), id)
		if len(lines) > 0 && lines[len(lines)-1].To == "completed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NotEmpty(t, lines, "no lifecycle line at info:\n%s", svc.logs.String())
	for _, l := range lines {
		require.Equal(t, "info", l.Level, "%+v", l)
	}

	first := lines[0]
	require.Equal(t, "task created", first.Msg)
	require.Equal(t, "", *first.From)
	require.Equal(t, "pending", first.To)
	require.Equal(t, "api", first.Source)
	for i := 1; i < len(lines); i++ {
		require.Equal(t, lines[i-1].To, *lines[i].From, "line %d does not start where line %d ended: %+v", i, i-1, lines)
		require.NotEmpty(t, lines[i].Reason, "%+v", lines[i])
		require.NotEqual(t, *lines[i].From, lines[i].To, "a line is a change of status: %+v", lines[i])
	}

	// The failure of attempt 1, told by the simulator's callback, with its
	// error as the reason and the retry it scheduled.
	var failed *lifecycleLine
	for i := range lines {
		if lines[i].Msg == "task attempt failed, retry scheduled" {
			require.Nil(t, failed, "attempt 1 fails once: %+v", lines)
			failed = &lines[i]
		}
	}
	require.NotNil(t, failed, "%+v", lines)
	require.Equal(t, 1, failed.Attempt)
	require.Equal(t, 2, failed.Next)
	require.Equal(t, "pending", failed.To)
	require.Equal(t, "callback", failed.Source)
	require.Contains(t, failed.Reason, "Text quality check failed")

	last := lines[len(lines)-1]
	require.Equal(t, "task completed", last.Msg)
	require.Equal(t, "completed", last.To)
	require.Equal(t, 2, last.Attempt)
	require.Equal(t, "callback", last.Source)

	// Both attempts were handed over and seen at work, by whichever source
	// told first (a callback may overtake the submission's own answer).
	for _, attempt := range []int{1, 2} {
		var atWork bool
		for _, l := range lines {
			atWork = atWork || (l.Attempt == attempt && (l.To == "submitted" || l.To == "processing"))
		}
		require.True(t, atWork, "attempt %d never shown at work: %+v", attempt, lines)
	}
}
