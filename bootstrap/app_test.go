package bootstrap

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"contenthub/ports"
)

// fakeCLI writes an executable that stands in for content-creator: the
// graph only needs it to exist.
func fakeCLI(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fake-creator")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755))
	return p
}

func testConfig(t *testing.T, extra ...string) Config {
	t.Helper()
	environ := append([]string{
		"DATABASE_URL=sqlite://" + filepath.Join(t.TempDir(), "hub.db"),
		"CREATOR_CLI_PATH=" + fakeCLI(t),
		"HTTP_ADDR=127.0.0.1:0",
		"LOG_LEVEL=error",
	}, extra...)
	cfg, err := LoadConfig(environ)
	require.NoError(t, err)
	return cfg
}

func TestAppGraphIsValidForEveryRole(t *testing.T) {
	for _, role := range []Role{RoleAll, RoleAPI, RoleWorker} {
		t.Run(string(role), func(t *testing.T) {
			require.NoError(t, fx.ValidateApp(App(testConfig(t), role)))
		})
	}
}

func TestAppGraphIsValidForEveryProfile(t *testing.T) {
	for profile, extra := range map[string][]string{
		ProfileContract: nil,
		ProfileCLI:      {"CREATOR_PROFILE=cli"},
		ProfileAPI:      {"CREATOR_PROFILE=api", "CREATOR_API_BASE_URL=http://127.0.0.1:3000"},
	} {
		t.Run(profile, func(t *testing.T) {
			cfg := testConfig(t, append(extra, "CREATOR_WORKDIR="+t.TempDir())...)
			require.NoError(t, fx.ValidateApp(App(cfg, RoleAll)))
			var creator ports.ContentCreator
			app := fxtest.New(t, App(cfg, RoleWorker), fx.Populate(&creator))
			app.RequireStart()
			app.RequireStop()
			require.NotNil(t, creator)
		})
	}
}

func TestAppStartsServesAndStops(t *testing.T) {
	cfg := testConfig(t)
	var server *HTTPServer
	app := fxtest.New(t, App(cfg, RoleAll), fx.Populate(&server))
	app.RequireStart()
	defer app.RequireStop()
	addr := server.Addr()
	require.NotEmpty(t, addr)
	for _, path := range []string{"/healthz", "/readyz", "/api/v1/content/health", "/metrics"} {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
	}
}

func TestVerifierRefusesSignatureRequiredWithoutSecret(t *testing.T) {
	cfg := testConfig(t)
	cfg.WebhookRequireSignature = true // bypass LoadConfig's own check: the verifier must refuse too
	err := fx.New(App(cfg, RoleAll), fx.NopLogger).Err()
	require.Error(t, err)
	require.Contains(t, err.Error(), "WEBHOOK_")
}
