// Package httpapi is the Gin adapter: it translates HTTP to the application's
// use cases and back, and nothing more.
package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"contenthub/application"
	"contenthub/ports"
)

// Config is what the HTTP layer needs to know.
type Config struct {
	APITokens           []string
	WebhookEnabled      bool
	SignatureRequired   bool
	WebhookTimeout      time.Duration
	WebhookMaxBodyBytes int64
	// HeartbeatInterval spaces the comments that keep idle event streams
	// open through proxies; 0 means DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
}

// Deps are the use cases and ports the routes call.
type Deps struct {
	Tasks     *application.Tasks
	Callbacks *application.Callbacks
	Health    ports.Health
	Clock     ports.Clock
	Log       *zap.Logger
	// AccessLog writes the one line per request; it must not be sampled.
	// nil means Log.
	AccessLog *zap.Logger
	// Events feeds the SSE routes; without it they are not registered.
	Events ports.EventSubscriber
	// Extra registers more routes (metrics, events, UI) on the engine.
	Extra []func(r gin.IRouter, api gin.IRouter)
}

// NewRouter builds the Gin engine with every route of §3 and §5.
func NewRouter(cfg Config, d Deps) *gin.Engine {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	access := d.AccessLog
	if access == nil {
		access = d.Log
	}
	r.Use(withRequestID(), withAccessLog(access), withRecovery(d.Log))
	r.NoRoute(func(c *gin.Context) {
		abort(c, http.StatusNotFound, errorBody{Code: "not_found", Message: "no such route"})
	})
	r.NoMethod(func(c *gin.Context) {
		abort(c, http.StatusMethodNotAllowed, errorBody{Code: "method_not_allowed", Message: "method not allowed on this route"})
	})

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := d.Health.Ready(ctx); err != nil {
			_ = c.Error(err)
			message := "database unreachable or migrations not applied"
			var nr *ports.NotReadyError
			if errors.As(err, &nr) {
				message = "not ready: " + nr.Check + " failed (see the log line of this request)"
			}
			abort(c, http.StatusServiceUnavailable, errorBody{Code: "not_ready", Message: message})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	})
	r.GET("/api/v1/content/health", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{
			"status": "ok", "webhook_enabled": cfg.WebhookEnabled, "signature_required": cfg.SignatureRequired,
		})
	})

	if cfg.WebhookEnabled {
		cb := &callbackHandler{
			callbacks: d.Callbacks, clock: d.Clock, maxBody: cfg.WebhookMaxBodyBytes,
			timeout: func(ctx context.Context) (context.Context, context.CancelFunc) {
				return context.WithTimeout(ctx, cfg.WebhookTimeout)
			},
		}
		r.POST("/api/v1/content/callback/:task_id", cb.handle)
	}

	api := r.Group("/api/v1", withBearerTokens(cfg.APITokens))
	th := &taskHandlers{tasks: d.Tasks}
	api.POST("/content/tasks", th.create)
	api.POST("/content/generate/async", th.create)
	api.GET("/content/tasks", th.list)
	api.GET("/content/tasks/:task_id", th.get)
	api.POST("/content/tasks/:task_id/cancel", th.cancel)
	api.POST("/content/tasks/:task_id/retry", th.retry)
	api.GET("/content/tasks/:task_id/deliveries", th.deliveries)
	api.GET("/contents/:content_id", th.content)
	api.GET("/publish-pool", th.pool)
	if d.Events != nil {
		registerEventRoutes(r, cfg, d)
	}
	for _, register := range d.Extra {
		register(r, api)
	}
	return r
}
