package bootstrap

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"contenthub/adapters/clock"
	"contenthub/adapters/creatorexec"
	"contenthub/adapters/events"
	"contenthub/adapters/httpapi"
	"contenthub/adapters/ids"
	"contenthub/adapters/metrics"
	"contenthub/adapters/signature"
	"contenthub/adapters/sqlstore"
	"contenthub/adapters/webui"
	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

// Role selects what a replica runs (§6).
type Role string

const (
	RoleAll    Role = "all"    // HTTP and background work
	RoleAPI    Role = "api"    // HTTP only
	RoleWorker Role = "worker" // dispatcher, reconciler and runner only
)

// ParseRole validates a --role value.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAll, RoleAPI, RoleWorker:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q: want all, api or worker", s)
}

// SimulatorName is the bundled content-creator simulator's binary name.
const SimulatorName = "content-creator-sim"

// App is the whole service for a role, as one fx graph.
func App(cfg Config, role Role, extra ...fx.Option) fx.Option {
	opts := []fx.Option{
		fx.Supply(cfg, role),
		fx.Provide(NewLogger),
		fx.WithLogger(fxLogger),
		fx.Invoke(registerLogMetrics),
		StorageModule,
		CoreModule,
		CreatorModule,
	}
	// fx stops in reverse start order: listing the worker first means the
	// HTTP server stops accepting (and finishes in-flight callbacks) before
	// the loops stop.
	if role != RoleAPI {
		opts = append(opts, WorkerModule)
	}
	if role != RoleWorker {
		opts = append(opts, HTTPModule)
	}
	// Last, so it runs after every other start hook.
	opts = append(opts, fx.Invoke(announceStart))
	return fx.Options(append(opts, extra...)...)
}

// announceStart logs once everything has started; operators (and tests)
// wait for this line.
func announceStart(lc fx.Lifecycle, role Role, log *zap.Logger) {
	lc.Append(fx.Hook{OnStart: func(context.Context) error {
		log.Info("contenthub started", zap.String("role", string(role)))
		return nil
	}})
}

// StorageModule opens the database, migrates it when AUTO_MIGRATE is on and
// closes it at stop.
var StorageModule = fx.Module("storage",
	fx.Provide(
		NewStore,
		func(s *sqlstore.Store) ports.TaskStore { return s },
		fx.Annotate(storeCheck, fx.ResultTags(`group:"readiness"`)),
	),
)

// NewStore opens the configured database and ties it to the lifecycle.
func NewStore(lc fx.Lifecycle, cfg Config, log *zap.Logger) (*sqlstore.Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, databaseError(cfg.DatabaseURL, err)
	}
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if !cfg.AutoMigrate {
				return nil
			}
			if err := store.MigrateUp(ctx); err != nil {
				return err
			}
			log.Info("database migrated", zap.String("dialect", string(store.Dialect())))
			return nil
		},
		OnStop: func(context.Context) error { return store.Close() },
	})
	return store, nil
}

// CoreModule provides the use cases and the small adapters they share.
var CoreModule = fx.Module("core",
	fx.Provide(
		func() ports.Clock { return clock.System{} },
		func() ports.IDGenerator { return ids.Random{} },
		NewRegistry,
		NewReadiness,
		func(r *Readiness) ports.Health { return r },
		func(reg *prometheus.Registry) ports.Metrics { return metrics.New(reg) },
		NewEventHub,
		func(h EventHub) ports.EventPublisher { return h },
		func(h EventHub) ports.EventSubscriber { return h },
		application.NewWakeup,
		NewDeps,
		NewVerifier,
		func(v *signature.Verifier) ports.CallbackVerifier { return v },
		application.NewTasks,
		application.NewCallbacks,
	),
)

// EventHub publishes task changes and feeds the SSE routes.
type EventHub interface {
	ports.EventPublisher
	ports.EventSubscriber
	Close() error
}

// NewEventHub picks the event adapter for the store: PostgreSQL
// LISTEN/NOTIFY, so a change on one replica reaches subscribers on all, or
// the in-process hub for the embedded SQLite store (one process).
func NewEventHub(lc fx.Lifecycle, cfg Config, store *sqlstore.Store, log *zap.Logger) (EventHub, error) {
	if store.Dialect() != sqlstore.Postgres {
		hub := events.NewLocal()
		lc.Append(fx.Hook{OnStop: func(context.Context) error { return hub.Close() }})
		return hub, nil
	}
	db, err := sql.Open("postgres", cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("open event connection: %w", err)
	}
	db.SetMaxOpenConns(2)
	channel, err := eventChannel(db)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	hub, err := events.NewPostgres(db, cfg.DatabaseURL, log, events.WithChannel(channel))
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("listen for task events: %w", err)
	}
	lc.Append(fx.Hook{OnStop: func(context.Context) error { return errors.Join(hub.Close(), db.Close()) }})
	return hub, nil
}

