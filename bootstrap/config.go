// Package bootstrap wires the service: configuration, logging, fx modules,
// the HTTP server and the background loops' lifecycles.
package bootstrap

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"contenthub/adapters/creatorexec"
	"contenthub/domain"
)

// Config is the whole configuration, read from the environment (§8).
type Config struct {
	HTTPAddr    string   `env:"HTTP_ADDR" envDefault:"127.0.0.1:8080"`
	DatabaseURL string   `env:"DATABASE_URL"`
	AutoMigrate bool     `env:"AUTO_MIGRATE" envDefault:"true"`
	APITokens   []string `env:"API_TOKENS" envSeparator:","`

	WebhookEnabled          bool          `env:"WEBHOOK_ENABLED" envDefault:"true"`
	WebhookCallbackBaseURL  string        `env:"WEBHOOK_CALLBACK_BASE_URL"`
	WebhookSecretKeys       []string      `env:"WEBHOOK_SECRET_KEY" envSeparator:","`
	WebhookRequireSignature bool          `env:"WEBHOOK_REQUIRE_SIGNATURE" envDefault:"false"`
	WebhookCallbackTokens   bool          `env:"WEBHOOK_CALLBACK_TOKENS" envDefault:"true"`
	WebhookTolerance        time.Duration `env:"WEBHOOK_TOLERANCE" envDefault:"5m"`
	WebhookTimeout          time.Duration `env:"WEBHOOK_TIMEOUT" envDefault:"10s"`
	WebhookMaxBodyBytes     int64         `env:"WEBHOOK_MAX_BODY_BYTES" envDefault:"5242880"`

	// CreatorProfile says how content-creator is driven: contract (the CLI
	// contract of SERVICE.md §6, the simulator), cli (the published CLI's
	// synchronous run, supervised) or api (its HTTP server).
	CreatorProfile    string `env:"CREATOR_PROFILE" envDefault:"contract"`
	CreatorCLIPath    string `env:"CREATOR_CLI_PATH"`
	CreatorWorkdir    string `env:"CREATOR_WORKDIR"`
	CreatorAPIBaseURL string `env:"CREATOR_API_BASE_URL"`
	// CreatorRefPrefix goes before every attempt's creator-side id
	// ("test-" runs the published program's offline test mode).
	CreatorRefPrefix      string `env:"CREATOR_REF_PREFIX"`
	CreatorMaxConcurrency int    `env:"CREATOR_MAX_CONCURRENCY" envDefault:"8"`
	// Limits of accounts that set none of their own (§11): running attempts
	// (0 = only the fair share) and attempts opened per sliding hour (0 = none).
	AccountMaxConcurrency  int           `env:"ACCOUNT_MAX_CONCURRENCY" envDefault:"0"`
	AccountMaxTasksPerHour int           `env:"ACCOUNT_MAX_TASKS_PER_HOUR" envDefault:"0"`
	CreatorSubmitTimeout   time.Duration `env:"CREATOR_SUBMIT_TIMEOUT" envDefault:"30s"`
	CreatorStatusTimeout   time.Duration `env:"CREATOR_STATUS_TIMEOUT" envDefault:"30s"`
	CreatorResultTimeout   time.Duration `env:"CREATOR_RESULT_TIMEOUT" envDefault:"60s"`
	// CreatorBreakerFailures plain submit failures in a row (content-creator
	// not reached) open the circuit breaker; it is probed every
	// CreatorProbeInterval until it answers (§14).
	CreatorBreakerFailures int           `env:"CREATOR_BREAKER_FAILURES" envDefault:"3"`
	CreatorProbeInterval   time.Duration `env:"CREATOR_PROBE_INTERVAL" envDefault:"5s"`
	// CreatorEnvPass names the variables of the service's environment that
	// content-creator gets besides the allowlist (creatorexec.BaseEnv).
	CreatorEnvPass []string `env:"CREATOR_ENV_PASS" envSeparator:","`

	PollInterval  time.Duration `env:"POLL_INTERVAL" envDefault:"30s"`
	CallbackGrace time.Duration `env:"CALLBACK_GRACE" envDefault:"30s"`
	TaskTimeout   time.Duration `env:"TASK_TIMEOUT" envDefault:"30m"`
	// CreatorStallTimeout: a run content-creator reports as running whose
	// progress and update time have not moved for this long, with no live
	// child or request of this process for it, is lost (§14).
	CreatorStallTimeout time.Duration `env:"CREATOR_STALL_TIMEOUT" envDefault:"10m"`
	// RetryBackoffBase is the wait before the second attempt, doubled per
	// further attempt with jitter (half fixed, half random), capped at
	// RetryBackoffMax (§14).
	RetryBackoffBase time.Duration `env:"RETRY_BACKOFF_BASE" envDefault:"10s"`
	RetryBackoffMax  time.Duration `env:"RETRY_BACKOFF_MAX" envDefault:"5m"`

	LogLevel  string `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat string `env:"LOG_FORMAT" envDefault:"json"`

	// Limits, timeouts, drain and retention.
	//
	// WebhookRequireTimestamp refuses signatures that sign no timestamp.
	WebhookRequireTimestamp bool `env:"WEBHOOK_REQUIRE_TIMESTAMP" envDefault:"false"`
	// WebhookMaxConcurrent caps callback requests in flight (then 503).
	WebhookMaxConcurrent int `env:"WEBHOOK_MAX_CONCURRENT" envDefault:"64"`
	// HTTPReadTimeout bounds the arrival of headers, then of the body.
	HTTPReadTimeout time.Duration `env:"HTTP_READ_TIMEOUT" envDefault:"10s"`
	// HTTPWriteTimeout bounds an answer (each frame of an event stream).
	HTTPWriteTimeout time.Duration `env:"HTTP_WRITE_TIMEOUT" envDefault:"30s"`
	// HTTPIdleTimeout closes keep-alive connections idle that long.
	HTTPIdleTimeout time.Duration `env:"HTTP_IDLE_TIMEOUT" envDefault:"60s"`
	// ShutdownTimeout bounds each drain phase at SIGTERM: requests in
	// flight, then the background loops.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`
	// Retention deletes terminal tasks last changed longer ago; 0 (unset)
	// keeps everything.
	Retention time.Duration `env:"RETENTION"`

	// Outbound notifications (§13).
	//
	// NotifySecretsKey seals endpoint secrets at rest (AES-256-GCM): base64
	// of 32 bytes. Unset: stored as they are, with a warning at start.
	NotifySecretsKey string `env:"NOTIFY_SECRETS_KEY"`
	// NotifyAllowPrivate lets endpoints be loopback, private or link-local
	// addresses (local runs and tests).
	NotifyAllowPrivate bool          `env:"NOTIFY_ALLOW_PRIVATE" envDefault:"false"`
	NotifyTimeout      time.Duration `env:"NOTIFY_TIMEOUT" envDefault:"15s"`
	// NotifyRetrySchedule are the waits after each failed attempt; past the
	// last, a message fails.
	NotifyRetrySchedule   string        `env:"NOTIFY_RETRY_SCHEDULE" envDefault:"5s,5m,30m,2h,5h,10h,10h"`
	NotifyRotationOverlap time.Duration `env:"NOTIFY_ROTATION_OVERLAP" envDefault:"24h"`
	// NotifyConcurrency caps attempts in flight per worker replica,
	// NotifyEndpointConcurrency those to one endpoint.
	NotifyConcurrency         int           `env:"NOTIFY_CONCURRENCY" envDefault:"64"`
	NotifyEndpointConcurrency int           `env:"NOTIFY_ENDPOINT_CONCURRENCY" envDefault:"4"`
	NotifyPollInterval        time.Duration `env:"NOTIFY_POLL_INTERVAL" envDefault:"1s"`

	// TracingDiscard records spans and drops them in process (benchmarks:
	// the tracing SDK's cost without a collector). The exporter itself is
	// configured by the standard OTEL_* variables, read by the SDK.
	TracingDiscard bool `env:"TRACING_DISCARD" envDefault:"false"`
}

