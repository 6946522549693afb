package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore/sqlstoretest"
)

type creatorHealthView struct {
	Creator struct {
		Status    string  `json:"status"`
		Since     *string `json:"since"`
		LastError *string `json:"last_error"`
	} `json:"creator"`
}

func (s *service) creatorHealth() creatorHealthView {
	s.t.Helper()
	var v creatorHealthView
	require.Equal(s.t, http.StatusOK, s.call(http.MethodGet, "/api/v1/content/health", nil, &v))
	return v
}

func (s *service) waitCreator(status string, timeout time.Duration) creatorHealthView {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := s.creatorHealth()
		if v.Creator.Status == status {
			return v
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("content-creator is %q, not %q, after %s", v.Creator.Status, status, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *service) requireReady() {
	s.t.Helper()
	require.Equal(s.t, http.StatusOK, s.call(http.MethodGet, "/readyz", nil, nil), "/readyz is about the database")
}

// TestE2ECreatorOutageSpendsNoRetry (§14) with the real binaries: a
// content-creator that cannot start (a script exiting 1 until a file exists)
// opens the breaker after CREATOR_BREAKER_FAILURES submissions; the ten tasks
// created during the outage wait with no attempt opened; the file appears, a
// probe succeeds, and every one of them completes on its first attempt.
// /readyz answers 200 throughout.
func TestE2ECreatorOutageSpendsNoRetry(t *testing.T) {
	t.Parallel()
	backends := map[string]func(testing.TB) string{"sqlite": sqlstoretest.SQLiteURL, "postgres": sqlstoretest.PostgresURL}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			cli, flag := outageCreator(t)
			env := append([]string{"DATABASE_URL=" + backends[name](t), simStateDir(t), "CREATOR_CLI_PATH=" + cli,
				"CREATOR_BREAKER_FAILURES=3", "CREATOR_PROBE_INTERVAL=200ms", "RETRY_BACKOFF_BASE=1s", "RETRY_BACKOFF_MAX=2s"},
				fastPolling...)
			svc := startService(t, t.TempDir(), env)
			require.Equal(t, "unknown", svc.creatorHealth().Creator.Status, "nothing submitted yet")
			svc.requireReady()

			// Three tasks find it down and open the breaker (those attempts are spent).
			var openers []string
			for i := range 3 {
				openers = append(openers, svc.createTask("打开断路器 opener "+strconv.Itoa(i)))
			}
			down := svc.waitCreator("down", 20*time.Second)
			require.NotNil(t, down.Creator.Since)
			require.NotNil(t, down.Creator.LastError)
			require.Contains(t, *down.Creator.LastError, "ECONNREFUSED")
			svc.requireReady()
			metrics := svc.metricsText()
			require.Contains(t, metrics, "\ncontenthub_creator_up 0\n")

			var waiting []string
			for i := range 10 {
				waiting = append(waiting, svc.createTask("边缘计算入门 第"+strconv.Itoa(i+1)+"篇"))
			}
			// Probes keep failing for a while (several intervals): nothing moves.
			time.Sleep(time.Second)
			for _, id := range waiting {
				v := svc.task(id)
				require.Equal(t, "pending", v.Status, id)
				require.Equal(t, 1, v.Attempt, id)
				require.Empty(t, v.Attempts, "%s: no attempt opened during the outage", id)
				require.Nil(t, v.LastError, id)
				var raw map[string]any
				require.Equal(t, http.StatusOK, svc.call(http.MethodGet, "/api/v1/content/tasks/"+id, nil, &raw))
				require.Equal(t, "creator_unavailable", raw["waiting_reason"], id)
			}
			require.Equal(t, "down", svc.creatorHealth().Creator.Status)
			svc.requireReady()

			require.NoError(t, os.WriteFile(flag, nil, 0o644))
			up := svc.waitCreator("up", 20*time.Second)
			require.NotNil(t, up.Creator.Since)
			for _, id := range waiting {
				v := waitTask(svc, id, "completed after the outage", 60*time.Second, func(v taskView) bool { return v.Status == "completed" })
				require.Equal(t, 1, v.Attempt, "%s: the outage spent no retry", id)
				require.Len(t, v.Attempts, 1, id)
			}
			for _, id := range openers {
				waitTask(svc, id, "completed on a retry", retryWait, func(v taskView) bool { return v.Status == "completed" })
			}
			svc.requireReady()
			require.Contains(t, svc.metricsText(), "\ncontenthub_creator_up 1\n")
		})
	}
}

// outageCreator is a CREATOR_CLI_PATH that fails to start (exit 1, as when
// its own database is down) until the file it returns exists, then runs the
// simulator.
func outageCreator(t *testing.T) (cli, flag string) {
	t.Helper()
	flag = filepath.Join(t.TempDir(), "content-creator-is-back")
	cli = writeScript(t, `if [ ! -e '`+flag+`' ]; then
  echo "Error: connect ECONNREFUSED 127.0.0.1:5432 (content-creator's database)" >&2
  exit 1
fi
exec '`+filepath.Join(binDir, "content-creator-sim")+`' "$@"
`)
	return cli, flag
}

// TestCreatorBannerInTheBrowser (§14): the dashboard shows a banner while
// content-creator is down, and takes it away when it is back.
func TestCreatorBannerInTheBrowser(t *testing.T) {
	ctx := newBrowser(t)
	cli, flag := outageCreator(t)
	svc := startService(t, t.TempDir(), []string{"CREATOR_CLI_PATH=" + cli, "CREATOR_PROBE_INTERVAL=200ms", "LOG_LEVEL=info"})
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(svc.url("/ui/"))))
	until(t, ctx, "the task list", `!document.getElementById('view-list').hidden`)
	require.True(t, evaluate[bool](t, ctx, `document.getElementById('creator-banner').hidden`), "no banner while nothing is known")

	for i := range 3 {
		svc.createTask("打开断路器 opener " + strconv.Itoa(i))
	}
	svc.waitCreator("down", 20*time.Second)
	until(t, ctx, "the banner", `!document.getElementById('creator-banner').hidden &&
		document.getElementById('creator-banner').textContent.includes('content-creator is unavailable') &&
		document.getElementById('creator-banner').textContent.includes('ECONNREFUSED')`)

	require.NoError(t, os.WriteFile(flag, nil, 0o644))
	svc.waitCreator("up", 20*time.Second)
	until(t, ctx, "the banner to go", `document.getElementById('creator-banner').hidden`)
}

func (s *service) metricsText() string {
	s.t.Helper()
	resp, err := http.Get(s.url("/metrics"))
	require.NoError(s.t, err)
	defer resp.Body.Close()
	var b strings.Builder
	_, err = io.Copy(&b, resp.Body)
	require.NoError(s.t, err)
	return b.String()
}
