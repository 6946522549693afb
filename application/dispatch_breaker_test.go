package application_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/creatorbreaker"
	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

// outageCreator cannot be reached while down: submissions and probes fail
// plainly (nothing listening). Up, it accepts every submission.
type outageCreator struct {
	scriptedCreator
	mu       sync.Mutex
	down     bool
	requests []ports.SubmitRequest
}

var errNothingListening = errors.New("dial tcp 127.0.0.1:3000: connect: connection refused")

func (c *outageCreator) Submit(_ context.Context, req ports.SubmitRequest) (ports.SubmitResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, req)
	if c.down {
		return ports.SubmitResult{}, fmt.Errorf("content-creator create: %w", errNothingListening)
	}
	return ports.SubmitResult{}, nil
}

func (c *outageCreator) Probe(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return errNothingListening
	}
	return nil
}

func (c *outageCreator) setDown(down bool) { c.mu.Lock(); c.down = down; c.mu.Unlock() }

func (c *outageCreator) submitted() []ports.SubmitRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ports.SubmitRequest(nil), c.requests...)
}

// TestAnOutageSpendsNoRetry (§14): three plain submit failures open the
// breaker; due tasks then wait, pending, with no attempt opened and no retry
// spent, and content-creator is not called; the first successful probe
// wakes the dispatcher and every waiting task goes on its first attempt.
func TestAnOutageSpendsNoRetry(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		ctx := context.Background()
		clk := newSettableClock(t0)
		inner := &outageCreator{down: true}
		wakeup := application.NewWakeup()
		breaker, err := creatorbreaker.New(inner, creatorbreaker.Config{Failures: 3, Closed: wakeup.Notify}, clk)
		require.NoError(t, err)
		deps := testDeps(store, clk)
		d := application.NewDispatcher(deps, breaker, wakeup, application.DispatcherConfig{
			Owner: "w1", Concurrency: 16, CallbackBaseURL: "http://hub", CreatorHealth: breaker})
		// Three due tasks find it down, at once, and open it (those
		// attempts did fail: they are spent).
		var openers []string
		for i := range 3 {
			openers = append(openers, fmt.Sprintf("task-opener-%d", i))
			createTask(t, store, openers[i], fmt.Sprintf("打开断路器 %d", i), t0)
		}
		require.False(t, d.CreatorUnavailable(), "unknown is no outage")
		_, err = d.DispatchDue(ctx)
		require.NoError(t, err)
		d.Wait()
		require.Len(t, inner.submitted(), 3)
		require.Equal(t, ports.CreatorDown, breaker.Health().Status)
		require.True(t, d.CreatorUnavailable())
		for _, id := range openers {
			task, err := store.GetTask(ctx, id)
			require.NoError(t, err)
			require.Equal(t, domain.StatusPending, task.Status(), id)
			require.Equal(t, 2, task.Attempt(), "%s: the failure that opened it was spent", id)
		}

		// Tasks created during the outage wait: no attempt opened, no retry spent.
		const waiting = 10
		ids := make([]string, waiting)
		for i := range ids {
			ids[i] = fmt.Sprintf("task-%02d", i)
			createTask(t, store, ids[i], fmt.Sprintf("边缘计算入门 第%d篇", i+1), t0)
		}
		n, err := d.DispatchDue(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		d.Wait()
		require.Len(t, inner.submitted(), 3, "content-creator is not called while it is open")
		for _, id := range ids {
			task, err := store.GetTask(ctx, id)
			require.NoError(t, err)
			require.Equal(t, domain.StatusPending, task.Status(), id)
			require.Equal(t, 1, task.Attempt(), id)
			require.False(t, task.AttemptOpen(), id)
			require.Empty(t, task.Attempts(), "%s: no attempt opened while it waits", id)
			_, failed := task.LastError()
			require.False(t, failed, id)
		}

		// Down, a sweep claims nothing, however long the outage lasts.
		clk.Set(t0.Add(30 * time.Second))
		n, err = d.DispatchDue(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		require.Len(t, inner.submitted(), 3)

		select { // forget any earlier wake-up: the next must come from the closing
		case <-wakeup.C():
		default:
		}
		require.Error(t, breaker.Probe(ctx), "still down")
		require.True(t, d.CreatorUnavailable())
		inner.setDown(false)
		require.NoError(t, breaker.Probe(ctx))
		select {
		case <-wakeup.C():
		default:
			t.Fatal("the breaker closing did not wake the dispatcher")
		}
		require.False(t, d.CreatorUnavailable())

		_, err = d.DispatchDue(ctx)
		require.NoError(t, err)
		d.Wait()
		require.Equal(t, waiting, len(inner.submitted())-3, "every waiting task went once (the failed ones are in their backoff)")
		runs := application.NewRuns(deps, wakeup)
		for _, req := range inner.submitted()[3:] {
			require.Equal(t, 1, req.Attempt, "%s: on its first attempt", req.TaskID)
			runs.RunEnded(ctx, ports.RunOutcome{TaskID: req.TaskID, Attempt: req.Attempt, ExternalRef: req.ExternalRef,
				Source: domain.SourceProcessExit, Phase: ports.PhaseCompleted, At: clk.Now(),
				Result: domain.Result{Content: "# 边缘计算入门\n\n边缘计算把计算放到离数据更近的地方。"}})
		}
		for _, id := range ids {
			got, err := store.GetTask(ctx, id)
			require.NoError(t, err)
			require.Equal(t, domain.StatusCompleted, got.Status(), id)
			require.Equal(t, 1, got.Attempt(), id)
			require.Len(t, got.Attempts(), 1, id)
		}
	})
}

// TestANotSentAnswerGivesTheAttemptBack: a Submit answered
// ErrCreatorUnavailable (the breaker opened between the claim and the call)
// withdraws the attempt: the task is pending on the same attempt, due again,
// with no error and no retry spent; the next claim sends that attempt.
func TestANotSentAnswerGivesTheAttemptBack(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		ctx := context.Background()
		creator := &submitCreator{answers: map[string]error{
			"边缘计算入门": fmt.Errorf("content-creator create: not sent: %w", domain.ErrCreatorUnavailable),
		}}
		createTask(t, store, "task-w", "边缘计算入门", t0)
		d := application.NewDispatcher(testDeps(store, newSettableClock(t0)), creator, application.NewWakeup(),
			application.DispatcherConfig{Owner: "w1", Concurrency: 1, CallbackBaseURL: "http://hub"})
		n, err := d.DispatchDue(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		d.Wait()

		task, err := store.GetTask(ctx, "task-w")
		require.NoError(t, err)
		require.Equal(t, domain.StatusPending, task.Status())
		require.Equal(t, 1, task.Attempt())
		require.False(t, task.AttemptOpen())
		require.Empty(t, task.LeaseOwner(), "due again at once, not after its lease")
		require.Equal(t, t0, task.NextAttemptAt())
		_, failed := task.LastError()
		require.False(t, failed)
		a, _ := task.CurrentAttempt()
		require.Equal(t, domain.AttemptWithdrawn, a.State)

		creator.mu.Lock()
		creator.answers = nil
		creator.mu.Unlock()
		n, err = d.DispatchDue(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		d.Wait()
		task, err = store.GetTask(ctx, "task-w")
		require.NoError(t, err)
		require.Equal(t, domain.StatusSubmitted, task.Status())
		require.Equal(t, 1, task.Attempt())
		require.Len(t, task.Attempts(), 1)
		reqs := creator.submitted()
		require.Len(t, reqs, 2)
		require.Equal(t, reqs[0].ExternalRef, reqs[1].ExternalRef, "the same attempt, sent now")
	})
}
