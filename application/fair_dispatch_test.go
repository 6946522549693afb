package application_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

// queueCreator accepts every submission (the attempt stays open until the
// test ends it) and records them in order.
type queueCreator struct {
	scriptedCreator
	mu    sync.Mutex
	order []string // task ids, in submission order
}

func (c *queueCreator) Submit(_ context.Context, req ports.SubmitRequest) (ports.SubmitResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order = append(c.order, req.TaskID)
	return ports.SubmitResult{}, nil
}

func (c *queueCreator) submissions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.order...)
}

// fairRig is a running dispatcher over a real store, whose attempts end
// only when the test says so (through Runs, as a supervised exit would).
type fairRig struct {
	t       *testing.T
	store   *sqlstore.Store
	creator *queueCreator
	runs    *application.Runs
	account map[string]int64 // by task id
}

func startFairRig(t *testing.T, store *sqlstore.Store, concurrency int, clock ports.Clock) *fairRig {
	t.Helper()
	deps := testDeps(store, clock)
	wakeup := application.NewWakeup()
	deps.SlotFreed = wakeup.Notify
	creator := &queueCreator{}
	// The sweep is an hour away: only inserts and ended attempts wake it.
	d := application.NewDispatcher(deps, creator, wakeup, application.DispatcherConfig{
		Owner: "w1", Concurrency: concurrency, Sweep: time.Hour, CallbackBaseURL: "http://hub"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &fairRig{t: t, store: store, creator: creator, runs: application.NewRuns(deps, wakeup), account: map[string]int64{}}
}

func (r *fairRig) create(id string, account int64, at time.Time) {
	r.t.Helper()
	createTask(r.t, r.store, id, "topic "+id, at, func(p *domain.NewTaskParams) { p.AccountID = account })
	r.account[id] = account
}

// waitFor waits until n submissions happened, and requires that no more do.
func (r *fairRig) waitFor(n int) []string {
	r.t.Helper()
	require.Eventually(r.t, func() bool { return len(r.creator.submissions()) >= n }, 10*time.Second, 2*time.Millisecond,
		"waiting for submission %d", n)
	time.Sleep(20 * time.Millisecond) // room for a wrong extra submission to show
	got := r.creator.submissions()
	require.Len(r.t, got, n)
	return got
}

// end ends a running attempt as content-creator's answer would: its slot is freed.
func (r *fairRig) end(id string) {
	r.runs.RunEnded(context.Background(), ports.RunOutcome{TaskID: id, Attempt: 1, Source: domain.SourceProcessExit,
		Phase: ports.PhaseCompleted, Result: domain.Result{Content: "# Done\n\nThe article."}})
}

// TestDispatcherSharesSlotsAcrossAccounts: with CREATOR_MAX_CONCURRENCY=2
// and 40 due tasks of account 1, account 2's single task, created after
// them, is among the next two submissions.
func TestDispatcherSharesSlotsAcrossAccounts(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		r := &fairRig{t: t, store: store, account: map[string]int64{}}
		for i := range 40 {
			r.create(fmt.Sprintf("task-bulk-%02d", i), 1, t0.Add(time.Duration(i)*time.Second))
		}
		started := startFairRig(t, store, 2, newSettableClock(t0.Add(time.Hour)))
		started.account = r.account
		r = started
		first := r.waitFor(2)
		require.ElementsMatch(t, []string{"task-bulk-00", "task-bulk-01"}, first, "account 1 holds both slots")
		r.create("task-urgent", 2, t0.Add(time.Minute))
		r.end(first[0])
		require.Equal(t, "task-urgent", r.waitFor(3)[2], "account 2's task takes the first slot that frees")
		r.end(first[1])
		require.Regexp(t, "^task-bulk-", r.waitFor(4)[3])
		require.LessOrEqual(t, running(t, store), 2, "no more attempts running than CREATOR_MAX_CONCURRENCY")
	})
}

// TestDispatcherSharesByWeight: three slots, accounts of weight 1 and 2,
// attempts ending in the order they started: over 60 submissions each
// account's count stays within one of its weighted share.
func TestDispatcherSharesByWeight(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		now := t0.Add(time.Hour)
		weight2, err := domain.NewAccountLimits(0, 0, 2)
		require.NoError(t, err)
		require.NoError(t, store.PutAccountLimits(context.Background(), 2, weight2, now))
		// Both backlogs exist before the dispatcher first looks.
		r := &fairRig{t: t, store: store, account: map[string]int64{}}
		for i := range 60 {
			r.create(fmt.Sprintf("task-a-%02d", i), 1, t0)
			r.create(fmt.Sprintf("task-b-%02d", i), 2, t0)
		}
		started := startFairRig(t, store, 3, newSettableClock(now))
		started.account = r.account
		r = started
		const slots = 3
		got := r.waitFor(slots)
		for n := slots; n < 60; n++ {
			r.end(got[n-slots]) // the oldest running attempt ends
			got = r.waitFor(n + 1)
		}
		count := map[int64]int{}
		for n, id := range got {
			count[r.account[id]]++
			require.InDelta(t, float64(n+1)/3, count[1], 1, "after %d submissions: %v", n+1, count)
			require.InDelta(t, 2*float64(n+1)/3, count[2], 1, "after %d submissions: %v", n+1, count)
		}
	})
}

