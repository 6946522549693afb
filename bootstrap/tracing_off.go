//go:build notrace

package bootstrap

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"contenthub/ports"
)

// Tracing is compiled out (-tags notrace): every method passes its input
// through and the application gets no Tracer.
type Tracing struct{}

// NewTracing implements the traced build's constructor.
func NewTracing(fx.Lifecycle, Config, *zap.Logger) (*Tracing, error) { return &Tracing{}, nil }

// Tracer is nil: the application checks for it and does nothing.
func (*Tracing) Tracer() ports.Tracer { return nil }

// Store is s.
func (*Tracing) Store(s ports.TaskStore) ports.TaskStore { return s }

// Creator is c.
func (*Tracing) Creator(c ports.ContentCreator) ports.ContentCreator { return c }

// Handler is h.
func (*Tracing) Handler(h http.Handler) http.Handler { return h }

// Middleware is none.
func (*Tracing) Middleware() []gin.HandlerFunc { return nil }
