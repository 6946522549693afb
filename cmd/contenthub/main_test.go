package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBadConfigExitsNamingTheVariable runs the real binary with a bad value.
func TestBadConfigExitsNamingTheVariable(t *testing.T) {
	cases := map[string]string{
		"POLL_INTERVAL":             "POLL_INTERVAL=soon",
		"WEBHOOK_REQUIRE_SIGNATURE": "WEBHOOK_REQUIRE_SIGNATURE=true",
		"CREATOR_MAX_CONCURRENCY":   "CREATOR_MAX_CONCURRENCY=0",
	}
	for variable, setting := range cases {
		t.Run(variable, func(t *testing.T) {
			cmd := exec.Command(filepath.Join(binDir, "contenthub"), "serve")
			cmd.Dir = t.TempDir()
			cmd.Env = []string{setting, "HTTP_ADDR=" + freeAddr(t)}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "the service must not start")
			require.NotZero(t, exit.ExitCode())
			require.Contains(t, stderr.String(), variable)
		})
	}
}

func TestUnknownCommandAndRole(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 2, run([]string{"frobnicate"}, nil, &out, &errOut))
	require.Contains(t, errOut.String(), "unknown command")
	errOut.Reset()
	require.Equal(t, 1, run([]string{"serve", "--role", "boss"}, nil, &out, &errOut))
	require.Contains(t, errOut.String(), "unknown role")
	out.Reset()
	require.Equal(t, 0, run([]string{"help"}, nil, &out, &errOut))
	for _, cmd := range []string{"[serve] [--role all|api|worker]", "migrate up|down|status", "sign --secret"} {
		require.Contains(t, out.String(), "contenthub "+cmd)
	}
	out.Reset()
	require.Equal(t, 0, run([]string{"migrate", "--help"}, nil, &out, &errOut))
	require.Contains(t, out.String(), "roll back the newest applied migration")
	errOut.Reset()
	require.Equal(t, 0, run([]string{"sign", "--help"}, nil, &out, &errOut))
	require.Contains(t, errOut.String(), "Standard Webhooks")
	errOut.Reset()
	require.Equal(t, 0, run([]string{"serve", "--help"}, nil, &out, &errOut))
	require.Contains(t, errOut.String(), "-role")
}

