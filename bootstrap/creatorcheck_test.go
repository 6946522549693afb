package bootstrap

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
)

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "creator with space")
	require.NoError(t, os.WriteFile(exe, []byte("#!/bin/sh\nexit 0\n"), 0o755))
	plain := filepath.Join(dir, "not-executable")
	require.NoError(t, os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "on-path-cli"), []byte("#!/bin/sh\n"), 0o755))

	for _, ok := range []string{
		"'" + exe + "'",                 // quoted path with a space
		"'" + exe + "' --profile x --v", // with arguments
		"on-path-cli create",            // a name on PATH
	} {
		require.NoError(t, CheckCommand(ok), ok)
	}
	for command, want := range map[string]string{
		"/nonexistent/cc":      "/nonexistent/cc does not exist",
		"./nonexistent-cc":     "./nonexistent-cc does not exist",
		"no-such-program-xyz":  `"no-such-program-xyz" is not on PATH`,
		dir:                    "is not a regular file",
		plain:                  "is not executable",
		"   ":                  "is empty",
		`'unterminated "quote`: "cannot split",
	} {
		err := CheckCommand(command)
		require.Error(t, err, command)
		var ce *ConfigError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, "CREATOR_CLI_PATH", ce.Variable)
		require.Contains(t, err.Error(), want, command)
		require.NotContains(t, err.Error(), "\n")
	}
}

func TestAppRefusesAMissingCreatorCommand(t *testing.T) {
	cfg := testConfig(t)
	cfg.CreatorCLIPath = "/nonexistent/cc"
	err := fx.New(App(cfg, RoleAll), fx.NopLogger).Err()
	require.Error(t, err)
	require.Equal(t, "invalid configuration: CREATOR_CLI_PATH: /nonexistent/cc does not exist; "+
		"set CREATOR_CLI_PATH to the content-creator program (an executable file, or a name on PATH)", Explain(err))
}

// TestReadyzReportsACreatorCommandThatStoppedBeingRunnable removes the
// program under a running service: /readyz turns 503 naming the check, and
// back to 200 when the program is back.
func TestReadyzReportsACreatorCommandThatStoppedBeingRunnable(t *testing.T) {
	cfg := testConfig(t)
	var server *HTTPServer
	app := fxtest.New(t, App(cfg, RoleAll), fx.Populate(&server))
	app.RequireStart()
	defer app.RequireStop()
	readyz := func() (int, string) {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + server.Addr() + "/readyz")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	code, _ := readyz()
	require.Equal(t, http.StatusOK, code)

	require.NoError(t, os.Chmod(cfg.CreatorCLIPath, 0o644))
	code, body := readyz()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "CREATOR_CLI_PATH")

	require.NoError(t, os.Chmod(cfg.CreatorCLIPath, 0o755))
	code, _ = readyz()
	require.Equal(t, http.StatusOK, code)

	require.NoError(t, os.Remove(cfg.CreatorCLIPath))
	code, body = readyz()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.True(t, strings.Contains(body, "content-creator command"), body)
}