// eventChannel names the NOTIFY channel after the schema: channels are
// database-wide, and deployments (or test runs) in separate schemas of one
// database must not hear each other.
func eventChannel(db *sql.DB) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var schema string
	if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return "", fmt.Errorf("read current schema: %w", err)
	}
	if schema == "public" {
		return events.DefaultChannel, nil
	}
	sum := sha256.Sum256([]byte(schema))
	return events.DefaultChannel + "_" + hex.EncodeToString(sum[:6]), nil
}

// NewRegistry is the Prometheus registry with Go and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// NewDeps gathers the ports every use case shares.
func NewDeps(cfg Config, store ports.TaskStore, clk ports.Clock, gen ports.IDGenerator,
	pub ports.EventPublisher, m ports.Metrics, log *zap.Logger) application.Deps {
	return application.Deps{
		Store: store, Clock: clk, IDs: gen, Publisher: pub, Metrics: m, Log: log,
		Rules: application.Rules{TaskTimeout: cfg.TaskTimeout, Backoff: domain.DefaultBackoff},
	}
}

// NewVerifier builds the callback verifier; an invalid combination stops the
// service at start (§4).
func NewVerifier(cfg Config, log *zap.Logger) (*signature.Verifier, error) {
	v, err := signature.NewVerifier(signature.Config{
		Secrets: cfg.WebhookSecretKeys, RequireSignature: cfg.WebhookRequireSignature,
		Tokens: cfg.WebhookCallbackTokens, Tolerance: cfg.WebhookTolerance,
	})
	if err != nil {
		return nil, &ConfigError{Variable: "WEBHOOK_SECRET_KEY", Problem: err.Error()}
	}
	if cfg.WebhookEnabled && v.Open() {
		log.Warn("callback endpoint is open: WEBHOOK_CALLBACK_TOKENS=false and signatures are not required; anyone who can reach it can complete tasks")
	}
	return v, nil
}

// CreatorModule provides the exec runner as the content-creator port.
var CreatorModule = fx.Module("creator",
	fx.Provide(
		NewRunner,
		func(r *creatorexec.Runner) ports.ContentCreator { return r },
		fx.Annotate(creatorCommandCheck, fx.ResultTags(`group:"readiness"`)),
	),
)

// NewRunner builds the exec runner. Without CREATOR_CLI_PATH it runs the
// bundled simulator from beside this binary or from PATH.
func NewRunner(cfg Config, m ports.Metrics, log *zap.Logger) (*creatorexec.Runner, error) {
	command := cfg.CreatorCLIPath
	if command == "" {
		sim, err := findSimulator()
		if err != nil {
			return nil, &ConfigError{Variable: "CREATOR_CLI_PATH", Problem: err.Error()}
		}
		// CREATOR_CLI_PATH is split into words like a shell would: quote the path.
		command = "'" + strings.ReplaceAll(sim, "'", `'\''`) + "'"
		log.Info("using the bundled content-creator simulator", zap.String("path", sim))
	}
	if err := CheckCommand(command); err != nil {
		return nil, err
	}
	var secret string
	if len(cfg.WebhookSecretKeys) > 0 {
		secret = cfg.WebhookSecretKeys[0]
	}
	r, err := creatorexec.New(creatorexec.Config{
		Command: command, SubmitTimeout: cfg.CreatorSubmitTimeout, Secret: secret,
	}, creatorexec.WithMetrics(m), creatorexec.WithLogger(log))
	if err != nil {
		return nil, &ConfigError{Variable: "CREATOR_CLI_PATH", Problem: err.Error()}
	}
	return r, nil
}

func findSimulator() (string, error) {
	if self, err := os.Executable(); err == nil {
		candidate := filepath.Join(filepath.Dir(self), SimulatorName)
		if info, err := os.Stat(candidate); err == nil && !info.IsDir() {
			return candidate, nil
		}
	}
	if p, err := exec.LookPath(SimulatorName); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("unset, and the bundled %s was found neither beside this binary nor on PATH (run `make build`)", SimulatorName)
}

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
func NewRouter(cfg Config, tasks *application.Tasks, callbacks *application.Callbacks, health ports.Health,
	clk ports.Clock, hub EventHub, reg *prometheus.Registry, log *zap.Logger, access AccessLogger, extras RouteExtras) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	if len(cfg.APITokens) == 0 {
		log.Warn("API_TOKENS is unset: the task API is open to anyone who can reach it (fine for local runs, never for production)")
	}
	metricsRoute := func(r gin.IRouter, _ gin.IRouter) {
		r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	}
	return httpapi.NewRouter(httpapi.Config{
		APITokens: cfg.APITokens, WebhookEnabled: cfg.WebhookEnabled, SignatureRequired: cfg.WebhookRequireSignature,
		WebhookTimeout: cfg.WebhookTimeout, WebhookMaxBodyBytes: cfg.WebhookMaxBodyBytes,
	}, httpapi.Deps{
		Tasks: tasks, Callbacks: callbacks, Health: health, Clock: clk, Log: log, AccessLog: access.Logger, Events: hub,
		Extra: append([]func(gin.IRouter, gin.IRouter){metricsRoute}, extras.Routes...),
	})
}