// TestSignMatchesTheVectors checks `contenthub sign` against SIGNATURES.md.
func TestSignMatchesTheVectors(t *testing.T) {
	signed := func(args ...string) string {
		var out, errOut bytes.Buffer
		require.NoError(t, sign(args, strings.NewReader(""), &out, &errOut), errOut.String())
		return out.String()
	}
	body := `{"event":"completed","taskId":"task-01","result":{"content":"# Hello"}}`
	require.Equal(t, "X-Webhook-Timestamp: 1700000000\nX-Webhook-Signature: sha256=84ec81399ef1ba11c829adedb35c5d92fb7809a3dc809338f2df63f0bd741178\n",
		signed("--secret", "whsec-demo", "--timestamp", "1700000000", "--body", body))
	require.Equal(t, "X-Webhook-Signature: If6NGOiUjW8Qhe4hNbhA5UZKhR1TFwj4RT+DKn0Z01Q=\n",
		signed("--secret", "my-secret-key", "--scheme", "b", "--body", `{"event":"content.completed","content_id":123}`))
	c := signed("--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "--scheme", "c", "--id", "msg_1", "--timestamp", "1700000000", "--format", "curl", "--body", "{}")
	require.Regexp(t, `^-H webhook-id:msg_1 -H webhook-timestamp:1700000000 -H webhook-signature:v1,[A-Za-z0-9+/=]+\n$`, c)

	var out, errOut bytes.Buffer
	require.NoError(t, sign([]string{"--secret", "not-whsec", "--scheme", "all", "--body", "{}"}, strings.NewReader(""), &out, &errOut))
	require.Contains(t, out.String(), "X-Webhook-Signature: sha256=")
	require.Contains(t, errOut.String(), "scheme c (Standard Webhooks) left out", "--scheme all says what it dropped")
	out.Reset()
	errOut.Reset()
	require.NoError(t, sign([]string{"--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "--scheme", "all", "--body", "{}"}, strings.NewReader(""), &out, &errOut))
	require.Contains(t, out.String(), "webhook-signature: v1,")
	require.Empty(t, errOut.String())
	err := sign([]string{"--secret", "not-whsec", "--scheme", "c", "--body", "{}"}, strings.NewReader(""), &out, &errOut)
	require.ErrorContains(t, err, "whsec_")
	require.Error(t, sign([]string{"--body", "{}"}, strings.NewReader(""), &out, &errOut), "no secret")
}

// TestMigrateCommand drives `contenthub migrate` on a fresh SQLite file.
func TestMigrateCommand(t *testing.T) {
	dbURL := "DATABASE_URL=sqlite://" + filepath.Join(t.TempDir(), "hub.db")
	migrate := func(action string) string {
		cmd := exec.Command(filepath.Join(binDir, "contenthub"), "migrate", action)
		cmd.Env = []string{dbURL}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "migrate %s: %s", action, out)
		return string(out)
	}
	require.Regexp(t, `pending +- +00001_init\.sql`, migrate("status"))
	require.Contains(t, migrate("up"), "migrate up: done")
	require.NotContains(t, migrate("status"), "pending")
	require.Contains(t, migrate("down"), "migrate down: done")
	// Only the newest migration is rolled back.
	status := migrate("status")
	require.Equal(t, 1, strings.Count(status, "pending"), status)
	require.Regexp(t, `pending +- +\d+_\w+\.sql\n$`, status)
}

// TestHelpIsDiscoverable: --help, -h and help all print the full usage; each
// command has its own.
func TestHelpIsDiscoverable(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"-help"}} {
		var out, errOut bytes.Buffer
		require.Equal(t, 0, run(args, nil, &out, &errOut), args)
		require.Equal(t, usage, out.String(), args)
		require.Empty(t, errOut.String())
	}
	for cmd, want := range map[string]string{"serve": serveUsage, "migrate": migrateUsage, "sign": signUsage} {
		var out, errOut bytes.Buffer
		require.Equal(t, 0, run([]string{"help", cmd}, nil, &out, &errOut))
		require.Equal(t, want, out.String(), "help %s", cmd)
		out.Reset()
		require.Equal(t, 0, run([]string{cmd, "--help"}, nil, &out, &errOut))
		require.Equal(t, want, out.String()+errOut.String(), "%s --help", cmd)
	}
	var out, errOut bytes.Buffer
	require.Equal(t, 1, run([]string{"serve", "extra"}, nil, &out, &errOut))
	require.Contains(t, errOut.String(), `unexpected argument "extra"`)
}

func TestReadyBanner(t *testing.T) {
	b := readyBanner("[::]:8080", false)
	for _, want := range []string{
		"API        http://127.0.0.1:8080/api/v1/content/tasks",
		"Dashboard  http://127.0.0.1:8080/ui/",
		"Metrics    http://127.0.0.1:8080/metrics",
		`curl -s -X POST http://127.0.0.1:8080/api/v1/content/tasks -H 'Content-Type: application/json' -d '{"account_id":1,"topic":"边缘计算入门"}'`,
	} {
		require.Contains(t, b, want)
	}
	require.NotContains(t, b, "Authorization")
	require.Contains(t, readyBanner("10.0.0.5:9000", true), `http://10.0.0.5:9000/ui/`)
	require.Contains(t, readyBanner("127.0.0.1:9000", true), `-H "Authorization: Bearer $API_TOKEN"`)
}

func TestServeGCPercentYieldsToGOGC(t *testing.T) {
	percent, ok := defaultGCPercent([]string{"PATH=/bin", "GOGCX=1"})
	require.True(t, ok)
	require.Equal(t, serveGCPercent, percent)
	_, ok = defaultGCPercent([]string{"PATH=/bin", "GOGC=100"})
	require.False(t, ok, "the operator's GOGC wins")
	_, ok = defaultGCPercent([]string{"GOGC="})
	require.False(t, ok, "even empty: the runtime read it")
}

func TestServeMemoryLimitYieldsToGOMEMLIMIT(t *testing.T) {
	limit, ok := defaultMemoryLimit([]string{"PATH=/bin", "GOMEMLIMITX=1"})
	require.True(t, ok)
	require.Equal(t, int64(serveMemoryLimit), limit)
	_, ok = defaultMemoryLimit([]string{"PATH=/bin", "GOMEMLIMIT=1GiB"})
	require.False(t, ok, "the operator's GOMEMLIMIT wins")
	_, ok = defaultMemoryLimit([]string{"GOMEMLIMIT="})
	require.False(t, ok, "even empty: the runtime read it")
}
