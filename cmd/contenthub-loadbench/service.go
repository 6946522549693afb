package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times (100 on Linux).
const clockTicks = 100

// service is one contenthub process under test.
type service struct {
	cmd      *exec.Cmd
	base     string // http://host:port
	apiToken string
	logPath  string
	done     chan struct{}
	client   *http.Client
}

type serviceConfig struct {
	binary      string
	databaseURL string
	workDir     string // holds the fake creator's record and the service's log
	self        string // this program, run as the fake creator
	secret      string
	env         []string // more of the service's environment
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// startService runs `contenthub serve` as an operator would, with a fake
// creator that records callback URLs, and waits until it is ready.
func startService(ctx context.Context, cfg serviceConfig) (*service, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &service{
		base: "http://" + addr, apiToken: randomHex(16), logPath: filepath.Join(cfg.workDir, "contenthub.log"),
		done: make(chan struct{}),
	}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(cfg.binary, "serve")
	s.cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"HTTP_ADDR=" + addr,
		"DATABASE_URL=" + cfg.databaseURL,
		"API_TOKENS=" + s.apiToken,
		"WEBHOOK_SECRET_KEY=" + cfg.secret,
		"CREATOR_CLI_PATH=" + quote(cfg.self) + " fake-creator --record " + quote(cfg.workDir),
		// Submission is setup here, not what is measured. Every attempt of a
		// round is submitted before the first callback, and a submitted
		// attempt holds a slot until its outcome arrives (SERVICE.md §11), so
		// the ceiling must exceed a round's tasks; the fake creator answers at
		// once, so the processes in flight stay few.
		"CREATOR_MAX_CONCURRENCY=100000",
		// Nothing polls during the run: every task hears from its callback.
		"POLL_INTERVAL=1h", "CALLBACK_GRACE=1h", "TASK_TIMEOUT=24h",
	}
	s.cmd.Env = append(s.cmd.Env, cfg.env...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s: %w", cfg.binary, err)
	}
	go func() {
		_ = s.cmd.Wait()
		_ = logFile.Close()
		close(s.done)
	}()
	s.client = newClient(256)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := s.client.Get(s.base + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("contenthub exited at start; see %s", s.logPath)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("contenthub not ready after 60 s; see %s", s.logPath)
		}
	}
}

func (s *service) pid() int { return s.cmd.Process.Pid }

// stop asks the service to shut down and waits for it.
func (s *service) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: conns, MaxIdleConnsPerHost: conns, DisableCompression: true,
			IdleConnTimeout: time.Minute,
		},
	}
}

// api calls the task API with the bearer token and decodes a JSON answer.
func (s *service) api(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.apiToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// createTasks creates n tasks for account through the API, a few at a
// time, and returns their ids.
func (s *service) createTasks(ctx context.Context, account int64, n int, topic func(i int) string) ([]string, error) {
	ids := make([]string, n)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		firstEr error
		next    = make(chan int)
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				var created struct {
					TaskID string `json:"task_id"`
				}
				err := s.api(ctx, http.MethodPost, "/api/v1/content/tasks", map[string]any{
					"account_id": account, "topic": topic(i), "requirements": "写一篇面向开发者的科普文章", "priority": 5,
				}, &created)
				mu.Lock()
				if err != nil && firstEr == nil {
					firstEr = err
				}
				ids[i] = created.TaskID
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return ids, firstEr
}

// waitSubmitted waits until the fake creator recorded every task's callback
// URL and no task is pending any more, and returns the URLs by task id.
func (s *service) waitSubmitted(ctx context.Context, workDir string, ids []string) (map[string]string, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		urls, err := readSubmits(workDir)
		if err != nil {
			return nil, err
		}
		found := 0
		for id := range want {
			if _, ok := urls[id]; ok {
				found++
			}
		}
		if found == len(want) {
			var page struct {
				Items []json.RawMessage `json:"items"`
			}
			if err := s.api(ctx, http.MethodGet, "/api/v1/content/tasks?status=pending&limit=1", nil, &page); err != nil {
				return nil, err
			}
			if len(page.Items) == 0 {
				return urls, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("only %d of %d tasks submitted after 10 minutes", found, len(want))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readSubmits reads the fake creator's record: callback URL by task id.
func readSubmits(workDir string) (map[string]string, error) {
	f, err := os.Open(filepath.Join(workDir, submitsFile))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	urls := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		_, cb, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		u, err := url.Parse(cb)
		if err != nil {
			return nil, err
		}
		urls[filepath.Base(u.Path)] = cb
	}
	return urls, sc.Err()
}

// cpuSeconds is the process's user and system CPU time so far.
func cpuSeconds(pid int) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (utime + stime) / clockTicks, nil
}

// resetPeakRSS starts a new peak-RSS measurement (VmHWM); false when the
// kernel does not allow it, and the peak is then the process's lifetime one.
func resetPeakRSS(pid int) bool {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
}

// peakRSS is VmHWM in MiB.
func peakRSS(pid int) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// postgresSchemas creates schemas on the server and drops them at the end.
type postgresSchemas struct {
	admin   *sql.DB
	baseURL *url.URL
	created []string
}

func newPostgresSchemas(ctx context.Context, rawURL string) (*postgresSchemas, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("postgres", rawURL)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres at %s: %w", u.Redacted(), err)
	}
	return &postgresSchemas{admin: db, baseURL: u}, nil
}

// create makes an empty schema and returns the URL whose search_path it is.
func (p *postgresSchemas) create(ctx context.Context, prefix string) (string, error) {
	name := prefix + "_" + randomHex(6)
	if _, err := p.admin.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		return "", err
	}
	p.created = append(p.created, name)
	u := *p.baseURL
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// settle vacuums and analyses every table of the schemas and takes a
// checkpoint, as pgbench does before a run: what the set-up wrote (thousands
// of tasks created and submitted) is not left for autovacuum and the
// checkpointer to work off during the measurements, which would weigh on
// whichever side ran at the time.
func (p *postgresSchemas) settle(ctx context.Context) error {
	for _, name := range p.created {
		rows, err := p.admin.QueryContext(ctx, `SELECT quote_ident(table_name) FROM information_schema.tables
			WHERE table_schema = $1 AND table_type = 'BASE TABLE'`, name)
		if err != nil {
			return err
		}
		var tables []string
		for rows.Next() {
			var t string
			if err := rows.Scan(&t); err != nil {
				rows.Close()
				return err
			}
			tables = append(tables, name+"."+t)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if len(tables) == 0 {
			continue
		}
		if _, err := p.admin.ExecContext(ctx, "VACUUM (ANALYZE) "+strings.Join(tables, ", ")); err != nil {
			return fmt.Errorf("vacuum %s: %w", name, err)
		}
	}
	if _, err := p.admin.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

func (p *postgresSchemas) dropAll() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, name := range p.created {
		_, _ = p.admin.ExecContext(ctx, "DROP SCHEMA "+name+" CASCADE")
	}
	_ = p.admin.Close()
}

// migrate applies the service's migrations with its own command.
func migrate(ctx context.Context, binary, databaseURL string) error {
	cmd := exec.CommandContext(ctx, binary, "migrate", "up")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "DATABASE_URL=" + databaseURL}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("contenthub migrate up: %w: %s", err, out)
	}
	return nil
}