// shutdownGrace bounds how long in-flight requests may finish at stop.
const shutdownGrace = 15 * time.Second

// HTTPServer is the service's listener; Addr tells where it listens once
// started (useful with port 0).
type HTTPServer struct {
	srv  *http.Server
	addr atomic.Pointer[string]
}

// Addr returns the bound address, or "" before start.
func (s *HTTPServer) Addr() string {
	if p := s.addr.Load(); p != nil {
		return *p
	}
	return ""
}

// NewHTTPServer listens at start (so a taken port fails the start) and shuts
// down gracefully at stop, finishing in-flight callbacks.
func NewHTTPServer(lc fx.Lifecycle, cfg Config, handler *gin.Engine, hub EventHub, log *zap.Logger) *HTTPServer {
	s := &HTTPServer{srv: &http.Server{Addr: cfg.HTTPAddr, Handler: handler, ReadHeaderTimeout: 10 * time.Second}}
	// Event streams never end on their own: close them when shutdown starts
	// so in-flight callbacks, not idle streams, decide how long it takes.
	s.srv.RegisterOnShutdown(func() { _ = hub.Close() })
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			ln, err := net.Listen("tcp", cfg.HTTPAddr)
			if err != nil {
				return &StartupError{
					Problem: "cannot listen on HTTP_ADDR " + cfg.HTTPAddr, Err: err,
					Fix: "stop the process that uses this address or set HTTP_ADDR to a free one",
				}
			}
			addr := ln.Addr().String()
			s.addr.Store(&addr)
			log.Info("http server listening", zap.String("addr", addr))
			go func() {
				if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("http server stopped", zap.Error(err))
				}
			}()
			return nil
		},
		OnStop: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, shutdownGrace)
			defer cancel()
			return s.srv.Shutdown(ctx)
		},
	})
	return s
}

// WorkerModule runs the dispatcher and the reconciler in the background.
var WorkerModule = fx.Module("worker",
	fx.Provide(NewDispatcher, NewReconciler),
	fx.Invoke(RunBackground),
)

// NewDispatcher builds the dispatcher with this replica's lease name.
func NewDispatcher(cfg Config, deps application.Deps, creator ports.ContentCreator, wakeup *application.Wakeup) *application.Dispatcher {
	host, _ := os.Hostname()
	return application.NewDispatcher(deps, creator, wakeup, application.DispatcherConfig{
		Owner:           fmt.Sprintf("%s/%d/%s", host, os.Getpid(), ids.Random{}.NewID("w")),
		Lease:           dispatchLease(cfg.CreatorSubmitTimeout),
		Concurrency:     cfg.CreatorMaxConcurrency,
		Sweep:           time.Second,
		CallbackBaseURL: cfg.WebhookCallbackBaseURL,
		Callbacks:       cfg.WebhookEnabled,
		Tokens:          cfg.WebhookCallbackTokens,
	})
}

// dispatchLease is how long a claim holds: a submission is bounded by its
// timeout, so a claim twice that old belongs to a replica that died.
func dispatchLease(submitTimeout time.Duration) time.Duration {
	return max(2*submitTimeout, 2*time.Second)
}

// NewReconciler builds the polling guarantee's loop.
func NewReconciler(cfg Config, deps application.Deps, creator ports.ContentCreator, wakeup *application.Wakeup) *application.Reconciler {
	return application.NewReconciler(deps, creator, wakeup, application.ReconcilerConfig{
		Interval: cfg.PollInterval, Grace: cfg.CallbackGrace, Concurrency: cfg.CreatorMaxConcurrency,
	})
}

// Loop is a background loop that runs until its context ends.
type Loop interface{ Run(ctx context.Context) }

// RunBackground starts the loops at start (without blocking) and stops and
// waits for them at stop.
func RunBackground(lc fx.Lifecycle, d *application.Dispatcher, r *application.Reconciler) {
	runLoops(lc, d, r)
}

func runLoops(lc fx.Lifecycle, loops ...Loop) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			for _, l := range loops {
				wg.Add(1)
				go func() { defer wg.Done(); l.Run(ctx) }()
			}
			return nil
		},
		OnStop: func(stopCtx context.Context) error {
			cancel()
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
				return nil
			case <-stopCtx.Done():
				return fmt.Errorf("background loops did not stop: %w", stopCtx.Err())
			}
		},
	})
}
