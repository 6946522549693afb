package bootstrap

import (
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
)

// fxLogger routes fx's own events to zap, quietly: only errors are worth
// reading in production logs.
func fxLogger(log *zap.Logger) fxevent.Logger {
	l := &fxevent.ZapLogger{Logger: log.Named("fx")}
	l.UseLogLevel(zap.DebugLevel)
	return l
}
