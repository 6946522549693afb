package bootstrap

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Sampling of the application log: per message and level, the first
// sampleFirst lines of each sampleTick are written, then one in
// sampleThereafter. A storm of one repeated warning cannot flood the log;
// what it drops is counted in contenthub_log_lines_dropped_total.
const (
	sampleTick       = time.Second
	sampleFirst      = 100
	sampleThereafter = 100
)

// AccessLogger writes the one line per HTTP request. It is never sampled:
// a request id returned to a client must always have its log line.
type AccessLogger struct{ *zap.Logger }

// LifecycleLogger writes the task-lifecycle lines (one per change of a
// task's status or attempt). Never sampled: a task's life must read whole.
type LifecycleLogger struct{ *zap.Logger }

// LogSampling counts the application log lines that sampling dropped.
type LogSampling struct {
	dropped *prometheus.CounterVec
}

// Collector exports the counter (contenthub_log_lines_dropped_total{level}).
func (s *LogSampling) Collector() prometheus.Collector { return s.dropped }

// Loggers are the service's loggers, built from one configuration.
type Loggers struct {
	fx.Out
	// Log is the application logger; repeated lines are sampled.
	Log *zap.Logger
	// Access is the request logger, unsampled.
	Access AccessLogger
	// Lifecycle is the task-lifecycle logger, unsampled.
	Lifecycle LifecycleLogger
	// Sampling counts what Log dropped.
	Sampling *LogSampling
}

// NewLogger builds the loggers: JSON lines in production, human-readable
// console lines for local runs (LOG_FORMAT=console), both on standard
// output; standard error is left to start-up failures. Stack traces are
// attached to error lines only: warnings and client errors are not program
// faults.
func NewLogger(cfg Config) (Loggers, error) {
	level, err := zapcore.ParseLevel(strings.ToLower(cfg.LogLevel))
	if err != nil {
		return Loggers{}, &ConfigError{"LOG_LEVEL", err.Error()}
	}
	zc := zap.NewProductionConfig()
	if cfg.LogFormat == "console" {
		zc = zap.NewDevelopmentConfig()
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.Sampling = nil // sampled below, for the application logger only
	zc.DisableStacktrace = true
	zc.OutputPaths = []string{"stdout"}
	zc.EncoderConfig.TimeKey = "time"
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	base, err := zc.Build()
	if err != nil {
		return Loggers{}, fmt.Errorf("build logger: %w", err)
	}
	sampling := &LogSampling{dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "contenthub_log_lines_dropped_total",
		Help: "Application log lines dropped by sampling of repeated messages (request lines are never sampled).",
	}, []string{"level"})}
	for _, l := range []zapcore.Level{zapcore.DebugLevel, zapcore.InfoLevel, zapcore.WarnLevel, zapcore.ErrorLevel} {
		sampling.dropped.WithLabelValues(l.String())
	}
	hook := zapcore.SamplerHook(func(e zapcore.Entry, d zapcore.SamplingDecision) {
		if d&zapcore.LogDropped != 0 {
			sampling.dropped.WithLabelValues(e.Level.String()).Inc()
		}
	})
	app := base.WithOptions(
		zap.AddStacktrace(zapcore.ErrorLevel),
		zap.WrapCore(func(c zapcore.Core) zapcore.Core {
			return zapcore.NewSamplerWithOptions(c, sampleTick, sampleFirst, sampleThereafter, hook)
		}),
	)
	// The access line's stack would always be the middleware's: never useful.
	access := base.WithOptions(zap.AddStacktrace(zap.LevelEnablerFunc(func(zapcore.Level) bool { return false })))
	lifecycle := base.WithOptions(zap.AddStacktrace(zapcore.ErrorLevel))
	return Loggers{Log: app, Access: AccessLogger{access}, Lifecycle: LifecycleLogger{lifecycle}, Sampling: sampling}, nil
}

// registerLogMetrics exports the sampling counter with the other metrics.
func registerLogMetrics(reg *prometheus.Registry, s *LogSampling) error {
	return reg.Register(s.Collector())
}
