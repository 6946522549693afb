package application_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"contenthub/adapters/events"
	"contenthub/adapters/ids"
	"contenthub/adapters/metrics"
	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

// scriptedCreator answers status and result per external ref.
type scriptedCreator struct {
	mu        sync.Mutex
	status    map[string]ports.CreatorStatus
	statusErr error
	result    domain.Result
	polled    atomic.Int64
}

func (c *scriptedCreator) Submit(context.Context, ports.SubmitRequest) (ports.SubmitResult, error) {
	return ports.SubmitResult{}, nil
}

func (c *scriptedCreator) Status(_ context.Context, ref string) (ports.CreatorStatus, error) {
	c.polled.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.statusErr != nil {
		return ports.CreatorStatus{}, c.statusErr
	}
	if st, ok := c.status[ref]; ok {
		return st, nil
	}
	return ports.CreatorStatus{Phase: ports.PhaseRunning, Raw: "running"}, nil
}

func (c *scriptedCreator) Result(context.Context, string) (domain.Result, error) {
	return c.result, nil
}
func (c *scriptedCreator) Cancel(context.Context, string) error { return nil }

type settableClock struct{ now atomic.Pointer[time.Time] }

func (c *settableClock) Now() time.Time  { return *c.now.Load() }
func (c *settableClock) Set(t time.Time) { c.now.Store(&t) }
func newSettableClock(t time.Time) *settableClock {
	c := &settableClock{}
	c.Set(t)
	return c
}

const (
	grace       = 30 * time.Second
	taskTimeout = 10 * time.Minute
)

func reconcilerFor(store ports.TaskStore, clock ports.Clock, creator ports.ContentCreator, batch int) *application.Reconciler {
	deps := application.Deps{
		Store: store, Stale: store, Clock: clock, IDs: ids.Random{}, Publisher: events.NewLocal(), Metrics: metrics.Discard{}, Log: zap.NewNop(),
		Rules: application.Rules{TaskTimeout: taskTimeout, Backoff: domain.Backoff{Base: time.Second, Max: time.Minute}},
	}
	return application.NewReconciler(deps, creator, application.NewWakeup(), application.ReconcilerConfig{
		Interval: time.Second, Grace: grace, Batch: batch, Concurrency: 8,
	})
}

// seedSubmitted stores n tasks submitted at `at`, through the domain, a few
// at a time.
func seedSubmitted(t testing.TB, store ports.TaskStore, n int, at time.Time, maxRetries int) []string {
	t.Helper()
	ctx := context.Background()
	rules := domain.Rules{TaskTimeout: taskTimeout}
	out := make([]string, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	slots := make(chan struct{}, 8)
	for i := range n {
		out[i] = fmt.Sprintf("task-r%04d", i)
		wg.Add(1)
		slots <- struct{}{}
		go func(id string) {
			defer func() { <-slots; wg.Done() }()
			task, err := domain.NewTask(domain.NewTaskParams{ID: id, AccountID: 1, Topic: "t", MaxRetries: &maxRetries}, at)
			if err == nil {
				_, _, err = store.CreateTask(ctx, task, nil)
			}
			if err == nil {
				err = store.UpdateTask(ctx, id, func(t *domain.Task) (ports.TaskChanges, error) {
					if _, err := t.Apply(domain.Event{Kind: domain.EventOpenAttempt, At: at}, rules); err != nil {
						return ports.TaskChanges{}, err
					}
					_, err := t.Apply(domain.Event{Kind: domain.EventSubmitted, Attempt: 1, At: at}, rules)
					return ports.TaskChanges{SaveTask: true}, err
				})
			}
			errs <- err
		}(out[i])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	return out
}

func TestReconcilerFinishesTasksWithoutCallbacks(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	quality := 8.2
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		ctx := context.Background()
		ids := seedSubmitted(t, store, 5, t0, 1)
		creator := &scriptedCreator{
			status: map[string]ports.CreatorStatus{
				ids[0] + "-1": {Phase: ports.PhaseCompleted, Raw: "completed"},
				ids[1] + "-1": {Phase: ports.PhaseFailed, Raw: "failed", Error: domain.TaskError{Message: "quality check failed"}},
				ids[2] + "-1": {Phase: ports.PhaseUnknown, Raw: "exploded"},
				ids[3] + "-1": {Phase: ports.PhaseRunning, Raw: "waiting"},
			},
			result: domain.Result{Content: "# Polled\n\ntext", QualityScore: &quality},
		}
		clock := newSettableClock(t0.Add(grace / 2))
		r := reconcilerFor(store, clock, creator, 100)

		rep, err := r.ReconcileOnce(ctx)
		require.NoError(t, err)
		require.Equal(t, application.ReconcileReport{}, rep, "nothing is polled within the grace period")

		clock.Set(t0.Add(grace + time.Second))
		rep, err = r.ReconcileOnce(ctx)
		require.NoError(t, err)
		require.Equal(t, 5, rep.Checked)
		require.Equal(t, 2, rep.Repaired)
		require.Equal(t, 1, rep.Unknown)

		completed, err := store.GetTask(ctx, ids[0])
		require.NoError(t, err)
		require.Equal(t, domain.StatusCompleted, completed.Status())
		content, err := store.GetContent(ctx, completed.ContentID())
		require.NoError(t, err)
		require.Equal(t, "Polled", content.Title)

		failed, err := store.GetTask(ctx, ids[1])
		require.NoError(t, err)
		require.Equal(t, domain.StatusPending, failed.Status(), "a polled failure retries")
		require.Equal(t, 2, failed.Attempt())

		for _, id := range ids[2:] {
			task, err := store.GetTask(ctx, id)
			require.NoError(t, err)
			require.Equal(t, domain.StatusSubmitted, task.Status(), "running or unknown answers change nothing")
		}
	})
}

