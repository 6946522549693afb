//go:build reliability

package main

// The reliability suite: `make test-reliability` (RELIABILITY_SHORT=1 for a
// smaller run). Real binaries from `make build`, a PostgreSQL cluster of its
// own, the simulator with its faults; each scenario asserts the invariants
// and prints its figures, which docs/reliability.md keeps.
//
// Invariants, after every scenario:
//   - every task is terminal, in the status its faults call for;
//   - a completed task has exactly one content, the one it names; others none;
//   - an approved content has exactly one publish-pool entry; others none;
//   - no 200 without a stored delivery: every delivery the test client or the
//     simulator was answered 200 for is in webhook_deliveries (by its id);
//   - no 5xx but 503 with Retry-After;
//   - refused callbacks: at most one row per task, reason and window;
//   - no secret (signing secrets, API token, database password, callback
//     token) in any replica's log, and none in content-creator's environment
//     but the current signing secret as CONTENT_CREATOR_WEBHOOK_SECRET.

import (
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// figures are what a scenario prints.
type figures struct {
	Scenario  string
	Tasks     int
	Callbacks float64 // callback requests the replicas handled (test and simulator), from their metrics
	Faults    string
	Recover   time.Duration // what "recover" means is in Faults' scenario doc
	PeakRSS   float64       // MiB, the largest replica
	Took      time.Duration
	Failed    bool
}

// report collects every scenario's figures, failed ones included.
var report []*figures

func scaled(full, short int) int {
	if os.Getenv("RELIABILITY_SHORT") != "" {
		return short
	}
	return full
}

// relSecrets are the secrets every scenario configures and then looks for
// where they must not be.
type relSecrets struct {
	current, old, apiToken, dbPassword string
}

// scenario is one run: its own database and simulator state, its replicas,
// its storm client.
type scenario struct {
	t        *testing.T
	name     string
	secrets  relSecrets
	dbURL    string
	db       *sql.DB
	stateDir string
	envDumps string
	env      []string
	replicas []*service
	client   *stormClient
	fig      figures
	started  time.Time
	measured map[*service]bool
}

func newScenario(t *testing.T, pg *pgCluster, name string, extraEnv ...string) *scenario {
	t.Helper()
	s := &scenario{
		t: t, name: name, started: time.Now(), measured: map[*service]bool{},
		secrets: relSecrets{current: whsec(), old: whsec(), apiToken: "api-" + randomHex(16), dbPassword: "db-" + randomHex(16)},
		fig:     figures{Scenario: name},
	}
	report = append(report, &s.fig)
	dbName := "rel_" + strings.ToLower(strings.NewReplacer(" ", "_", "-", "_").Replace(name))
	s.dbURL = pg.database(t, dbName, s.secrets.dbPassword)
	var err error
	s.db, err = sql.Open("postgres", pg.url(dbName, ""))
	require.NoError(t, err)
	t.Cleanup(func() { s.db.Close() })
	s.stateDir = filepath.Join(t.TempDir(), "content-creator-sim")
	s.envDumps = t.TempDir()
	// content-creator as the service runs it, with its environment kept.
	wrapper := writeScript(t, `if [ "$1" = create ]; then env > '`+s.envDumps+`'/create.$$; fi
exec `+simulator()+` "$@"
`)
	s.env = append([]string{
		"DATABASE_URL=" + s.dbURL,
		"API_TOKENS=" + s.secrets.apiToken,
		"WEBHOOK_SECRET_KEY=" + s.secrets.current + "," + s.secrets.old,
		"CREATOR_CLI_PATH=" + wrapper,
		"CONTENT_CREATOR_SIM_STATE_DIR=" + s.stateDir,
		"POLL_INTERVAL=1s", "CALLBACK_GRACE=1s",
	}, extraEnv...)
	s.client = newStormClient(s.secrets.current)
	http.DefaultClient.Transport = bearer{token: s.secrets.apiToken, next: http.DefaultTransport}
	t.Cleanup(func() { http.DefaultClient.Transport = nil })
	return s
}

func (s *scenario) start() *service {
	s.t.Helper()
	svc := startService(s.t, s.t.TempDir(), s.env)
	s.replicas = append(s.replicas, svc)
	return svc
}

func (s *scenario) live() []*service {
	var out []*service
	for _, r := range s.replicas {
		select {
		case <-r.done:
		default:
			out = append(out, r)
		}
	}
	return out
}

// bases are the live replicas' addresses, for the storm client.
func (s *scenario) bases() []string {
	var out []string
	for _, r := range s.live() {
		out = append(out, "http://"+r.addr)
	}
	if len(out) == 0 {
		return []string{"http://127.0.0.1:1"}
	}
	return out
}

// measure takes a live replica's figures (callbacks handled, peak RSS)
// before it stops or is killed; once per replica.
func (s *scenario) measure(svc *service) {
	s.t.Helper()
	if s.measured[svc] {
		return
	}
	s.measured[svc] = true
	for name, v := range scrape(s.t, svc) {
		if strings.HasPrefix(name, "contenthub_callbacks_total{") {
			s.fig.Callbacks += v
		}
	}
	s.fig.PeakRSS = max(s.fig.PeakRSS, peakRSS(svc.cmd.Process.Pid))
}

// createTasks creates n tasks, spread over the live replicas; topic and
// extra fields per index.
func (s *scenario) createTasks(n int, topic func(i int) string, extra func(i int) map[string]any) []string {
	s.t.Helper()
	ids := make([]string, n)
	for i := range ids {
		live := s.live()
		var fields map[string]any
		if extra != nil {
			fields = extra(i)
		}
		ids[i] = createTaskWith(live[i%len(live)], topic(i), fields)
	}
	s.fig.Tasks += n
	return ids
}

// statuses reads every task's status from the database.
func (s *scenario) statuses() (map[string]string, error) {
	rows, err := s.db.Query("SELECT id, status FROM tasks")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			return nil, err
		}
		out[id] = status
	}
	return out, rows.Err()
}