// MinRetention is the smallest RETENTION accepted: a bare number means
// seconds, and RETENTION=30 must not delete every finished task.
const MinRetention = time.Hour

// ConfigError names the variable that is wrong.
type ConfigError struct {
	Variable string
	Problem  string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("invalid configuration: %s: %s", e.Variable, e.Problem)
}

// LoadConfig reads the configuration from environ (os.Environ() form) and
// validates it. A bad value is a *ConfigError naming the variable.
func LoadConfig(environ []string) (Config, error) {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	var cfg Config
	err := env.ParseWithOptions(&cfg, env.Options{
		Environment: vars,
		FuncMap:     map[reflect.Type]env.ParserFunc{reflect.TypeOf(time.Duration(0)): parseDuration},
	})
	if err != nil {
		return Config{}, configParseError(err)
	}
	cfg.APITokens = nonEmpty(cfg.APITokens)
	cfg.WebhookSecretKeys = nonEmpty(cfg.WebhookSecretKeys)
	if _, set := vars["CREATOR_ENV_PASS"]; set {
		// Set but empty means "nothing": keep it non-nil so the runner's
		// default (the simulator's knobs) does not apply.
		cfg.CreatorEnvPass = append([]string{}, nonEmpty(cfg.CreatorEnvPass)...)
	}
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// parseDuration takes Go durations ("30s"), whole days ("30d") and bare
// integers as seconds.
func parseDuration(v string) (any, error) {
	d, err := ParseDuration(v)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// ParseDuration reads a duration as the configuration does: a Go duration
// ("90m", "1h30m"), whole days ("30d") or a bare integer of seconds.
func ParseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.ParseInt(days, 10, 64); err == nil && n >= 0 && n <= 100*365 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("want a duration like 30s, 2h or 30d, or a number of seconds, got %q", v)
	}
	return d, nil
}