func TestReconcilerTimesOutEvenWhenStatusFails(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		ctx := context.Background()
		retrying := seedSubmitted(t, store, 1, t0, 1)[0]
		creator := &scriptedCreator{statusErr: fmt.Errorf("content-creator status: exit status 1")}
		clock := newSettableClock(t0.Add(grace + time.Second))
		r := reconcilerFor(store, clock, creator, 100)

		rep, err := r.ReconcileOnce(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Unknown, "a failing status query is counted, not fatal")

		clock.Set(t0.Add(taskTimeout + time.Second))
		_, err = r.ReconcileOnce(ctx)
		require.NoError(t, err)
		task, err := store.GetTask(ctx, retrying)
		require.NoError(t, err)
		require.Equal(t, domain.StatusPending, task.Status(), "timed out with attempts left: retried")
		require.Equal(t, 2, task.Attempt())
		lastErr, _ := task.LastError()
		require.Equal(t, "TIMEOUT", lastErr.Code)
	})
}

func TestReconcilerRecoversExpiredClaims(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		ctx := context.Background()
		task, err := domain.NewTask(domain.NewTaskParams{ID: "task-claimed", AccountID: 1, Topic: "t"}, t0)
		require.NoError(t, err)
		_, _, err = store.CreateTask(ctx, task, nil)
		require.NoError(t, err)
		claimed, err := store.ClaimDue(ctx, ports.ClaimQuery{Owner: "dead-replica", Now: t0, Lease: time.Minute, Limit: 10}, nil)
		require.NoError(t, err)
		require.Len(t, claimed, 1)
		require.NoError(t, store.UpdateTask(ctx, task.ID(), func(t *domain.Task) (ports.TaskChanges, error) {
			_, err := t.Apply(domain.Event{Kind: domain.EventOpenAttempt, At: t0}, domain.Rules{})
			return ports.TaskChanges{SaveTask: true}, err
		}))

		clock := newSettableClock(t0.Add(30 * time.Second))
		r := reconcilerFor(store, clock, &scriptedCreator{}, 100)
		rep, err := r.ReconcileOnce(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.Recovered, "a live lease is left alone")

		clock.Set(t0.Add(2 * time.Minute))
		rep, err = r.ReconcileOnce(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Recovered)
		got, err := store.GetTask(ctx, task.ID())
		require.NoError(t, err)
		require.Equal(t, domain.StatusSubmitted, got.Status(), "handed to polling")
		a, _ := got.CurrentAttempt()
		require.Equal(t, domain.AttemptUnconfirmed, a.State, "whether the CLI ran is unknown")
	})
}

// countingDriver counts the statements sent to PostgreSQL.
type countingDriver struct {
	base  driver.Driver
	count *atomic.Int64
}

func (d countingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.base.Open(name)
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, count: d.count}, nil
}

type countingConn struct {
	driver.Conn
	count *atomic.Int64
}

func (c countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	c.count.Add(1)
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
}

