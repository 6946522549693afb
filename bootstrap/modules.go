package bootstrap

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"contenthub/adapters/clock"
	"contenthub/adapters/creatorapi"
	"contenthub/adapters/creatorbreaker"
	"contenthub/adapters/creatorexec"
	"contenthub/adapters/events"
	"contenthub/adapters/ids"
	"contenthub/adapters/metrics"
	"contenthub/adapters/signature"
	"contenthub/adapters/sqlstore"
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
		fx.Supply(cfg, role, &startState{}),
		fx.Provide(NewLogger),
		fx.WithLogger(fxLogger),
		fx.Invoke(registerLogMetrics),
		// Start hooks run in this order. The database is opened first, so
		// that it is closed even when a later hook fails; the HTTP address
		// is bound before the database is migrated, so that a taken port
		// fails the start before it has changed or announced anything.
		StorageModule,
	}
	if role != RoleWorker {
		opts = append(opts, ListenModule)
	}
	opts = append(opts, MigrationModule, CoreModule, NotifyModule, CreatorModule, SchedulesModule,
		fx.Decorate(func(t *Tracing, c ports.ContentCreator) ports.ContentCreator { return t.Creator(c) }))
	// fx stops in reverse start order: listing the worker first means the
	// HTTP server stops accepting (and finishes in-flight callbacks) before
	// the background loops (BackgroundGroup) stop.
	if role != RoleAPI {
		opts = append(opts, WorkerModule, SchedulerModule, NotifierModule)
	}
	if role != RoleWorker {
		opts = append(opts, HTTPModule)
	}
	// Last (after the caller's extra options too), so it runs after every
	// other start hook, and the signal is logged before every other stop
	// hook.
	opts = append(opts, extra...)
	return fx.Options(append(opts, fx.Invoke(announceStart), fx.Invoke(logSignals))...)
}

// startState records whether every start hook ran. Stop hooks run on a
// failed start too (for the hooks that had started), and must not then
// describe the drain of a service that never ran.
type startState struct{ done atomic.Bool }

// Started reports whether the service started.
func (s *startState) Started() bool { return s.done.Load() }

// announceStart logs once everything has started; operators (and tests)
// wait for this line.
func announceStart(lc fx.Lifecycle, role Role, started *startState, log *zap.Logger) {
	lc.Append(fx.Hook{OnStart: func(context.Context) error {
		started.done.Store(true)
		log.Info("contenthub started", zap.String("role", string(role)))
		return nil
	}})
}

// StorageModule opens the database (at once, see App) and closes it at
// stop.
var StorageModule = fx.Module("storage",
	fx.Provide(
		NewStore,
		func(s *sqlstore.Store) ports.TaskStore { return s },
		func(s *sqlstore.Store) ports.TaskRetention { return s },
		func(s *sqlstore.Store) ports.ContentReview { return s },
		func(s *sqlstore.Store) ports.PublishPool { return s },
		func(s *sqlstore.Store) ports.TaskCounter { return s },
		func(s *sqlstore.Store) ports.AccountStore { return s },
		func(s *sqlstore.Store) ports.TaskBatches { return s },
		fx.Annotate(storeCheck, fx.ResultTags(`group:"readiness"`)),
	),
	fx.Invoke(func(*sqlstore.Store) {}),
)

// NewStore opens the configured database and ties it to the lifecycle.
func NewStore(lc fx.Lifecycle, cfg Config, started *startState, log *zap.Logger) (*sqlstore.Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, databaseError(cfg.DatabaseURL, err)
	}
	lc.Append(fx.Hook{
		OnStop: func(context.Context) error {
			if err := store.Close(); err != nil {
				return err
			}
			if !started.Started() {
				log.Debug("database closed after a failed start")
				return nil
			}
			log.Info("drain: database closed")
			return nil
		},
	})
	return store, nil
}

// MigrationModule migrates the database at start when AUTO_MIGRATE is on.
var MigrationModule = fx.Module("migration", fx.Invoke(migrateAtStart))

