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
	// ReadTimeout bounds the arrival of a request's headers, then of its
	// body (HTTP_READ_TIMEOUT); WriteTimeout the writing of an answer, or of
	// each frame of an event stream (HTTP_WRITE_TIMEOUT); IdleTimeout a
	// keep-alive connection between requests (HTTP_IDLE_TIMEOUT). Zero
	// values take the Default… constants.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
	// MaxConcurrentCallbacks caps callback requests in flight; past it they
	// are answered 503 with Retry-After (WEBHOOK_MAX_CONCURRENT). 0 = no cap.
	MaxConcurrentCallbacks int
}

// Deps are the use cases and ports the routes call.
type Deps struct {
	Tasks     *application.Tasks
	Callbacks *application.Callbacks
	// Reviews, Pool and TaskCounts serve §15's routes and the task list's
	// totals; each is optional (nil: its routes are not registered).
	Reviews    *application.Reviews
	Pool       *application.Pool
	TaskCounts *application.TaskCounts
	Health     ports.Health
	Clock      ports.Clock
	Log        *zap.Logger
	// AccessLog writes the one line per request; it must not be sampled.
	// nil means Log.
	AccessLog *zap.Logger
	// Events feeds the SSE routes; without it they are not registered.
	Events ports.EventSubscriber
	// Extra registers more routes (metrics, events, UI) on the engine.
	Extra []func(r gin.IRouter, api gin.IRouter)
	// Metrics counts callbacks refused for overload; optional.
	Metrics ports.Metrics
	// Accounts serves the accounts routes and the tasks' waiting reasons
	// (§11); without it neither is there.
	Accounts *application.Accounts
	// Batches serves the batch create route; without it it is not registered.
	Batches *application.Batches
	// Middleware runs first on every route (tracing's route naming).
	Middleware []gin.HandlerFunc
	// CreatorHealth is the content health route's creator field (§14);
	// optional (nil: the field says unknown).
	CreatorHealth ports.CreatorHealthReporter
}

// NewRouter builds the Gin engine with every route of §3 and §5.
func NewRouter(cfg Config, d Deps) *gin.Engine {
	cfg = cfg.withDefaults()
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	access := d.AccessLog
	if access == nil {
		access = d.Log
	}
	r.Use(d.Middleware...)
	r.Use(withRequestID(), withAccessLog(access), withRecovery(d.Log), withDeadlines(cfg.ReadTimeout, cfg.WriteTimeout),
		withCompression(eventStreamRoutes))
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
			"creator": creatorHealthView(d.CreatorHealth),
		})
	})

	if cfg.WebhookEnabled {
		cb := &callbackHandler{
			callbacks: d.Callbacks, clock: d.Clock, maxBody: cfg.WebhookMaxBodyBytes,
			timeout: func(ctx context.Context) (context.Context, context.CancelFunc) {
				return context.WithTimeout(ctx, cfg.WebhookTimeout)
			},
		}
		route := []gin.HandlerFunc{cb.handle}
		if cfg.MaxConcurrentCallbacks > 0 {
			route = append([]gin.HandlerFunc{limitInFlight(cfg.MaxConcurrentCallbacks, d.Metrics)}, route...)
		}
		r.POST("/api/v1/content/callback/:task_id", route...)
	}

	api := r.Group("/api/v1", withBearerTokens(cfg.APITokens))
	th := &taskHandlers{tasks: d.Tasks, counts: d.TaskCounts, accounts: d.Accounts}
	if d.Batches != nil {
		bh := &batchHandlers{batches: d.Batches, accounts: d.Accounts}
		api.POST("/content/tasks/batch", bh.create)
	}
	if d.Accounts != nil {
		ah := &accountHandlers{accounts: d.Accounts}
		api.GET("/accounts", ah.list)
		api.GET("/accounts/:account_id", ah.get)
		api.PUT("/accounts/:account_id/limits", ah.putLimits)
	}
	api.POST("/content/tasks", th.create)
	api.POST("/content/generate/async", th.create)
	api.GET("/content/tasks", th.list)
	api.GET("/content/tasks/:task_id", th.get)
	api.POST("/content/tasks/:task_id/cancel", th.cancel)
	api.POST("/content/tasks/:task_id/retry", th.retry)
	api.GET("/content/tasks/:task_id/deliveries", th.deliveries)
	api.GET("/contents/:content_id", th.content)
	if d.Reviews != nil {
		registerContentRoutes(api, d.Reviews)
	}
	if d.Pool != nil {
		registerPoolRoutes(api, d.Pool)
	}
	if d.Events != nil {
		registerEventRoutes(r, cfg, d)
	}
	for _, register := range d.Extra {
		register(r, api)
	}
	return r
}