func (c countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.count.Add(1)
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.count.Add(1)
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

var (
	statements   atomic.Int64
	registerOnce sync.Once
)

// TestReconcilerQueriesDoNotGrowWithRunningTasks counts the statements one
// pass sends to PostgreSQL with 10 and with 1,000 quiet running tasks.
func TestReconcilerQueriesDoNotGrowWithRunningTasks(t *testing.T) {
	registerOnce.Do(func() { sql.Register("counting-postgres", countingDriver{base: &pq.Driver{}, count: &statements}) })
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	perPass := map[int]int64{}
	for _, n := range []int{10, 1000} {
		ctx := context.Background()
		store, err := sqlstore.Open(ctx, sqlstoretest.PostgresURL(t), sqlstore.WithDriverName("counting-postgres"))
		require.NoError(t, err)
		seedSubmitted(t, store, n, t0, 3)
		creator := &scriptedCreator{}
		r := reconcilerFor(store, newSettableClock(t0.Add(grace+time.Second)), creator, 2000)

		before := statements.Load()
		rep, err := r.ReconcileOnce(ctx)
		require.NoError(t, err)
		perPass[n] = statements.Load() - before
		require.Equal(t, n, rep.Checked, "every quiet task was looked at")
		require.EqualValues(t, n, creator.polled.Load(), "every task was polled")
		require.NoError(t, store.Close())
	}
	t.Logf("statements per reconciler pass: %d running tasks → %d, %d running tasks → %d", 10, perPass[10], 1000, perPass[1000])
	require.Equal(t, perPass[10], perPass[1000], "a pass's database work must not grow with the number of running tasks")
	require.LessOrEqual(t, perPass[10], int64(4))
}

// slowCreator takes its time answering, as the published CLI does (seconds of
// start-up per command), moving the clock on while it does.
type slowCreator struct {
	scriptedCreator
	clock   *settableClock
	took    time.Duration
	mu      sync.Mutex
	stopped []string
}

func (c *slowCreator) Status(ctx context.Context, ref string) (ports.CreatorStatus, error) {
	c.clock.Set(c.clock.Now().Add(c.took))
	return c.scriptedCreator.Status(ctx, ref)
}

func (c *slowCreator) Result(ctx context.Context, ref string) (domain.Result, error) {
	c.clock.Set(c.clock.Now().Add(c.took))
	return c.scriptedCreator.Result(ctx, ref)
}

func (c *slowCreator) Cancel(_ context.Context, ref string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = append(c.stopped, ref)
	return nil
}

func (c *slowCreator) stops() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.stopped...)
}

func TestReconcilerStampsEventsWithTheTimeOfTheAnswer(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	store := sqlstoretest.NewSQLite(t)
	ctx := context.Background()
	id := seedSubmitted(t, store, 1, t0, 1)[0]
	pass := t0.Add(grace + time.Second)
	clock := newSettableClock(pass)
	creator := &slowCreator{clock: clock, took: 23 * time.Second, scriptedCreator: scriptedCreator{
		status: map[string]ports.CreatorStatus{id + "-1": {Phase: ports.PhaseCompleted, Raw: "completed"}},
		result: domain.Result{Content: "# 迟到的答案\n\n正文。"},
	}}
	_, err := reconcilerFor(store, clock, creator, 10).ReconcileOnce(ctx)
	require.NoError(t, err)
	task, err := store.GetTask(ctx, id)
	require.NoError(t, err)
	require.Equal(t, domain.StatusCompleted, task.Status())
	require.Equal(t, pass.Add(46*time.Second), task.CompletedAt(), "status and result took 23 s each")
}

func TestReconcilerStopsTimedOutAttempts(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	store := sqlstoretest.NewSQLite(t)
	id := seedSubmitted(t, store, 1, t0, 1)[0]
	clock := newSettableClock(t0.Add(taskTimeout + time.Second))
	creator := &slowCreator{clock: clock}
	_, err := reconcilerFor(store, clock, creator, 10).ReconcileOnce(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(creator.stops()) > 0 }, 5*time.Second, time.Millisecond)
	require.Equal(t, []string{id + "-1"}, creator.stops(), "content-creator is asked to stop the abandoned attempt")
}

// TestUnknownIsNoAnswerWhileTheAttemptMayBeStarting: a CLI child records its
// attempt only after its start-up, so "unknown" right after the attempt was
// opened must not fail it (and start a second generation).
func TestUnknownIsNoAnswerWhileTheAttemptMayBeStarting(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	store := sqlstoretest.NewSQLite(t)
	ctx := context.Background()
	id := seedSubmitted(t, store, 1, t0, 1)[0]
	clock := newSettableClock(t0.Add(grace + time.Second))
	creator := &scriptedCreator{statusErr: fmt.Errorf("status: %w", ports.ErrCreatorUnknownTask)}
	deps := testDeps(store, clock)
	r := application.NewReconciler(deps, creator, application.NewWakeup(), application.ReconcilerConfig{
		Interval: time.Second, Grace: grace, StartupGrace: time.Minute,
	})

	rep, err := r.ReconcileOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Unknown)
	task, err := store.GetTask(ctx, id)
	require.NoError(t, err)
	require.Equal(t, domain.StatusSubmitted, task.Status(), "opened 31 s ago: it may still be starting")

	clock.Set(t0.Add(2 * time.Minute))
	_, err = r.ReconcileOnce(ctx)
	require.NoError(t, err)
	task, err = store.GetTask(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 2, task.Attempt(), "past the start-up grace, unknown means lost: retried")
	e, _ := task.LastError()
	require.Equal(t, "UNKNOWN_TO_CREATOR", e.Code)
}
