package main

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore/sqlstoretest"
)

type deliveriesView struct {
	Items []struct {
		Event   string     `json:"event"`
		Outcome string     `json:"outcome"`
		SentAt  *time.Time `json:"sent_at"`
	} `json:"items"`
}

// TestE2ECreateToCompleted runs the real binaries over loopback: the service
// hands a task to the simulator, which sends progress and completed
// callbacks; the task completes with content and a pool entry. It prints the
// delay from the simulator's completed callback to the API showing it.
func TestE2ECreateToCompleted(t *testing.T) {
	backends := map[string]func(testing.TB) string{"sqlite": sqlstoretest.SQLiteURL, "postgres": sqlstoretest.PostgresURL}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			svc := startService(t, t.TempDir(), []string{"DATABASE_URL=" + backends[name](t)})
			id := svc.createTask("边缘计算入门 e2e")
			// Progress callbacks arrive before the completion.
			svc.waitStatus(id, "processing", 15*time.Second)
			v, seen := svc.waitStatus(id, "completed", 15*time.Second)
			require.NotNil(t, v.ContentID)
			require.Equal(t, 100, v.Progress.Percentage)

			var content map[string]any
			require.Equal(t, http.StatusOK, svc.call(http.MethodGet, "/api/v1/contents/"+*v.ContentID, nil, &content))
			require.Equal(t, "边缘计算入门 e2e", content["title"])
			require.NotEmpty(t, content["summary"])
			require.Greater(t, content["word_count"].(float64), 0.0)

			var pool struct {
				Items []struct {
					ContentID string `json:"content_id"`
				} `json:"items"`
			}
			require.Equal(t, http.StatusOK, svc.call(http.MethodGet, "/api/v1/publish-pool?status=pending", nil, &pool))
			require.Len(t, pool.Items, 1)
			require.Equal(t, *v.ContentID, pool.Items[0].ContentID)

			var ds deliveriesView
			require.Equal(t, http.StatusOK, svc.call(http.MethodGet, "/api/v1/content/tasks/"+id+"/deliveries", nil, &ds))
			var sent time.Time
			events := map[string]int{}
			for _, d := range ds.Items {
				events[d.Event+"/"+d.Outcome]++
				if d.Event == "completed" && d.Outcome == "applied" && d.SentAt != nil {
					sent = *d.SentAt
				}
			}
			require.Equal(t, 1, events["completed/applied"], "%v", events)
			require.GreaterOrEqual(t, events["progress/applied"], 1, "%v", events)
			require.False(t, sent.IsZero(), "the simulator's completed callback carries its send time")
			t.Logf("%s: simulator sent completed at %s; visible as completed via the API %s later (polling the API every 5 ms)",
				name, sent.Format(time.RFC3339Nano), seen.Sub(sent).Round(time.Millisecond))
		})
	}
}

// TestE2ETwoInstancesSubmitEachTaskOnce: two service processes on one
// PostgreSQL, 200 tasks; the fake CLI records every create: each task is
// submitted exactly once.
func TestE2ETwoInstancesSubmitEachTaskOnce(t *testing.T) {
	dbURL := sqlstoretest.PostgresURL(t)
	record := filepath.Join(t.TempDir(), "creates.log")
	cli := writeScript(t, `
if [ "$1" = create ]; then
  while [ $# -gt 0 ]; do
    if [ "$1" = --task-id ]; then echo "$2" >> "`+record+`"; fi
    shift
  done
  echo '{"status":"pending"}'
  exit 0
fi
echo '{"status":"running"}'
`)
	// The script's jobs never end, and a running attempt holds its slot
	// until it ends (§11): enough slots for every task, across both.
	env := []string{"DATABASE_URL=" + dbURL, "CREATOR_CLI_PATH=" + cli, "CREATOR_MAX_CONCURRENCY=200"}
	a := startService(t, t.TempDir(), env)
	b := startService(t, t.TempDir(), env)

	const n = 200
	ids := make([]string, 0, n)
	for i := range n {
		svc := a
		if i%2 == 1 {
			svc = b
		}
		ids = append(ids, svc.createTask("topic"))
	}
	for _, id := range ids {
		a.waitStatus(id, "submitted", 30*time.Second)
	}
	f, err := os.Open(record)
	require.NoError(t, err)
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		counts[strings.TrimSpace(sc.Text())]++
	}
	require.NoError(t, sc.Err())
	require.Len(t, counts, n, "every task was submitted")
	var dup []string
	for ref, c := range counts {
		if c != 1 {
			dup = append(dup, ref)
		}
	}
	sort.Strings(dup)
	require.Empty(t, dup, "submitted more than once")
	for _, id := range ids {
		require.Equal(t, 1, counts[id+"-1"], "task %s submitted as its first attempt", id)
	}
}
