//go:build reliability

package main

// The reliability suite's machinery: a private PostgreSQL cluster, a
// callback storm client that keeps every answer, and the invariant checks.
// The scenarios are in reliability_test.go; `make test-reliability` runs them.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/lib/pq" // the "postgres" driver for the invariant checks
	"github.com/stretchr/testify/require"

	"contenthub/adapters/signature"
)

// pgCluster is a PostgreSQL server of the suite's own, in a temporary
// directory on a free port, so that it can be restarted mid-storm without
// disturbing anybody else's tests. It is removed at cleanup.
type pgCluster struct {
	t     *testing.T
	bin   string
	dir   string
	port  int
	admin *sql.DB
}

// pgBinDir finds the newest installed PostgreSQL's binaries.
func pgBinDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("CONTENTHUB_PG_BIN"); dir != "" {
		return dir
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(matches, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[j]))))
		return vi < vj
	})
	if len(matches) == 0 {
		t.Fatal("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (install postgresql, or set CONTENTHUB_PG_BIN)")
	}
	return filepath.Dir(matches[len(matches)-1])
}

func startCluster(t *testing.T) *pgCluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "contenthub-reliability-pg-")
	require.NoError(t, err)
	c := &pgCluster{t: t, bin: pgBinDir(t), dir: dir}
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root: the cluster belongs to postgres.
		u, err := user.Lookup("postgres")
		require.NoError(t, err, "running as root needs a postgres user to own the cluster")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		require.NoError(t, os.Chown(dir, uid, gid))
	}
	t.Cleanup(func() {
		if c.admin != nil {
			_ = c.admin.Close()
		}
		_ = c.run("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop")
		_ = os.RemoveAll(dir)
	})
	require.NoError(t, c.run("initdb", "-D", c.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"))
	_, portText, _ := strings.Cut(freeAddr(t), ":")
	c.port, _ = strconv.Atoi(portText)
	require.NoError(t, c.start())
	c.admin, err = sql.Open("postgres", c.url("postgres", ""))
	require.NoError(t, err)
	require.NoError(t, c.admin.Ping())
	return c
}

func (c *pgCluster) data() string { return filepath.Join(c.dir, "data") }

// run runs one of the server's programs, as postgres when we are root.
func (c *pgCluster) run(program string, args ...string) error {
	path := filepath.Join(c.bin, program)
	cmd := exec.Command(path, args...)
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", program, err, out)
	}
	return nil
}

func (c *pgCluster) start() error {
	return c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "60", "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off", c.port, c.dir), "start")
}

// crash stops the server as a crash would (no shutdown checkpoint; the next
// start recovers from the WAL).
func (c *pgCluster) crash() error {
	return c.run("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop")
}

func (c *pgCluster) url(database, password string) string {
	auth := "postgres"
	if password != "" {
		auth += ":" + password
	}
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", auth, c.port, database)
}

// database creates an empty database and returns its URL, with a password
// in it: trust authentication ignores it, but it must never be logged.
func (c *pgCluster) database(t *testing.T, name, password string) string {
	t.Helper()
	_, err := c.admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	return c.url(name, password)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// whsec returns a fresh Standard Webhooks secret.
func whsec() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// bearer adds the API token to every request of the test's HTTP clients.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// stormAnswer is the final answer one logical delivery got.
type stormAnswer struct {
	TaskID    string
	WebhookID string
	Status    int // 0: never answered before the deadline
	Duplicate bool
}

// stormClient sends signed callbacks (Standard Webhooks, scheme c) the way a
// persistent sender does: a 503 or a connection error is retried, against
// the next replica, until a final answer. It keeps every final answer and
// every 5xx other than 503.
type stormClient struct {
	secret   string
	http     *http.Client
	deadline time.Duration // per delivery
	backoff  time.Duration // between tries (Retry-After capped to it, for speed)

	requests atomic.Int64 // HTTP requests sent, retries included
	retried  atomic.Int64 // 503s and connection errors met
	mu       sync.Mutex
	answers  []stormAnswer
	bad      []string // 5xx other than 503, 503 without Retry-After
}

func newStormClient(secret string) *stormClient {
	return &stormClient{
		secret:   secret,
		http:     &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		deadline: 90 * time.Second,
		backoff:  200 * time.Millisecond,
	}
}

// deliver sends one delivery (webhookID) of body for taskID.
func (c *stormClient) deliver(bases func() []string, taskID string, body []byte, webhookID string) stormAnswer {
	ans := stormAnswer{TaskID: taskID, WebhookID: webhookID}
	give := time.Now().Add(c.deadline)
	for try := 0; time.Now().Before(give); try++ {
		all := bases()
		base := all[try%len(all)]
		ts := time.Now().Unix()
		sig, err := signature.SignStandard(c.secret, webhookID, ts, body)
		if err != nil {
			panic(err)
		}
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/content/callback/"+taskID, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(signature.HeaderWebhookID, webhookID)
		req.Header.Set(signature.HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(signature.HeaderWebhookSignature, sig)
		c.requests.Add(1)
		resp, err := c.http.Do(req)
		if err != nil {
			c.retried.Add(1)
			time.Sleep(c.backoff)
			continue
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				c.mu.Lock()
				c.bad = append(c.bad, fmt.Sprintf("%d from %s: %s", resp.StatusCode, base, raw))
				c.mu.Unlock()
			}
			c.retried.Add(1)
			time.Sleep(c.backoff)
			continue
		}
		ans.Status = resp.StatusCode
		var m struct {
			Duplicate bool `json:"duplicate"`
		}
		_ = json.Unmarshal(raw, &m)
		ans.Duplicate = m.Duplicate
		break
	}
	c.mu.Lock()
	c.answers = append(c.answers, ans)
	c.mu.Unlock()
	return ans
}

// simDelivered is a callback the simulator reports as delivered (200 or 202).
type simDelivered struct {
	TaskID    string
	WebhookID string
	Status    int
}

// simDeliveries reads the simulator's worker logs in stateDir.
func simDeliveries(t *testing.T, stateDir string) []simDelivered {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(stateDir, "*.log"))
	require.NoError(t, err)
	var out []simDelivered
	for _, path := range logs {
		f, err := os.Open(path)
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line struct {
				Msg       string `json:"msg"`
				TaskID    string `json:"task_id"`
				WebhookID string `json:"webhook_id"`
				Status    int    `json:"status"`
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil || line.Msg != "callback delivered" {
				continue
			}
			// The simulator knows the attempt's ref: "<task id>-<attempt>".
			id := line.TaskID[:strings.LastIndexByte(line.TaskID, '-')]
			out = append(out, simDelivered{TaskID: id, WebhookID: line.WebhookID, Status: line.Status})
		}
		f.Close()
	}
	return out
}

// simWorkersRunning counts the simulator's detached workers (from its state
// files) that are still running: not gone, and not a zombie left unreaped.
func simWorkersRunning(t *testing.T, stateDir string) int {
	t.Helper()
	states, err := filepath.Glob(filepath.Join(stateDir, "*.json"))
	require.NoError(t, err)
	running := 0
	for _, path := range states {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue // being rewritten
		}
		var st struct {
			WorkerPID int `json:"workerPid"`
		}
		if json.Unmarshal(raw, &st) != nil || st.WorkerPID == 0 {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", st.WorkerPID))
		if err != nil {
			continue
		}
		// "pid (comm) S …": the state follows the last ')'.
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] != 'Z' {
			running++
		}
	}
	return running
}

// peakRSS is a live process's peak resident set (VmHWM), in MiB.
func peakRSS(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
