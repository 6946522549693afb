package bootstrap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"contenthub/adapters/metrics"
	"contenthub/domain"
	"contenthub/ports"
)

// TestChildGetsNoServiceConfiguration runs the runner as the service builds
// it, with every secret of the service set, and reads what a fake CLI saw:
// only the allowlist, the variables passed on purpose and the current
// signing secret.
func TestChildGetsNoServiceConfiguration(t *testing.T) {
	dir := t.TempDir()
	cli := filepath.Join(dir, "cc")
	require.NoError(t, os.WriteFile(cli, []byte("#!/bin/sh\ncat /proc/$$/environ > \""+dir+"/env\"\n"), 0o755))
	secrets := map[string]string{
		"DATABASE_URL":       "postgres://admin:db-password@127.0.0.1/contenthub",
		"API_TOKENS":         "api-token-1",
		"WEBHOOK_SECRET_KEY": "current-secret,rotated-out-secret",
	}
	environ := []string{"CREATOR_CLI_PATH=" + cli, "CREATOR_ENV_PASS=LLM_API_KEY"}
	for k, v := range secrets {
		t.Setenv(k, v) // the process environment the runner filters
		environ = append(environ, k+"="+v)
	}
	t.Setenv("LLM_API_KEY", "llm-key")
	t.Setenv("SIM_DELAY", "1s") // not passed: CREATOR_ENV_PASS replaces the default
	cfg, err := LoadConfig(environ)
	require.NoError(t, err)

	r, err := NewRunner(cfg, metrics.Discard{}, zap.NewNop())
	require.NoError(t, err)
	_, err = r.Submit(t.Context(), ports.SubmitRequest{ExternalRef: "task-x-1", Brief: domain.Brief{Topic: "t"}})
	require.NoError(t, err)

	raw, err := os.ReadFile(filepath.Join(dir, "env"))
	require.NoError(t, err)
	env := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
	require.Contains(t, env, "LLM_API_KEY=llm-key")
	require.Contains(t, env, "CONTENT_CREATOR_WEBHOOK_SECRET=current-secret")
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		require.NotContains(t, ServiceVariables(), name, "the child got the service's %s", name)
		require.NotEqual(t, "SIM_DELAY", name)
		for _, v := range []string{"db-password", "api-token-1", "rotated-out-secret"} {
			require.NotContains(t, kv, v)
		}
	}
}