// TestTwoReplicasNeverExceedAnAccountsConcurrency: two worker replicas
// (each its own store and connection pool) on one PostgreSQL database,
// accounts limited to two running attempts each: content-creator never
// runs more than two of an account at once, nor more than
// CREATOR_MAX_CONCURRENCY in all.
func TestTwoReplicasNeverExceedAnAccountsConcurrency(t *testing.T) {
	url := sqlstoretest.PostgresURL(t)
	ctx := context.Background()
	t0 := time.Now().UTC()
	const (
		accounts    = 3
		perAccount  = 20
		maxPerAcct  = 2
		concurrency = 5
	)
	gen := &liveCreator{running: map[int64]int{}, peak: map[int64]int{}}
	var stores []*sqlstore.Store
	for range 2 {
		s, err := sqlstore.Open(ctx, url)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		stores = append(stores, s)
	}
	limit, err := domain.NewAccountLimits(maxPerAcct, 0, 1)
	require.NoError(t, err)
	for a := int64(1); a <= accounts; a++ {
		require.NoError(t, stores[0].PutAccountLimits(ctx, a, limit, t0))
		for i := range perAccount {
			createTask(t, stores[0], fmt.Sprintf("task-%d-%02d", a, i), fmt.Sprintf("acct %d", a), t0,
				func(p *domain.NewTaskParams) { p.AccountID = a })
		}
	}
	for i, s := range stores {
		deps := testDeps(s, systemClock{})
		wakeup := application.NewWakeup()
		deps.SlotFreed = wakeup.Notify
		runs := application.NewRuns(deps, wakeup)
		d := application.NewDispatcher(deps, &replicaCreator{liveCreator: gen, runs: runs}, wakeup, application.DispatcherConfig{
			Owner: fmt.Sprintf("replica-%d", i), Concurrency: concurrency, Sweep: 5 * time.Millisecond, CallbackBaseURL: "http://hub"})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { d.Run(runCtx); close(done) }()
		t.Cleanup(func() { cancel(); <-done; gen.wg.Wait() })
	}
	require.Eventually(t, func() bool {
		page, err := stores[1].ListTasks(ctx, ports.TaskQuery{Status: domain.StatusCompleted, Limit: 200})
		require.NoError(t, err)
		return len(page.Items) == accounts*perAccount
	}, 60*time.Second, 20*time.Millisecond)
	gen.mu.Lock()
	defer gen.mu.Unlock()
	for a := int64(1); a <= accounts; a++ {
		require.LessOrEqual(t, gen.peak[a], maxPerAcct, "account %d ran %d at once", a, gen.peak[a])
	}
	require.LessOrEqual(t, gen.peakTotal, concurrency)
	require.Greater(t, gen.peakTotal, maxPerAcct, "accounts ran side by side")
	require.Equal(t, accounts*perAccount, gen.submitted)
}

// liveCreator is content-creator for several replicas: it counts what runs
// at once, per account (the topic names it) and in all.
type liveCreator struct {
	scriptedCreator
	mu        sync.Mutex
	running   map[int64]int
	peak      map[int64]int
	total     int
	peakTotal int
	submitted int
	wg        sync.WaitGroup
}

// replicaCreator is one replica's view of liveCreator: the job's end is
// reported to that replica's Runs, after content-creator stopped counting it.
type replicaCreator struct {
	*liveCreator
	runs *application.Runs
}

func (c *replicaCreator) Submit(_ context.Context, req ports.SubmitRequest) (ports.SubmitResult, error) {
	var account int64
	if _, err := fmt.Sscanf(req.Topic, "acct %d", &account); err != nil {
		return ports.SubmitResult{}, err
	}
	c.mu.Lock()
	c.submitted++
	c.running[account]++
	c.total++
	c.peak[account] = max(c.peak[account], c.running[account])
	c.peakTotal = max(c.peakTotal, c.total)
	c.mu.Unlock()
	c.wg.Go(func() {
		time.Sleep(time.Duration(rand.IntN(4000)) * time.Microsecond) // generation
		c.mu.Lock()
		c.running[account]--
		c.total--
		c.mu.Unlock()
		c.runs.RunEnded(context.Background(), ports.RunOutcome{TaskID: req.TaskID, Attempt: req.Attempt,
			Source: domain.SourceCreatorAnswer, Phase: ports.PhaseCompleted, Result: domain.Result{Content: "# Done\n\nBody."}})
	})
	return ports.SubmitResult{}, nil
}

// running counts the attempts open and not ended, as the store sees them.
func running(t *testing.T, store *sqlstore.Store) int {
	t.Helper()
	loads, err := store.AccountLoads(context.Background(), ports.LoadQuery{Now: time.Now()})
	require.NoError(t, err)
	return loads.Running
}
