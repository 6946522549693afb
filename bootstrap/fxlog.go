package bootstrap

import (
	"strings"

	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
)

// fxLogger routes fx's own events (every provide, invoke and hook) to zap at
// LOG_LEVEL=debug and drops them otherwise: they are for debugging the
// wiring, and a start-up failure is reported once, by the caller, as one
// line.
func fxLogger(cfg Config, log *zap.Logger) fxevent.Logger {
	if !strings.EqualFold(cfg.LogLevel, "debug") {
		return fxevent.NopLogger
	}
	l := &fxevent.ZapLogger{Logger: log.Named("fx")}
	l.UseLogLevel(zap.DebugLevel)
	return l
}
