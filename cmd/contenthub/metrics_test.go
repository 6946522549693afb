package main

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// scrape returns the samples of /metrics as "name{labels}" → value.
func scrape(t *testing.T, svc *service) map[string]float64 {
	t.Helper()
	resp, err := http.Get(svc.url("/metrics"))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	samples := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		samples[line[:i]] = v
	}
	return samples
}

// TestE2EMetricsAfterAFlow: after a task completes end to end, /metrics
// shows the callback, task-status, runner, reconciler and delay metrics.
func TestE2EMetricsAfterAFlow(t *testing.T) {
	svc := startService(t, t.TempDir(), []string{"POLL_INTERVAL=200ms", "CALLBACK_GRACE=1s"})
	id := svc.createTask("metrics")
	svc.waitStatus(id, "completed", 15*time.Second)
	time.Sleep(500 * time.Millisecond) // at least one reconciler pass

	m := scrape(t, svc)
	for _, sample := range []string{
		`contenthub_callbacks_total{event="completed",outcome="applied"}`,
		`contenthub_callbacks_total{event="progress",outcome="applied"}`,
		`contenthub_callback_duration_seconds_count{event="completed"}`,
		`contenthub_task_transitions_total{from="new",to="pending"}`,
		`contenthub_task_transitions_total{from="pending",to="submitted"}`,
		`contenthub_task_transitions_total{from="processing",to="completed"}`,
		`contenthub_runner_executions_total{command="create",outcome="ok"}`,
		`contenthub_runner_duration_seconds_count{command="create"}`,
		`contenthub_notification_delay_seconds_count`,
		`contenthub_reconciler_runs_total`,
	} {
		require.Greater(t, m[sample], 0.0, "%s should be counted", sample)
	}
	require.Contains(t, m, "contenthub_reconciler_repairs_total")
	require.Contains(t, m, "contenthub_reconciler_unknown_total")
}
