package bootstrap

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := LoadConfig(nil)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8080", cfg.HTTPAddr)
	require.Empty(t, cfg.DatabaseURL)
	require.True(t, cfg.AutoMigrate)
	require.True(t, cfg.WebhookEnabled)
	require.True(t, cfg.WebhookCallbackTokens)
	require.False(t, cfg.WebhookRequireSignature)
	require.Equal(t, "http://127.0.0.1:8080", cfg.WebhookCallbackBaseURL)
	require.Equal(t, 5*time.Minute, cfg.WebhookTolerance)
	require.Equal(t, 10*time.Second, cfg.WebhookTimeout)
	require.EqualValues(t, 5<<20, cfg.WebhookMaxBodyBytes)
	require.Equal(t, 8, cfg.CreatorMaxConcurrency)
	require.Equal(t, 30*time.Second, cfg.CreatorSubmitTimeout)
	require.Equal(t, 30*time.Second, cfg.PollInterval)
	require.Equal(t, 30*time.Second, cfg.CallbackGrace)
	require.Equal(t, 30*time.Minute, cfg.TaskTimeout)
	require.Equal(t, "info", cfg.LogLevel)
	require.Equal(t, 10*time.Second, cfg.RetryBackoffBase)
	require.Equal(t, 5*time.Minute, cfg.RetryBackoffMax)
	require.Equal(t, 3, cfg.CreatorBreakerFailures)
	require.Equal(t, 5*time.Second, cfg.CreatorProbeInterval)
	require.Equal(t, "json", cfg.LogFormat)
}

func TestLoadConfigValues(t *testing.T) {
	cfg, err := LoadConfig([]string{
		"HTTP_ADDR=0.0.0.0:9000",
		"WEBHOOK_CALLBACK_BASE_URL=https://hub.example.com/",
		"WEBHOOK_SECRET_KEY=new-secret, old-secret ,",
		"API_TOKENS=a,b",
		"POLL_INTERVAL=15",   // bare integer: seconds
		"TASK_TIMEOUT=1h30m", // Go syntax
		"WEBHOOK_REQUIRE_SIGNATURE=true",
	})
	require.NoError(t, err)
	require.Equal(t, "https://hub.example.com", cfg.WebhookCallbackBaseURL, "trailing slash tolerated")
	require.Equal(t, []string{"new-secret", "old-secret"}, cfg.WebhookSecretKeys)
	require.Equal(t, []string{"a", "b"}, cfg.APITokens)
	require.Equal(t, 15*time.Second, cfg.PollInterval)
	require.Equal(t, 90*time.Minute, cfg.TaskTimeout)
}