// waitStatuses waits until every id has a status cond accepts; it returns
// when they all had.
func (s *scenario) waitStatuses(ids []string, what string, timeout time.Duration, cond func(string) bool) time.Time {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := s.statuses()
		if err == nil {
			pending := 0
			for _, id := range ids {
				if !cond(st[id]) {
					pending++
				}
			}
			if pending == 0 {
				return time.Now()
			}
			if time.Now().After(deadline) {
				s.t.Fatalf("%s: %d of %d tasks still not %s after %s: %v", s.name, pending, len(ids), what, timeout, st)
			}
		} else if time.Now().After(deadline) {
			s.t.Fatalf("%s: database unreadable: %v", s.name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func terminal(st string) bool {
	switch st {
	case "completed", "failed", "timeout", "cancelled":
		return true
	}
	return false
}

func started(st string) bool { return st == "submitted" || st == "processing" || terminal(st) }

// finish measures the live replicas, checks every invariant against the
// expected final statuses, and records the figures.
func (s *scenario) finish(expect map[string]string) {
	s.t.Helper()
	// Content-creator's generations end on their own (some after the task
	// did); their last callbacks are part of what is checked.
	require.Eventually(s.t, func() bool { return simWorkersRunning(s.t, s.stateDir) == 0 }, 90*time.Second, 100*time.Millisecond,
		"content-creator workers still running")
	for _, r := range s.live() {
		s.measure(r)
	}
	s.fig.Took = time.Since(s.started)
	s.checkInvariants(expect)
	s.t.Logf("%s: %d tasks, %.0f callbacks handled, %d test requests (%d retried), faults: %s, recover %s, peak RSS %.1f MiB, took %s",
		s.name, s.fig.Tasks, s.fig.Callbacks, s.client.requests.Load(), s.client.retried.Load(), s.fig.Faults,
		s.fig.Recover.Round(10*time.Millisecond), s.fig.PeakRSS, s.fig.Took.Round(100*time.Millisecond))
}

func (s *scenario) checkInvariants(expect map[string]string) {
	t := s.t
	t.Helper()
	st, err := s.statuses()
	require.NoError(t, err)
	for id, want := range expect {
		require.Equal(t, want, st[id], "task %s", id)
	}
	require.Len(t, st, len(expect), "tasks in the database besides the scenario's own")

	// One content per completed task, the one it names; one pool entry per
	// approved content.
	rows, err := s.db.Query(`SELECT t.id, t.status, t.content_id,
		(SELECT COUNT(*) FROM contents c WHERE c.task_id = t.id),
		(SELECT COUNT(*) FROM contents c WHERE c.task_id = t.id AND c.id = t.content_id)
		FROM tasks t`)
	require.NoError(t, err)
	for rows.Next() {
		var id, status, contentID string
		var contents, named int
		require.NoError(t, rows.Scan(&id, &status, &contentID, &contents, &named))
		if status == "completed" {
			require.Equal(t, 1, contents, "task %s: contents", id)
			require.Equal(t, 1, named, "task %s: its content_id %q is not its content", id, contentID)
		} else {
			require.Zero(t, contents, "task %s (%s) has content", id, status)
		}
	}
	require.NoError(t, rows.Err())
	rows.Close()
	rows, err = s.db.Query(`SELECT c.id, c.review_status, (SELECT COUNT(*) FROM publish_pool p WHERE p.content_id = c.id)
		FROM contents c`)
	require.NoError(t, err)
	for rows.Next() {
		var id, review string
		var entries int
		require.NoError(t, rows.Scan(&id, &review, &entries))
		want := 0
		if review == "approved" {
			want = 1
		}
		require.Equal(t, want, entries, "content %s (%s): pool entries", id, review)
	}
	require.NoError(t, rows.Err())
	rows.Close()

	// No 200 without a stored delivery.
	stored := map[[2]string]bool{}
	rows, err = s.db.Query("SELECT task_id, delivery_id FROM webhook_deliveries WHERE delivery_id IS NOT NULL")
	require.NoError(t, err)
	for rows.Next() {
		var task, delivery string
		require.NoError(t, rows.Scan(&task, &delivery))
		stored[[2]string{task, delivery}] = true
	}
	require.NoError(t, rows.Err())
	rows.Close()
	s.client.mu.Lock()
	answers := append([]stormAnswer(nil), s.client.answers...)
	bad := append([]string(nil), s.client.bad...)
	s.client.mu.Unlock()
	require.Empty(t, bad, "answers 5xx other than 503 with Retry-After")
	oks := 0
	for _, a := range answers {
		require.NotZero(t, a.Status, "delivery %s of %s never got an answer", a.WebhookID, a.TaskID)
		if a.Status == http.StatusOK {
			oks++
			require.True(t, stored[[2]string{a.TaskID, "wh:" + a.WebhookID}], "200 for %s of %s, nothing stored", a.WebhookID, a.TaskID)
		}
	}
	sim := simDeliveries(t, s.stateDir)
	for _, d := range sim {
		require.True(t, stored[[2]string{d.TaskID, "wh:" + d.WebhookID}],
			"the simulator got %d for %s of %s, nothing stored", d.Status, d.WebhookID, d.TaskID)
	}
	t.Logf("%s: %d test deliveries answered 200 and %d simulator deliveries answered 200/202, all stored", s.name, oks, len(sim))

	// Refused callbacks are audited once per task, reason and window.
	var repeated int
	require.NoError(t, s.db.QueryRow(`SELECT COUNT(*) FROM (SELECT 1 FROM webhook_deliveries WHERE outcome = 'rejected'
		GROUP BY task_id, reason, refused_window HAVING COUNT(*) > 1) r`).Scan(&repeated))
	require.Zero(t, repeated, "refusals stored twice in one window")

	// No secret in logs or in content-creator's environment.
	secrets := map[string]string{
		"current signing secret": s.secrets.current, "rotated-out signing secret": s.secrets.old,
		"API token": s.secrets.apiToken, "database password": s.secrets.dbPassword,
	}
	for i, r := range s.replicas {
		logs := r.logs.String()
		for what, v := range secrets {
			require.NotContains(t, logs, v, "replica %d logs the %s", i, what)
		}
		require.NotContains(t, logs, "token=", "replica %d logs a callback token", i)
	}
	dumps, err := filepath.Glob(filepath.Join(s.envDumps, "create.*"))
	require.NoError(t, err)
	require.NotEmpty(t, dumps, "content-creator was never run")
	for _, path := range dumps {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, line := range strings.Split(string(raw), "\n") {
			name, value, _ := strings.Cut(line, "=")
			for _, service := range []string{"DATABASE_URL", "API_TOKENS", "WEBHOOK_SECRET_KEY"} {
				require.NotEqual(t, service, name, "content-creator's environment has %s", service)
			}
			for what, v := range secrets {
				if name == "CONTENT_CREATOR_WEBHOOK_SECRET" && what == "current signing secret" {
					require.Equal(t, v, value)
					continue
				}
				require.NotContains(t, value, v, "content-creator's environment has the %s in %s", what, name)
			}
		}
	}
}

// stormUntil sends deliveries for the tasks from workers goroutines until
// stop is closed: each round one new progress delivery per task and a
// duplicate of the previous one. The percentage grows with the round.
func (s *scenario) stormUntil(ids []string, workers int, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	next := make(chan int)
	go func() {
		defer close(next)
		for round := 0; ; round++ {
			for i := range ids {
				select {
				case <-stop:
					return
				case next <- round*len(ids) + i:
				}
			}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				id := ids[n%len(ids)]
				round := n / len(ids)
				body := []byte(fmt.Sprintf(`{"event":"progress","taskId":"%s-1","progress":{"percentage":%d,"stage":"storm","message":"风暴 storm"}}`,
					id, min(5+round, 95)))
				webhookID := fmt.Sprintf("msg_storm_%s_%d", id, round)
				s.client.deliver(s.bases, id, body, webhookID)
				s.client.deliver(s.bases, id, body, webhookID) // the same delivery again
			}
		}()
	}
	return &wg
}

// completedBody is the simulator's sample completed callback for ref, with
// a marker in its article.
func completedBody(t *testing.T, ref, marker string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../content-creator-sim/testdata/callback-completed.body.json")
	require.NoError(t, err)
	body := strings.Replace(string(raw), `"taskId":"test-api-001"`, `"taskId":"`+ref+`"`, 1)
	body = strings.Replace(body, `"content":"# 边缘计算入门`, `"content":"# 边缘计算入门 `+marker, 1)
	require.Contains(t, body, ref)
	return []byte(body)
}

func expectAll(ids []string, status string) map[string]string {
	out := map[string]string{}
	for _, id := range ids {
		out[id] = status
	}
	return out
}

// TestReliability runs every scenario on one private PostgreSQL cluster, each
// on its own database, and prints the figures.
func TestReliability(t *testing.T) {
	pg := startCluster(t)
	report = nil
	for _, sc := range []struct {
		name string
		run  func(*testing.T, *pgCluster)
	}{
		{"duplicate storm", duplicateStorm},
		{"database restart mid-storm", databaseRestart},
		{"SIGKILL of one of two replicas", killOneReplica},
		{"lost webhooks", lostWebhooks},
		{"hostile inputs", hostileInputs},
		{"SIGTERM drain mid-storm", drainMidStorm},
		{"outbox across SIGKILLs", outboxAcrossKills},
	} {
		before := len(report)
		ok := t.Run(sc.name, func(t *testing.T) { sc.run(t, pg) })
		for _, f := range report[before:] {
			f.Failed = !ok
		}
	}

	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "Reliability figures, %s, %s (%d CPUs, %s/%s), %s\n\n", time.Now().Format("2006-01-02"), host,
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, map[bool]string{true: "short run", false: "full run"}[os.Getenv("RELIABILITY_SHORT") != ""])
	b.WriteString("| scenario | tasks | callbacks handled | faults | recovery | peak RSS | took | invariants |\n|---|---|---|---|---|---|---|---|\n")
	for _, f := range report {
		fmt.Fprintf(&b, "| %s | %d | %.0f | %s | %s | %.0f MiB | %s | %s |\n", f.Scenario, f.Tasks, f.Callbacks, f.Faults,
			f.Recover.Round(10*time.Millisecond), f.PeakRSS, f.Took.Round(100*time.Millisecond),
			map[bool]string{false: "hold", true: "FAILED"}[f.Failed])
	}
	fmt.Println(b.String())
	if path := os.Getenv("RELIABILITY_REPORT"); path != "" {
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	}
}

// duplicateStorm: two replicas; every task gets, all at once and spread over
// both, 8 copies of a progress delivery, 8 copies of a completed delivery
// and 3 rival completions with other ids, while the simulator sends each of
// its own callbacks twice. Recovery: from the storm's start to every task
// terminal.
func duplicateStorm(t *testing.T, pg *pgCluster) {
	s := newScenario(t, pg, "duplicate storm", "SIM_DELAY=2s", "SIM_DUPLICATE=1")
	s.start()
	s.start()
	n := scaled(30, 8)
	ids := s.createTasks(n, func(i int) string { return "重复风暴 duplicate storm " + strconv.Itoa(i) }, nil)
	s.waitStatuses(ids, "submitted", 60*time.Second, started)

	var wg sync.WaitGroup
	stormStart := time.Now()
	for _, id := range ids {
		ref := id + "-1"
		progress := []byte(fmt.Sprintf(`{"event":"progress","taskId":"%s","progress":{"percentage":50,"stage":"writing","message":"一半 half"}}`, ref))
		completed := completedBody(t, ref, "test")
		send := func(body []byte, webhookID string) {
			wg.Add(1)
			go func() { defer wg.Done(); s.client.deliver(s.bases, id, body, webhookID) }()
		}
		for range 8 {
			send(progress, "msg_p_"+id)
			send(completed, "msg_c_"+id)
		}
		for r := range 3 {
			send(completedBody(t, ref, "rival "+strconv.Itoa(r)), fmt.Sprintf("msg_r%d_%s", r, id))
		}
	}
	wg.Wait()
	done := s.waitStatuses(ids, "completed", 60*time.Second, terminal)
	s.fig.Recover = done.Sub(stormStart)
	s.fig.Faults = fmt.Sprintf("%d concurrent test deliveries (19 per task), simulator duplicates every callback", 19*n)
	s.finish(expectAll(ids, "completed"))
}

// databaseRestart: two replicas under a steady storm of progress deliveries
// (each sent twice) while the simulator generates; PostgreSQL is crashed
// (immediate stop), kept down 3 s and started again. Callbacks meanwhile get
// 503 and are retried. Recovery: from PostgreSQL's start to both replicas
// ready and a delivery answered 200 again.
func databaseRestart(t *testing.T, pg *pgCluster) {
	s := newScenario(t, pg, "database restart mid-storm", "SIM_DELAY=5s", "SIM_PROGRESS_STEPS=5",
		"SIM_CALLBACK_ATTEMPTS=10", "SIM_CALLBACK_BACKOFF=500ms")
	s.start()
	s.start()
	n := scaled(30, 8)
	ids := s.createTasks(n, func(i int) string { return "数据库重启 database restart " + strconv.Itoa(i) }, nil)
	s.waitStatuses(ids, "submitted", 60*time.Second, started)

	stop := make(chan struct{})
	storm := s.stormUntil(ids, 8, stop)
	time.Sleep(time.Second)
	require.NoError(t, pg.crash())
	time.Sleep(3 * time.Second)
	require.NoError(t, pg.start())
	restarted := time.Now()
	for _, r := range s.live() {
		require.Eventually(t, func() bool {
			resp, err := http.Get(r.url("/readyz"))
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, 60*time.Second, 50*time.Millisecond, "replica not ready after the restart")
	}
	probe := []byte(fmt.Sprintf(`{"event":"progress","taskId":"%s-1","progress":{"percentage":1,"stage":"probe","message":"p"}}`, ids[0]))
	require.Equal(t, http.StatusOK, s.client.deliver(s.bases, ids[0], probe, "msg_probe_"+ids[0]).Status)
	s.fig.Recover = time.Since(restarted)
	time.Sleep(2 * time.Second)
	close(stop)
	storm.Wait()
	s.waitStatuses(ids, "completed", 120*time.Second, terminal)
	s.fig.Faults = fmt.Sprintf("PostgreSQL crashed and down 3 s mid-storm; %d test requests, %d answered 503 or refused", s.client.requests.Load(), s.client.retried.Load())
	s.finish(expectAll(ids, "completed"))
}

// killOneReplica: replicas A and B share the work; A is SIGKILLed while the
// simulator generates and a storm hits it. The simulator's callbacks to A
// fail (one try each), so B's reconciler finishes A's tasks by polling.
// Recovery: from the kill to every task terminal.
func killOneReplica(t *testing.T, pg *pgCluster) {
	s := newScenario(t, pg, "SIGKILL of one of two replicas", "SIM_DELAY=4s", "SIM_CALLBACK_ATTEMPTS=1", "CREATOR_SUBMIT_TIMEOUT=5s")
	a := s.start()
	s.start()
	n := scaled(30, 8)
	ids := s.createTasks(n, func(i int) string { return "副本被杀 replica killed " + strconv.Itoa(i) }, nil)
	s.waitStatuses(ids, "submitted", 60*time.Second, started)
	stop := make(chan struct{})
	storm := s.stormUntil(ids, 8, stop)
	time.Sleep(500 * time.Millisecond)
	s.measure(a)
	a.kill()
	killed := time.Now()
	time.Sleep(time.Second)
	close(stop)
	storm.Wait()
	done := s.waitStatuses(ids, "completed", 120*time.Second, terminal)
	s.fig.Recover = done.Sub(killed)
	var byA int
	require.NoError(t, s.db.QueryRow("SELECT COUNT(*) FROM task_attempts WHERE callback_url LIKE $1", "http://"+a.addr+"%").Scan(&byA))
	s.fig.Faults = fmt.Sprintf("SIGKILL of A mid-generation (%d of %d tasks submitted by A), storm of duplicates", byA, n)
	s.finish(expectAll(ids, "completed"))
}

// lostWebhooks: one replica; a third of the tasks never call back
// ([no-callback]: completed by polling), a sixth crash half-way ([crash]:
// time out, no retries), a sixth fail ([fail]: failed, no retries).
// Recovery: from the last task's creation to every task terminal.
func lostWebhooks(t *testing.T, pg *pgCluster) {
	s := newScenario(t, pg, "lost webhooks", "SIM_DELAY=1s", "TASK_TIMEOUT=8s")
	s.start()
	n := scaled(30, 12)
	kind := func(i int) string {
		switch {
		case i%6 == 0:
			return "[crash]"
		case i%6 == 1:
			return "[fail]"
		case i%3 == 2:
			return "[no-callback]"
		}
		return ""
	}
	ids := s.createTasks(n, func(i int) string { return kind(i) + " 丢失回调 lost webhook " + strconv.Itoa(i) },
		func(i int) map[string]any {
			if kind(i) == "[crash]" || kind(i) == "[fail]" {
				return map[string]any{"max_retries": 0}
			}
			return nil
		})
	created := time.Now()
	expect := map[string]string{}
	counts := map[string]int{}
	for i, id := range ids {
		want := map[string]string{"[crash]": "timeout", "[fail]": "failed"}[kind(i)]
		if want == "" {
			want = "completed"
		}
		expect[id] = want
		counts[kind(i)]++
	}
	done := s.waitStatuses(ids, "terminal", 120*time.Second, terminal)
	s.fig.Recover = done.Sub(created)
	s.fig.Faults = fmt.Sprintf("%d never call back, %d crash half-way, %d fail", counts["[no-callback]"], counts["[crash]"], counts["[fail]"])
	s.finish(expect)
}

// hostileInputs: one replica with a low callback cap and read timeout,
// generating tasks while it is probed: wrong tokens, malformed and oversized
// bodies, 2 MB bodies with bogus signatures, bodies trickled past the read
// deadline, hostile paths and parameters. No answer may be a 5xx but 503
// with Retry-After; the tasks complete. Recovery: from the last probe to
// every task terminal.
func hostileInputs(t *testing.T, pg *pgCluster) {
	s := newScenario(t, pg, "hostile inputs", "SIM_DELAY=3s", "WEBHOOK_MAX_CONCURRENT=16",
		"HTTP_READ_TIMEOUT=2s", "HTTP_WRITE_TIMEOUT=20s")
	a := s.start()
	n := scaled(10, 4)
	ids := s.createTasks(n, func(i int) string { return "恶意输入 hostile " + strconv.Itoa(i) }, nil)
	s.waitStatuses(ids, "submitted", 60*time.Second, started)

	var (
		mu     sync.Mutex
		probes int
		status = map[int]int{}
		bad    []string
	)
	client := &http.Client{Timeout: 30 * time.Second, Transport: bearer{token: s.secrets.apiToken, next: &http.Transport{MaxIdleConnsPerHost: 32}}}
	send := func(method, path string, body []byte, header http.Header) {
		req, err := http.NewRequest(method, a.url(path), strings.NewReader(string(body)))
		if err != nil { // a path no client can even send
			return
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := client.Do(req)
		mu.Lock()
		defer mu.Unlock()
		probes++
		if err != nil {
			return // the server may close a connection it refuses to read
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status[resp.StatusCode]++
		if resp.StatusCode >= 500 && (resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "") {
			bad = append(bad, fmt.Sprintf("%s %s: %d", method, path, resp.StatusCode))
		}
	}
	parallel := func(count, workers int, fn func(i int)) {
		var wg sync.WaitGroup
		next := make(chan int)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					fn(i)
				}
			}()
		}
		for i := range count {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	cb := "/api/v1/content/callback/"
	progress := func(id string) []byte {
		return []byte(`{"event":"progress","taskId":"` + id + `-1","progress":{"percentage":10}}`)
	}
	big := func(size int) []byte {
		body := completedBody(t, ids[0]+"-1", "big")
		return append(body[:len(body)-1], []byte(`,"padding":"`+strings.Repeat("填", size/3)+`"}`)...)
	}
	twoMB := big(2 << 20)
	sixMB := big(6 << 20)
	var groups sync.WaitGroup
	group := func(fn func()) { groups.Add(1); go func() { defer groups.Done(); fn() }() }

	group(func() { // wrong tokens to one known task
		parallel(scaled(1000, 200), 6, func(int) { send(http.MethodPost, cb+ids[0]+"?token=forged", progress(ids[0]), nil) })
	})
	group(func() { // malformed JSON
		bodies := []string{"", "{", "[]", "null", `{"event":`, "\x00\xff", `{"event":"completed"}{}`, strings.Repeat("[", 10000)}
		parallel(scaled(100, 30), 4, func(i int) { send(http.MethodPost, cb+ids[1%n], []byte(bodies[i%len(bodies)]), nil) })
	})
	group(func() { // oversized bodies
		parallel(scaled(10, 3), 2, func(int) { send(http.MethodPost, cb+ids[0], sixMB, nil) })
	})
	group(func() { // 2 MB bodies with bogus signatures of each scheme
		headers := []http.Header{
			{"X-Webhook-Signature": {strings.Repeat("0", 64)}},
			{"X-Webhook-Signature": {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}},
			{"Webhook-Id": {"msg_x"}, "Webhook-Timestamp": {strconv.FormatInt(time.Now().Unix(), 10)}, "Webhook-Signature": {"v1,AAAA"}},
			{"X-Webhook-Signature": {"sha256=!!"}},
		}
		parallel(scaled(40, 8), 4, func(i int) { send(http.MethodPost, cb+ids[0], twoMB, headers[i%len(headers)]) })
	})
	// The other probes go first: trickled bodies hold every callback slot
	// for HTTP_READ_TIMEOUT, and everything sent meanwhile is answered 503.
	trickle := func() { // bodies trickled past HTTP_READ_TIMEOUT, more at once than WEBHOOK_MAX_CONCURRENT
		parallel(scaled(24, 20), 24, func(int) {
			conn, err := net.Dial("tcp", a.addr)
			if err != nil {
				return
			}
			defer conn.Close()
			body := progress(ids[0])
			fmt.Fprintf(conn, "POST %s%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", cb, ids[0], len(body))
			for _, c := range body {
				if _, err := conn.Write([]byte{c}); err != nil {
					break
				}
				time.Sleep(300 * time.Millisecond)
			}
			mu.Lock()
			probes++
			mu.Unlock()
		})
	}
	group(func() { // hostile paths, methods and parameters
		long := strings.Repeat("a", 10000)
		paths := []string{
			cb + "..%2F..%2Fetc%2Fpasswd", cb + "task-%00", cb + long, cb + "task-'%20OR%201=1--", cb + "%E4%BD%A0%E5%A5%BD",
			"/api/v1/content/tasks/" + long, "/api/v1/content/tasks?cursor=%25%25%25garbage", "/api/v1/content/tasks?limit=-1",
			"/api/v1/content/tasks?account_id=abc", "/api/v1/content/tasks?status=%27", "/api/v1/publish-pool?status=" + long,
			"/api/v1/contents/..%2F" + ids[0], "/api/v1/content/events?last_event_id=-5", "/ui/../../etc/passwd",
		}
		methods := []string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodPut}
		bodies := []string{`{"account_id":1,"topic":"` + long + `"}`, `{"account_id":-1,"topic":"x"}`, `{"account_id":1,"topic":"x","priority":1e400}`,
			`{"account_id":1,"topic":"x","keywords":` + strings.Repeat("[", 5000) + `}`}
		parallel(scaled(200, 60), 8, func(i int) {
			path := paths[i%len(paths)]
			body := []byte(bodies[i%len(bodies)])
			if strings.HasPrefix(path, cb) || i%5 == 0 {
				body = progress(ids[0])
			}
			send(methods[i%len(methods)], path, body, http.Header{"Idempotency-Key": {long[:i%300]}, "X-Request-ID": {"<script>" + long[:i%50]}})
		})
	})
	groups.Wait()
	trickle()
	probed := time.Now()
	require.Empty(t, bad, "5xx answers other than 503 with Retry-After")
	t.Logf("hostile probes: %d, answers by status: %v", probes, status)

	// The probes created no task (invalid bodies) — nor may they have.
	done := s.waitStatuses(ids, "completed", 60*time.Second, terminal)
	s.fig.Recover = done.Sub(probed)
	var refused int
	require.NoError(t, s.db.QueryRow("SELECT COUNT(*) FROM webhook_deliveries WHERE outcome = 'rejected'").Scan(&refused))
	require.Positive(t, refused, "the forged-token callbacks were refused and audited")
	s.fig.Faults = fmt.Sprintf("%d hostile requests; %d refused callbacks stored", probes, refused)
	s.finish(expectAll(ids, "completed"))
}

// drainMidStorm: replicas A and B under a storm of deliveries; A gets
// SIGTERM mid-storm while the simulator generates. A finishes what it has in
// flight, logs each phase, exits 0 and leaves the generations running; B
// finishes every task. Recovery: from SIGTERM to every task terminal.
func drainMidStorm(t *testing.T, pg *pgCluster) {
	s := newScenario(t, pg, "SIGTERM drain mid-storm", "SIM_DELAY=3s", "SIM_CALLBACK_ATTEMPTS=1", "SHUTDOWN_TIMEOUT=10s")
	a := s.start()
	s.start()
	n := scaled(30, 8)
	ids := s.createTasks(n, func(i int) string { return "优雅退出 drain " + strconv.Itoa(i) }, nil)
	s.waitStatuses(ids, "submitted", 60*time.Second, started)
	stop := make(chan struct{})
	storm := s.stormUntil(ids, 8, stop)
	time.Sleep(time.Second)
	s.measure(a)
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGTERM))
	termed := time.Now()
	select {
	case <-a.done:
	case <-time.After(45 * time.Second):
		t.Fatalf("A did not exit after SIGTERM:\n%s", grepLines(a.logs.String(), "drain", "SIGTERM"))
	}
	require.Equal(t, 0, a.cmd.ProcessState.ExitCode())
	logs := a.logs.String()
	last := -1
	for _, phase := range []string{"received SIGTERM", "drain: HTTP server", "drain: dispatcher and reconciler", "drain: database closed"} {
		at := strings.Index(logs, phase)
		require.Greater(t, at, last, "drain log line %q missing or out of order", phase)
		last = at
	}
	drainTook := time.Since(termed)
	time.Sleep(time.Second)
	close(stop)
	storm.Wait()
	done := s.waitStatuses(ids, "completed", 120*time.Second, terminal)
	s.fig.Recover = done.Sub(termed)
	s.fig.Faults = fmt.Sprintf("SIGTERM of A mid-storm (A exited 0 after %s)", drainTook.Round(10*time.Millisecond))
	t.Logf("A's drain:\n%s", grepLines(logs, "drain", "received SIGTERM"))
	s.finish(expectAll(ids, "completed"))
}
