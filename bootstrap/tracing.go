//go:build !notrace

package bootstrap

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"contenthub/adapters/tracing"
	"contenthub/ports"
)

// Tracing is OpenTelemetry as the service uses it (see adapters/tracing).
// Built with -tags notrace, tracing_off.go replaces it with pass-throughs and
// the binary holds no OpenTelemetry code at all.
type Tracing struct {
	provider *tracing.Provider
	tracer   *tracing.Tracer
}

// NewTracing sets the tracer provider up from the OTEL_* variables and
// flushes it at stop.
func NewTracing(lc fx.Lifecycle, cfg Config, log *zap.Logger) (*Tracing, error) {
	p, err := tracing.Setup(context.Background(), tracing.Options{Discard: cfg.TracingDiscard})
	if err != nil {
		return nil, &ConfigError{Variable: "OTEL_EXPORTER_OTLP_ENDPOINT", Problem: err.Error()}
	}
	if p.Recording() {
		log.Info("tracing is on", zap.Bool("discard", cfg.TracingDiscard))
	}
	lc.Append(fx.Hook{OnStop: p.Shutdown})
	return &Tracing{provider: p, tracer: tracing.NewTracer(p)}, nil
}

// Tracer is the application's.
func (t *Tracing) Tracer() ports.Tracer { return t.tracer }

// Store decorates the store with a span per call.
func (t *Tracing) Store(s ports.TaskStore) ports.TaskStore { return tracing.NewStore(s, t.provider) }

// Creator decorates content-creator with a span per call and hands it the
// trace context.
func (t *Tracing) Creator(c ports.ContentCreator) ports.ContentCreator {
	return tracing.NewCreator(c, t.provider)
}

// Handler gives each request a server span, child of its traceparent.
func (t *Tracing) Handler(h http.Handler) http.Handler { return tracing.Handler(h, t.provider) }

// Middleware names the server span after the route.
func (t *Tracing) Middleware() []gin.HandlerFunc { return []gin.HandlerFunc{tracing.Route()} }