func TestLoadConfigErrorsNameTheVariable(t *testing.T) {
	cases := map[string][]string{
		"POLL_INTERVAL":             {"POLL_INTERVAL=soon"},
		"CALLBACK_GRACE":            {"CALLBACK_GRACE=-5s"},
		"CREATOR_STALL_TIMEOUT":     {"CREATOR_STALL_TIMEOUT=0s"},
		"WEBHOOK_ENABLED":           {"WEBHOOK_ENABLED=maybe"},
		"CREATOR_MAX_CONCURRENCY":   {"CREATOR_MAX_CONCURRENCY=lots"},
		"CREATOR_BREAKER_FAILURES":  {"CREATOR_BREAKER_FAILURES=0"},
		"CREATOR_PROBE_INTERVAL":    {"CREATOR_PROBE_INTERVAL=0s"},
		"WEBHOOK_MAX_BODY_BYTES":    {"WEBHOOK_MAX_BODY_BYTES=0"},
		"HTTP_ADDR":                 {"HTTP_ADDR=localhost"},
		"DATABASE_URL":              {"DATABASE_URL=mysql://x"},
		"WEBHOOK_CALLBACK_BASE_URL": {"WEBHOOK_CALLBACK_BASE_URL=ftp://x"},
		"WEBHOOK_REQUIRE_SIGNATURE": {"WEBHOOK_REQUIRE_SIGNATURE=true"},
		"LOG_LEVEL":                 {"LOG_LEVEL=loud"},
		"LOG_FORMAT":                {"LOG_FORMAT=xml"},
		"RETRY_BACKOFF_BASE":        {"RETRY_BACKOFF_BASE=0s"},
		"RETRY_BACKOFF_MAX":         {"RETRY_BACKOFF_BASE=1m", "RETRY_BACKOFF_MAX=30s"},
		"CREATOR_ENV_PASS":          {"CREATOR_ENV_PASS=LLM_API_KEY,DATABASE_URL"},
		"CREATOR_PROFILE":           {"CREATOR_PROFILE=sync"},
		"CREATOR_CLI_PATH":          {"CREATOR_PROFILE=cli"},
		"CREATOR_API_BASE_URL":      {"CREATOR_PROFILE=api", "CREATOR_API_BASE_URL=localhost:3000"},
		"CREATOR_WORKDIR":           {"CREATOR_WORKDIR=/nonexistent/creator"},
		"CREATOR_STATUS_TIMEOUT":    {"CREATOR_STATUS_TIMEOUT=0"},
		"CREATOR_REF_PREFIX":        {"CREATOR_REF_PREFIX=test/"},
	}
	for variable, environ := range cases {
		t.Run(variable, func(t *testing.T) {
			_, err := LoadConfig(environ)
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "want *ConfigError, got %v", err)
			require.Equal(t, variable, ce.Variable)
			require.Contains(t, err.Error(), variable)
		})
	}
}

func TestLoadConfigHardening(t *testing.T) {
	cfg, err := LoadConfig(nil)
	require.NoError(t, err)
	require.False(t, cfg.WebhookRequireTimestamp)
	require.Equal(t, 64, cfg.WebhookMaxConcurrent)
	require.Equal(t, 10*time.Second, cfg.HTTPReadTimeout)
	require.Equal(t, 30*time.Second, cfg.HTTPWriteTimeout)
	require.Equal(t, time.Minute, cfg.HTTPIdleTimeout)
	require.Equal(t, 15*time.Second, cfg.ShutdownTimeout)
	require.Zero(t, cfg.Retention, "RETENTION unset keeps everything")

	cfg, err = LoadConfig([]string{"RETENTION=30d", "WEBHOOK_REQUIRE_TIMESTAMP=true", "SHUTDOWN_TIMEOUT=5"})
	require.NoError(t, err)
	require.Equal(t, 30*24*time.Hour, cfg.Retention)
	require.True(t, cfg.WebhookRequireTimestamp)
	require.Equal(t, 5*time.Second, cfg.ShutdownTimeout)

	cases := map[string][]string{
		"RETENTION":              {"RETENTION=30"}, // 30 seconds: a slip, not a policy
		"HTTP_WRITE_TIMEOUT":     {"HTTP_WRITE_TIMEOUT=15s"},
		"HTTP_READ_TIMEOUT":      {"HTTP_READ_TIMEOUT=0"},
		"WEBHOOK_MAX_CONCURRENT": {"WEBHOOK_MAX_CONCURRENT=0"},
		"SHUTDOWN_TIMEOUT":       {"SHUTDOWN_TIMEOUT=later"},
	}
	for variable, environ := range cases {
		_, err := LoadConfig(environ)
		var ce *ConfigError
		require.True(t, errors.As(err, &ce), "%s: want *ConfigError, got %v", variable, err)
		require.Equal(t, variable, ce.Variable)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30": 30 * time.Second, "90m": 90 * time.Minute, "30d": 30 * 24 * time.Hour, " 1d ": 24 * time.Hour, "0d": 0,
	} {
		got, err := ParseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "d", "1.5d", "-1d", "30 days", "1w"} {
		_, err := ParseDuration(in)
		require.Error(t, err, in)
	}
}
