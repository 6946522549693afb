package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// binDir holds contenthub and content-creator-sim built once for the
// end-to-end tests, side by side as `make build` leaves them.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	// make test-reliability passes `make build`'s output instead.
	if dir := os.Getenv("CONTENTHUB_BIN_DIR"); dir != "" {
		binDir = dir
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "contenthub-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	for _, pkg := range []string{".", "../content-creator-sim"} {
		name := "contenthub"
		if pkg != "." {
			name = "content-creator-sim"
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	binDir = dir
	return m.Run()
}

// syncBuffer collects a process's output safely.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// service is one contenthub process.
type service struct {
	t    testing.TB
	cmd  *exec.Cmd
	addr string
	logs *syncBuffer
	done chan struct{}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// startService runs contenthub with env (KEY=VALUE) in workDir and waits
// until it answers /healthz (role api/all) or has logged its start (worker).
func startService(t testing.TB, workDir string, env []string, args ...string) *service {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(filepath.Join(binDir, "contenthub"), append([]string{"serve"}, args...)...)
	cmd.Dir = workDir
	cmd.Env = append(append(os.Environ(), "HTTP_ADDR="+addr, "LOG_LEVEL=debug", "SIM_DELAY=300ms"), env...)
	s := &service{t: t, cmd: cmd, addr: addr, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	require.NoError(t, cmd.Start())
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("contenthub %v logs:\n%s", args, s.logs.String())
		}
	})
	worker := len(args) == 2 && args[1] == "worker"
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			t.Fatalf("contenthub exited at start:\n%s", s.logs.String())
		default:
		}
		if worker {
			if strings.Contains(s.logs.String(), "contenthub started") {
				return s
			}
		} else if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("contenthub did not start:\n%s", s.logs.String())
	return nil
}

// stop sends SIGTERM and waits for a graceful exit.
func (s *service) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// kill ends the process at once, as a crash would.
func (s *service) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

func (s *service) url(path string) string { return "http://" + s.addr + path }

// call sends a JSON request and decodes the JSON answer into out (if not nil).
func (s *service) call(method, path string, body any, out any) int {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(s.t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url(path), r)
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	if out != nil {
		require.NoError(s.t, json.Unmarshal(raw, out), "%s %s: %s", method, path, raw)
	}
	return resp.StatusCode
}

type taskView struct {
	TaskID    string  `json:"task_id"`
	Status    string  `json:"status"`
	Attempt   int     `json:"attempt"`
	ContentID *string `json:"content_id"`
	Progress  struct {
		Percentage int    `json:"percentage"`
		Stage      string `json:"stage"`
	} `json:"progress"`
	CompletedAt *time.Time `json:"completed_at"`
	LastError   *struct {
		Code string `json:"code"`
		Text string `json:"text"`
	} `json:"last_error"`
	Attempts []struct {
		Number      int    `json:"number"`
		ExternalRef string `json:"external_ref"`
		State       string `json:"state"`
	} `json:"attempts"`
}

func (s *service) createTask(topic string) string {
	s.t.Helper()
	var v taskView
	code := s.call(http.MethodPost, "/api/v1/content/tasks", map[string]any{"account_id": 1, "topic": topic}, &v)
	require.Equal(s.t, http.StatusAccepted, code)
	return v.TaskID
}

func (s *service) task(id string) taskView {
	s.t.Helper()
	var v taskView
	require.Equal(s.t, http.StatusOK, s.call(http.MethodGet, "/api/v1/content/tasks/"+id, nil, &v))
	return v
}

// waitStatus polls the API until the task reaches status (or fails the
// test after timeout), returning the view and when it was first seen.
func (s *service) waitStatus(id, status string, timeout time.Duration) (taskView, time.Time) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var v taskView
	for time.Now().Before(deadline) {
		v = s.task(id)
		if v.Status == status {
			return v, time.Now()
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.t.Fatalf("task %s is %s, not %s, after %s", id, v.Status, status, timeout)
	return v, time.Time{}
}

// writeScript writes an executable shell script for use as CREATOR_CLI_PATH.
func writeScript(t testing.TB, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "creator.sh")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755))
	return p
}