func migrateAtStart(lc fx.Lifecycle, cfg Config, store *sqlstore.Store, log *zap.Logger) {
	if !cfg.AutoMigrate {
		return
	}
	lc.Append(fx.Hook{OnStart: func(ctx context.Context) error {
		if err := store.MigrateUp(ctx); err != nil {
			return err
		}
		log.Info("database migrated", zap.String("dialect", string(store.Dialect())))
		return nil
	}})
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
		NewTracing,
		NewDeps,
		NewVerifier,
		func(v *signature.Verifier) ports.CallbackVerifier { return v },
		application.NewTasks,
		application.NewBatches,
		NewAccounts,
		application.NewCallbacks,
		application.NewRuns,
		func(r *application.Runs) ports.RunObserver { return r },
		application.NewReviews,
		func(deps application.Deps, pool ports.PublishPool) *application.Pool {
			return application.NewPool(deps, pool, application.PoolConfig{})
		},
		application.NewTaskCounts,
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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	channel, err := events.SchemaChannel(ctx, db)
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

// NewRegistry is the Prometheus registry with Go and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// NewDeps gathers the ports every use case shares.
func NewDeps(cfg Config, store ports.TaskStore, clk ports.Clock, gen ports.IDGenerator,
	pub ports.EventPublisher, m ports.Metrics, log *zap.Logger, lifecycle LifecycleLogger, wakeup *application.Wakeup, tr *Tracing) application.Deps {
	store = tr.Store(store)
	return application.Deps{
		Tracer: tr.Tracer(),
		Store:  store, Claimer: store, Stale: store, Deliveries: store, Reader: store, Clock: clk, IDs: gen, Publisher: pub, Metrics: m, Log: log,
		Lifecycle: lifecycle.Logger,
		Rules: application.Rules{TaskTimeout: cfg.TaskTimeout,
			Backoff: domain.Backoff{Base: cfg.RetryBackoffBase, Max: cfg.RetryBackoffMax}},
		// An attempt that ends here frees its slot at once (§11).
		SlotFreed: wakeup.Notify,
	}
}

// NewAccounts builds the account use cases with the configured defaults.
func NewAccounts(cfg Config, store ports.AccountStore, tasks ports.TaskStore, clk ports.Clock,
	creatorHealth ports.CreatorHealthReporter) *application.Accounts {
	return application.NewAccounts(store, tasks, clk, application.AccountsConfig{
		Defaults: cfg.AccountDefaults(), Capacity: cfg.CreatorMaxConcurrency, CreatorHealth: creatorHealth,
	})
}

// NewVerifier builds the callback verifier; an invalid combination stops the
// service at start (§4).
func NewVerifier(cfg Config, log *zap.Logger) (*signature.Verifier, error) {
	v, err := signature.NewVerifier(signature.Config{
		Secrets: cfg.WebhookSecretKeys, RequireSignature: cfg.WebhookRequireSignature,
		Tokens: cfg.WebhookCallbackTokens, Tolerance: cfg.WebhookTolerance,
		RequireTimestamp: cfg.WebhookRequireTimestamp,
	})
	if err != nil {
		return nil, &ConfigError{Variable: "WEBHOOK_SECRET_KEY", Problem: err.Error()}
	}
	if cfg.WebhookEnabled && v.Open() {
		log.Warn("callback endpoint is open: WEBHOOK_CALLBACK_TOKENS=false and signatures are not required; anyone who can reach it can complete tasks")
	}
	return v, nil
}

// CreatorModule provides the content-creator port for CREATOR_PROFILE,
// behind the circuit breaker (§14), whose probe loop runs with the worker's
// background loops and whose health the dispatcher, the health route and
// /metrics read.
var CreatorModule = fx.Module("creator",
	fx.Provide(
		NewCreator,
		func(b *creatorbreaker.Breaker) ports.ContentCreator { return b },
		func(b *creatorbreaker.Breaker) ports.CreatorHealthReporter { return b },
		func(b *creatorbreaker.Breaker) ports.LiveRuns { return b },
		AsBackgroundLoop[*creatorbreaker.Breaker]("creator probe"),
		fx.Annotate(creatorCommandChecks, fx.ResultTags(`group:"readiness,flatten"`)),
	),
	fx.Invoke(func(reg *prometheus.Registry, h ports.CreatorHealthReporter) error {
		return metrics.RegisterCreatorUp(reg, h)
	}),
)

// NewCreator builds the content-creator adapter of the configured profile
// (profileCreator) inside the circuit breaker: CREATOR_BREAKER_FAILURES
// submissions in a row that do not reach it open the breaker, probed every
// CREATOR_PROBE_INTERVAL; its closing wakes the dispatcher.
func NewCreator(cfg Config, observer ports.RunObserver, m ports.Metrics, log *zap.Logger, clk ports.Clock,
	wakeup *application.Wakeup) (*creatorbreaker.Breaker, error) {
	inner, err := profileCreator(cfg, observer, m, log, clk)
	if err != nil {
		return nil, err
	}
	b, err := creatorbreaker.New(inner, creatorbreaker.Config{
		Failures: cfg.CreatorBreakerFailures, ProbeInterval: cfg.CreatorProbeInterval,
		Closed: func() {
			log.Info("content-creator reachable again: dispatch resumes")
			wakeup.Notify()
		},
	}, clk)
	if err != nil {
		return nil, &ConfigError{Variable: "CREATOR_BREAKER_FAILURES", Problem: err.Error()}
	}
	return b, nil
}

// profileCreator builds the content-creator adapter of the configured
// profile: contract (the exec runner of SERVICE.md §6; the bundled simulator
// by default), cli (the published CLI's synchronous run, supervised) or api
// (its HTTP server). Supervised runs report how they end to observer.
func profileCreator(cfg Config, observer ports.RunObserver, m ports.Metrics, log *zap.Logger, clk ports.Clock) (creatorbreaker.Creator, error) {
	switch cfg.CreatorProfile {
	case ProfileCLI:
		ec, err := execConfig(cfg, log)
		if err != nil {
			return nil, err
		}
		s, err := creatorexec.NewSupervisor(ec, observer, creatorexec.WithMetrics(m), creatorexec.WithLogger(log))
		if err != nil {
			return nil, &ConfigError{Variable: "CREATOR_CLI_PATH", Problem: err.Error()}
		}
		return s, nil
	case ProfileAPI:
		c, err := creatorapi.New(creatorapi.Config{
			BaseURL: cfg.CreatorAPIBaseURL, RunTimeout: runTimeout(cfg),
			StatusTimeout: cfg.CreatorStatusTimeout, ResultTimeout: cfg.CreatorResultTimeout,
		}, observer, creatorapi.WithMetrics(m), creatorapi.WithLogger(log), creatorapi.WithClock(clk))
		if err != nil {
			return nil, &ConfigError{Variable: "CREATOR_API_BASE_URL", Problem: err.Error()}
		}
		return c, nil
	}
	return NewRunner(cfg, m, log)
}

// runTimeout bounds a supervised run: past the attempt's deadline, with room
// for the reconciler to time it out first.
func runTimeout(cfg Config) time.Duration {
	return cfg.TaskTimeout + 2*cfg.PollInterval + time.Minute
}

// NewRunner builds the contract profile's exec runner. Without
// CREATOR_CLI_PATH it runs the bundled simulator from beside this binary or
// from PATH.
func NewRunner(cfg Config, m ports.Metrics, log *zap.Logger) (*creatorexec.Runner, error) {
	ec, err := execConfig(cfg, log)
	if err != nil {
		return nil, err
	}
	r, err := creatorexec.New(ec, creatorexec.WithMetrics(m), creatorexec.WithLogger(log))
	if err != nil {
		return nil, &ConfigError{Variable: "CREATOR_CLI_PATH", Problem: err.Error()}
	}
	return r, nil
}

// execConfig is how the CLI profiles run content-creator: its command line,
// working directory, timeouts and the child's environment.
func execConfig(cfg Config, log *zap.Logger) (creatorexec.Config, error) {
	command, err := creatorCommandLine(cfg)
	if err != nil {
		return creatorexec.Config{}, err
	}
	if cfg.CreatorCLIPath == "" {
		log.Info("using the bundled content-creator simulator", zap.String("command", command))
	}
	if err := checkCommandIn(cfg.CreatorWorkdir, command); err != nil {
		return creatorexec.Config{}, err
	}
	var secret string
	if len(cfg.WebhookSecretKeys) > 0 {
		secret = cfg.WebhookSecretKeys[0]
	}
	return creatorexec.Config{
		Command: command, Dir: cfg.CreatorWorkdir, Secret: secret,
		SubmitTimeout: cfg.CreatorSubmitTimeout, StatusTimeout: cfg.CreatorStatusTimeout,
		ResultTimeout: cfg.CreatorResultTimeout, RunTimeout: runTimeout(cfg),
		EnvPolicy: creatorexec.EnvPolicy{Pass: cfg.CreatorEnvPass, Deny: ServiceVariables()},
	}, nil
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

// WorkerModule runs the background loops (BackgroundGroup): the dispatcher,
// the reconciler, retention, and whatever other modules add to the group.
var WorkerModule = fx.Module("worker",
	fx.Provide(
		NewDispatcher, NewReconciler, NewRetention,
		AsBackgroundLoop[*application.Dispatcher]("dispatcher"),
		AsBackgroundLoop[*application.Reconciler]("reconciler"),
		AsBackgroundLoop[*application.Retention]("retention"),
		// Returns the entries of publishers that went away to the pool.
		AsBackgroundLoop[*application.Pool]("pool leases"),
	),
	fx.Invoke(runBackground),
)

// NewRetention builds the periodic purge of finished tasks (RETENTION; off
// when unset).
func NewRetention(cfg Config, store ports.TaskRetention, clk ports.Clock, log *zap.Logger) *application.Retention {
	if cfg.Retention > 0 {
		log.Info("retention is on: terminal tasks unchanged for longer are deleted hourly", zap.Duration("retention", cfg.Retention))
	}
	return application.NewRetention(store, clk, log, application.RetentionConfig{OlderThan: cfg.Retention})
}

// NewDispatcher builds the dispatcher with this replica's lease name.
func NewDispatcher(cfg Config, deps application.Deps, creator ports.ContentCreator, health ports.CreatorHealthReporter,
	wakeup *application.Wakeup) *application.Dispatcher {
	host, _ := os.Hostname()
	return application.NewDispatcher(deps, creator, wakeup, application.DispatcherConfig{
		Owner:           fmt.Sprintf("%s/%d/%s", host, os.Getpid(), ids.Random{}.NewID("w")),
		Lease:           dispatchLease(cfg.CreatorSubmitTimeout),
		Concurrency:     cfg.CreatorMaxConcurrency,
		AccountDefaults: cfg.AccountDefaults(),
		Sweep:           time.Second,
		CallbackBaseURL: cfg.WebhookCallbackBaseURL,
		Callbacks:       cfg.WebhookEnabled,
		Tokens:          cfg.WebhookCallbackTokens,
		RefPrefix:       cfg.CreatorRefPrefix,
		CreatorHealth:   health,
	})
}

// dispatchLease is how long a claim holds: a submission is bounded by its
// timeout, so a claim twice that old belongs to a replica that died.
func dispatchLease(submitTimeout time.Duration) time.Duration {
	return max(2*submitTimeout, 2*time.Second)
}

// NewReconciler builds the polling guarantee's loop.
func NewReconciler(cfg Config, deps application.Deps, creator ports.ContentCreator, live ports.LiveRuns,
	wakeup *application.Wakeup) *application.Reconciler {
	return application.NewReconciler(deps, creator, wakeup, application.ReconcilerConfig{
		Interval: cfg.PollInterval, Grace: cfg.CallbackGrace, Concurrency: cfg.CreatorMaxConcurrency,
		StartupGrace: cfg.CreatorStatusTimeout, StallTimeout: cfg.CreatorStallTimeout, Live: live,
	})
}
