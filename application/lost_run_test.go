package application_test

import (
	"context"
	"sync"
	"testing"
	"time"

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

const stallTimeout = 3 * time.Minute

// stallingCreator reports every run as running with the progress set for
// it, and records what it is asked to cancel.
type stallingCreator struct {
	scriptedCreator
	cancelMu  sync.Mutex
	cancelled []string
}

func (c *stallingCreator) Cancel(_ context.Context, ref string) error {
	c.cancelMu.Lock()
	defer c.cancelMu.Unlock()
	c.cancelled = append(c.cancelled, ref)
	return nil
}

func (c *stallingCreator) cancels() []string {
	c.cancelMu.Lock()
	defer c.cancelMu.Unlock()
	return append([]string(nil), c.cancelled...)
}

func (c *stallingCreator) report(ref string, st ports.CreatorStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status == nil {
		c.status = map[string]ports.CreatorStatus{}
	}
	c.status[ref] = st
}

// liveSet is the LiveRuns of a process supervising the refs in it.
type liveSet map[string]bool

func (l liveSet) Live(ref string) bool { return l[ref] }

func lostRunReconciler(store ports.TaskStore, clock ports.Clock, creator ports.ContentCreator, live ports.LiveRuns) *application.Reconciler {
	deps := application.Deps{
		Store: store, Stale: store, Clock: clock, IDs: ids.Random{}, Publisher: events.NewLocal(), Metrics: metrics.Discard{}, Log: zap.NewNop(),
		Rules: application.Rules{TaskTimeout: taskTimeout, Backoff: domain.Backoff{Base: time.Second, Max: time.Minute}},
	}
	return application.NewReconciler(deps, creator, application.NewWakeup(), application.ReconcilerConfig{
		Interval: time.Second, Grace: grace, Concurrency: 4, StallTimeout: stallTimeout, Live: live,
	})
}

func runningAt(pct float64, stage string, updated time.Time) ports.CreatorStatus {
	return ports.CreatorStatus{Phase: ports.PhaseRunning, Raw: "running",
		Progress: &domain.ProgressReport{Percentage: pct, Stage: stage}, UpdatedAt: updated}
}

// TestReconcilerFindsLostRuns: a run reported as running whose progress and
// update time stay the same for CREATOR_STALL_TIMEOUT, with no live run of
// this process, is lost (§14): its attempt fails with CREATOR_LOST, the
// retry rules apply, and content-creator is asked to cancel it. A run whose
// reported progress or update time moves, and a run this process holds
// live, are not.
func TestReconcilerFindsLostRuns(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		ctx := context.Background()
		ids := seedSubmitted(t, store, 4, t0, 1)
		stuck, advancing, touched, live := ids[0], ids[1], ids[2], ids[3]
		creator := &stallingCreator{}
		frozen := t0.Add(10 * time.Second)
		creator.report(stuck+"-1", runningAt(40, "drafting", frozen))
		creator.report(advancing+"-1", runningAt(40, "drafting", frozen))
		creator.report(touched+"-1", runningAt(40, "drafting", frozen))
		creator.report(live+"-1", runningAt(40, "drafting", frozen))
		clock := newSettableClock(t0.Add(grace + time.Second))
		r := lostRunReconciler(store, clock, creator, liveSet{live + "-1": true})

		pass := func(at time.Time) {
			t.Helper()
			clock.Set(at)
			_, err := r.ReconcileOnce(ctx)
			require.NoError(t, err)
		}
		status := func(id string) *domain.Task {
			t.Helper()
			task, err := store.GetTask(ctx, id)
			require.NoError(t, err)
			return task
		}

		first := t0.Add(grace + time.Second)
		pass(first)
		for _, id := range ids {
			require.Equal(t, domain.StatusSubmitted, status(id).Status(), "%s: a first look starts the stall clock", id)
		}

		// Halfway: the advancing run reports a new percentage, the touched
		// one only a new update time.
		creator.report(advancing+"-1", runningAt(55, "drafting", frozen))
		creator.report(touched+"-1", runningAt(40, "drafting", frozen.Add(time.Minute)))
		pass(first.Add(stallTimeout / 2))

		pass(first.Add(stallTimeout))
		lost := status(stuck)
		require.Equal(t, domain.StatusPending, lost.Status(), "lost with an attempt left: retried")
		require.Equal(t, 2, lost.Attempt())
		e, ok := lost.LastError()
		require.True(t, ok)
		require.Equal(t, domain.CodeCreatorLost, e.Code)
		require.Equal(t, domain.AttemptFailed, lost.Attempts()[0].State)
		require.Eventually(t, func() bool {
			return len(creator.cancels()) == 1 && creator.cancels()[0] == stuck+"-1"
		}, 10*time.Second, 10*time.Millisecond, "content-creator is asked to cancel the lost run")

		for _, id := range []string{advancing, touched, live} {
			require.Equal(t, domain.StatusSubmitted, status(id).Status(), "%s is not lost yet", id)
		}

		// Past the stall timeout since their last advance: the advancing and
		// touched runs are lost too; the live one never is.
		pass(first.Add(stallTimeout/2 + stallTimeout))
		for _, id := range []string{advancing, touched} {
			task := status(id)
			require.Equal(t, 2, task.Attempt(), id)
			e, _ := task.LastError()
			require.Equal(t, domain.CodeCreatorLost, e.Code, id)
		}
		require.Equal(t, domain.StatusSubmitted, status(live).Status(), "a run this process holds live is never lost")
		require.Equal(t, 1, status(live).Attempt())
	})
}

// TestReconcilerLostRunCountsCallbacks: a progress callback is an advance
// too, however still the status answers stand.
func TestReconcilerLostRunCountsCallbacks(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		ctx := context.Background()
		id := seedSubmitted(t, store, 1, t0, 0)[0]
		creator := &stallingCreator{}
		creator.report(id+"-1", runningAt(10, "outline", time.Time{}))
		first := t0.Add(grace + time.Second)
		clock := newSettableClock(first)
		r := lostRunReconciler(store, clock, creator, nil)

		_, err := r.ReconcileOnce(ctx)
		require.NoError(t, err)
		// A callback reports progress just before the stall would be complete.
		cb := first.Add(stallTimeout - time.Second)
		require.NoError(t, store.UpdateTask(ctx, id, func(t *domain.Task) (ports.TaskChanges, error) {
			_, err := t.Apply(domain.Event{Kind: domain.EventProgress, Source: domain.SourceWebhook, Attempt: 1, At: cb,
				Progress: domain.ProgressReport{Percentage: 30, Stage: "drafting"}}, domain.Rules{TaskTimeout: taskTimeout})
			return ports.TaskChanges{SaveTask: true}, err
		}))

		clock.Set(cb.Add(grace + time.Second)) // silent again, polled, stalled by status alone
		_, err = r.ReconcileOnce(ctx)
		require.NoError(t, err)
		task, err := store.GetTask(ctx, id)
		require.NoError(t, err)
		require.Equal(t, domain.StatusProcessing, task.Status(), "the callback was an advance")

		clock.Set(cb.Add(stallTimeout))
		_, err = r.ReconcileOnce(ctx)
		require.NoError(t, err)
		task, err = store.GetTask(ctx, id)
		require.NoError(t, err)
		require.Equal(t, domain.StatusFailed, task.Status(), "lost on its last attempt: failed")
		e, _ := task.LastError()
		require.Equal(t, domain.CodeCreatorLost, e.Code)
	})
}