// configParseError turns env's field-named errors into variable-named ones.
func configParseError(err error) error {
	var agg env.AggregateError
	if errors.As(err, &agg) && len(agg.Errors) > 0 {
		err = agg.Errors[0]
	}
	var pe env.ParseError
	if errors.As(err, &pe) {
		variable := pe.Name
		if f, ok := reflect.TypeOf(Config{}).FieldByName(pe.Name); ok {
			variable = f.Tag.Get("env")
		}
		problem := pe.Err.Error()
		if strings.Contains(problem, "strconv.") {
			problem = fmt.Sprintf("want a value of type %s", pe.Type)
		}
		return &ConfigError{Variable: variable, Problem: problem}
	}
	return fmt.Errorf("invalid configuration: %w", err)
}

var refPrefixPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{0,40}$`)

// Creator profiles (CREATOR_PROFILE).
const (
	ProfileContract = "contract"
	ProfileCLI      = "cli"
	ProfileAPI      = "api"
)

func (c *Config) validateCreator() error {
	switch c.CreatorProfile {
	case ProfileContract:
	case ProfileCLI:
		if strings.TrimSpace(c.CreatorCLIPath) == "" {
			return &ConfigError{"CREATOR_CLI_PATH", "CREATOR_PROFILE=cli runs the published content-creator: set its command line, " +
				"e.g. CREATOR_CLI_PATH='node --import tsx src/presentation/cli/index.ts' with CREATOR_WORKDIR=its directory"}
		}
	case ProfileAPI:
		u, err := url.Parse(c.CreatorAPIBaseURL)
		if c.CreatorAPIBaseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &ConfigError{"CREATOR_API_BASE_URL", "CREATOR_PROFILE=api needs the address of content-creator's API server, e.g. http://127.0.0.1:3000"}
		}
	default:
		return &ConfigError{"CREATOR_PROFILE", "want contract, cli or api"}
	}
	if !refPrefixPattern.MatchString(c.CreatorRefPrefix) {
		return &ConfigError{"CREATOR_REF_PREFIX", "want at most 40 letters, digits, - or _"}
	}
	if c.CreatorWorkdir != "" {
		if info, err := os.Stat(c.CreatorWorkdir); err != nil || !info.IsDir() {
			return &ConfigError{"CREATOR_WORKDIR", "not a directory: " + c.CreatorWorkdir}
		}
	}
	return nil
}

// ServiceVariables are the names of every variable the service reads: none
// of them is ever handed to a content-creator child.
func ServiceVariables() []string {
	var names []string
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("env"); name != "" {
			names = append(names, name)
		}
	}
	return names
}

func isServiceVariable(name string) bool {
	for _, v := range ServiceVariables() {
		if v == name {
			return true
		}
	}
	return false
}

func nonEmpty(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// AccountDefaults are the limits of accounts without their own (validated
// at load).
func (c Config) AccountDefaults() domain.AccountLimits {
	return domain.RehydrateAccountLimits(c.AccountMaxConcurrency, c.AccountMaxTasksPerHour, domain.DefaultAccountWeight)
}

func (c *Config) validate() error {
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return &ConfigError{"HTTP_ADDR", "want host:port, e.g. 127.0.0.1:8080"}
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") &&
		!strings.HasPrefix(c.DatabaseURL, "postgresql://") && !strings.HasPrefix(c.DatabaseURL, "sqlite://") {
		return &ConfigError{"DATABASE_URL", "want postgres://…, postgresql://… or sqlite://path"}
	}
	if c.WebhookCallbackBaseURL == "" {
		c.WebhookCallbackBaseURL = "http://" + c.HTTPAddr
	}
	c.WebhookCallbackBaseURL = strings.TrimRight(c.WebhookCallbackBaseURL, "/")
	if u, err := url.Parse(c.WebhookCallbackBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &ConfigError{"WEBHOOK_CALLBACK_BASE_URL", "want an absolute http(s) URL content-creator can reach"}
	}
	if c.WebhookRequireSignature && len(c.WebhookSecretKeys) == 0 {
		return &ConfigError{"WEBHOOK_REQUIRE_SIGNATURE", "signatures are required but WEBHOOK_SECRET_KEY is empty"}
	}
	positive := []struct {
		name string
		d    time.Duration
	}{
		{"WEBHOOK_TOLERANCE", c.WebhookTolerance}, {"WEBHOOK_TIMEOUT", c.WebhookTimeout},
		{"CREATOR_SUBMIT_TIMEOUT", c.CreatorSubmitTimeout}, {"CREATOR_STATUS_TIMEOUT", c.CreatorStatusTimeout},
		{"CREATOR_RESULT_TIMEOUT", c.CreatorResultTimeout}, {"CREATOR_PROBE_INTERVAL", c.CreatorProbeInterval},
		{"POLL_INTERVAL", c.PollInterval},
		{"CALLBACK_GRACE", c.CallbackGrace}, {"TASK_TIMEOUT", c.TaskTimeout},
		{"CREATOR_STALL_TIMEOUT", c.CreatorStallTimeout},
		{"RETRY_BACKOFF_BASE", c.RetryBackoffBase}, {"RETRY_BACKOFF_MAX", c.RetryBackoffMax},
		{"HTTP_READ_TIMEOUT", c.HTTPReadTimeout}, {"HTTP_WRITE_TIMEOUT", c.HTTPWriteTimeout},
		{"HTTP_IDLE_TIMEOUT", c.HTTPIdleTimeout}, {"SHUTDOWN_TIMEOUT", c.ShutdownTimeout},
	}
	for _, p := range positive {
		if p.d <= 0 {
			return &ConfigError{p.name, "must be a positive duration"}
		}
	}
	if c.RetryBackoffMax < c.RetryBackoffBase {
		return &ConfigError{"RETRY_BACKOFF_MAX", fmt.Sprintf("must not be shorter than RETRY_BACKOFF_BASE (%s)", c.RetryBackoffBase)}
	}
	if c.WebhookMaxBodyBytes <= 0 {
		return &ConfigError{"WEBHOOK_MAX_BODY_BYTES", "must be a positive number of bytes"}
	}
	if err := c.validateCreator(); err != nil {
		return err
	}
	for _, p := range c.CreatorEnvPass {
		if err := creatorexec.CheckPattern(p); err != nil {
			return &ConfigError{"CREATOR_ENV_PASS", err.Error()}
		}
		if name := strings.TrimSuffix(p, "*"); !strings.HasSuffix(p, "*") && isServiceVariable(name) {
			return &ConfigError{"CREATOR_ENV_PASS", fmt.Sprintf("%s is the service's own configuration and is never handed to content-creator", name)}
		}
	}
	if c.CreatorMaxConcurrency <= 0 {
		return &ConfigError{"CREATOR_MAX_CONCURRENCY", "must be at least 1"}
	}
	if c.CreatorBreakerFailures <= 0 {
		return &ConfigError{"CREATOR_BREAKER_FAILURES", "must be at least 1"}
	}
	if err := c.validateNotify(); err != nil {
		return err
	}
	if _, err := domain.NewAccountLimits(c.AccountMaxConcurrency, 0, domain.DefaultAccountWeight); err != nil {
		return &ConfigError{"ACCOUNT_MAX_CONCURRENCY", fmt.Sprintf("must be between 0 and %d", domain.MaxAccountConcurrency)}
	}
	if _, err := domain.NewAccountLimits(0, c.AccountMaxTasksPerHour, domain.DefaultAccountWeight); err != nil {
		return &ConfigError{"ACCOUNT_MAX_TASKS_PER_HOUR", fmt.Sprintf("must be between 0 and %d", domain.MaxAccountTasksPerHour)}
	}
	if err := c.validateHardening(); err != nil {
		return err
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return &ConfigError{"LOG_LEVEL", "want debug, info, warn or error"}
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		return &ConfigError{"LOG_FORMAT", "want json or console"}
	}
	return nil
}

// NotifySchedule is NOTIFY_RETRY_SCHEDULE parsed.
func (c *Config) NotifySchedule() ([]time.Duration, error) {
	return domain.ParseNotifyRetrySchedule(c.NotifyRetrySchedule, ParseDuration)
}

func (c *Config) validateNotify() error {
	if _, err := c.NotifySchedule(); err != nil {
		return &ConfigError{Variable: "NOTIFY_RETRY_SCHEDULE", Problem: err.Error() + ` (want e.g. "5s,5m,30m,2h")`}
	}
	if c.NotifyTimeout <= 0 {
		return &ConfigError{Variable: "NOTIFY_TIMEOUT", Problem: "must be positive"}
	}
	if c.NotifyRotationOverlap < 0 {
		return &ConfigError{Variable: "NOTIFY_ROTATION_OVERLAP", Problem: "must not be negative"}
	}
	if c.NotifyConcurrency < 1 {
		return &ConfigError{Variable: "NOTIFY_CONCURRENCY", Problem: "must be at least 1"}
	}
	if c.NotifyEndpointConcurrency < 1 {
		return &ConfigError{Variable: "NOTIFY_ENDPOINT_CONCURRENCY", Problem: "must be at least 1"}
	}
	if c.NotifyPollInterval <= 0 {
		return &ConfigError{Variable: "NOTIFY_POLL_INTERVAL", Problem: "must be positive"}
	}
	return nil
}

func (c *Config) validateHardening() error {
	if c.WebhookMaxConcurrent <= 0 {
		return &ConfigError{"WEBHOOK_MAX_CONCURRENT", "must be at least 1"}
	}
	// The write deadline starts with the request: it must leave room for the
	// body to arrive and the callback to be handled.
	if c.HTTPWriteTimeout <= c.HTTPReadTimeout+c.WebhookTimeout {
		return &ConfigError{"HTTP_WRITE_TIMEOUT", fmt.Sprintf(
			"must be longer than HTTP_READ_TIMEOUT + WEBHOOK_TIMEOUT (%s), or answers to slow callbacks could not be written",
			c.HTTPReadTimeout+c.WebhookTimeout)}
	}
	if c.Retention < 0 || (c.Retention > 0 && c.Retention < MinRetention) {
		return &ConfigError{"RETENTION", "must be at least 1h (e.g. 30d); unset keeps every task"}
	}
	return nil
}
