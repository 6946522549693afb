package bootstrap

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"contenthub/adapters/httpapi"
	"contenthub/adapters/webui"
	"contenthub/application"
	"contenthub/ports"
)

// HTTPModule serves the API.
var HTTPModule = fx.Module("http",
	fx.Provide(
		NewRouter,
		NewHTTPServer,
		fx.Annotate(dashboardRoutes, fx.ResultTags(`group:"routes"`)),
	),
	fx.Invoke(func(*HTTPServer) {}),
)

// dashboardRoutes serves the operator dashboard (§10) at /ui/.
func dashboardRoutes(tasks *application.Tasks) func(r gin.IRouter, api gin.IRouter) {
	return func(r gin.IRouter, api gin.IRouter) { webui.Register(r, api, tasks) }
}

// RouteExtras lets other modules add routes (fx value group "routes").
type RouteExtras struct {
	fx.In
	Routes []func(r gin.IRouter, api gin.IRouter) `group:"routes"`
}

// NewRouter builds the Gin engine.
func NewRouter(cfg Config, tasks *application.Tasks, callbacks *application.Callbacks, review ReviewRoutes, health ports.Health,
	creatorHealth ports.CreatorHealthReporter, clk ports.Clock, hub EventHub, reg *prometheus.Registry, m ports.Metrics,
	log *zap.Logger, access AccessLogger, extras RouteExtras, accounts *application.Accounts, batches *application.Batches,
	tr *Tracing) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	if len(cfg.APITokens) == 0 {
		log.Warn("API_TOKENS is unset: the task API is open to anyone who can reach it (fine for local runs, never for production)")
	}
	metricsRoute := func(r gin.IRouter, _ gin.IRouter) {
		r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	}
	return httpapi.NewRouter(httpConfig(cfg), httpapi.Deps{
		Tasks: tasks, Callbacks: callbacks, Health: health, Clock: clk, Log: log, AccessLog: access.Logger,
		Events: hub, Metrics: m, CreatorHealth: creatorHealth, Reviews: review.Reviews, Pool: review.Pool,
		TaskCounts: review.TaskCounts, Accounts: accounts, Batches: batches,
		Middleware: tr.Middleware(),
		Extra:      append([]func(gin.IRouter, gin.IRouter){metricsRoute}, extras.Routes...),
	})
}

// ReviewRoutes are the use cases behind §15's routes and the task list's totals.
type ReviewRoutes struct {
	fx.In
	Reviews    *application.Reviews
	Pool       *application.Pool
	TaskCounts *application.TaskCounts
}

// httpConfig is the HTTP layer's share of the configuration.
func httpConfig(cfg Config) httpapi.Config {
	return httpapi.Config{
		APITokens: cfg.APITokens, WebhookEnabled: cfg.WebhookEnabled, SignatureRequired: cfg.WebhookRequireSignature,
		WebhookTimeout: cfg.WebhookTimeout, WebhookMaxBodyBytes: cfg.WebhookMaxBodyBytes,
		ReadTimeout: cfg.HTTPReadTimeout, WriteTimeout: cfg.HTTPWriteTimeout, IdleTimeout: cfg.HTTPIdleTimeout,
		MaxConcurrentCallbacks: cfg.WebhookMaxConcurrent,
	}
}

// HTTPServer is the service's listener; Addr tells where it listens once
// started (useful with port 0).
type HTTPServer struct {
	srv      *http.Server
	addr     atomic.Pointer[string]
	inFlight atomic.Int64 // requests being served
}

// Addr returns the bound address, or "" before start.
func (s *HTTPServer) Addr() string {
	if p := s.addr.Load(); p != nil {
		return *p
	}
	return ""
}

// ListenModule binds HTTP_ADDR. App places it before the database is
// migrated and before any loop starts: a taken port then fails the start
// before it has done, or announced, anything. Connections that arrive in
// the meantime wait in the listen backlog until the server serves them.
var ListenModule = fx.Module("listen",
	fx.Provide(newHTTPListener),
	fx.Invoke(func(*httpListener) {}),
)

// httpListener is HTTP_ADDR, bound at start and handed to the HTTP server.
type httpListener struct {
	ln     net.Listener
	served bool // the server owns ln and closes it at shutdown
}

func newHTTPListener(lc fx.Lifecycle, cfg Config) *httpListener {
	l := &httpListener{}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", cfg.HTTPAddr)
			if err != nil {
				return &StartupError{
					Problem: "cannot listen on HTTP_ADDR " + cfg.HTTPAddr, Err: err,
					Fix: "stop the process that uses this address or set HTTP_ADDR to a free one",
				}
			}
			l.ln = ln
			return nil
		},
		// A start that fails between the bind and the server's own start
		// releases the address here.
		OnStop: func(context.Context) error {
			if l.served {
				return nil
			}
			return l.ln.Close()
		},
	})
	return l
}

// NewHTTPServer serves on the listener ListenModule bound and shuts down
// gracefully at stop, finishing in-flight callbacks (see drain.go).
func NewHTTPServer(lc fx.Lifecycle, cfg Config, engine *gin.Engine, hub EventHub, ln *httpListener, tr *Tracing, log *zap.Logger) *HTTPServer {
	s := &HTTPServer{}
	handler := tr.Handler(engine)
	s.srv = httpapi.NewServer(cfg.HTTPAddr, httpConfig(cfg), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		handler.ServeHTTP(w, r)
	}))
	// Event streams never end on their own: close them when shutdown starts
	// so in-flight callbacks, not idle streams, decide how long it takes.
	s.srv.RegisterOnShutdown(func() { _ = hub.Close() })
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			addr := ln.ln.Addr().String()
			s.addr.Store(&addr)
			ln.served = true
			log.Info("http server listening", zap.String("addr", addr))
			go func() {
				if err := s.srv.Serve(ln.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("http server stopped", zap.Error(err))
				}
			}()
			return nil
		},
		OnStop: func(ctx context.Context) error {
			return drainHTTP(ctx, s.srv, s.inFlight.Load(), cfg.ShutdownTimeout, log)
		},
	})
	return s
}
