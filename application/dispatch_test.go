package application_test

import (
	"context"
	"errors"
	"fmt"
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

// submitCreator answers submissions as scripted per topic and records them.
type submitCreator struct {
	scriptedCreator
	mu       sync.Mutex
	answers  map[string]error         // by topic
	refs     map[string]string        // by topic: the id content-creator reports, if any
	running  map[string]chan struct{} // by topic: a supervised run, ended by closing it
	requests []ports.SubmitRequest
	stopped  []string
}

func (c *submitCreator) Submit(_ context.Context, req ports.SubmitRequest) (ports.SubmitResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, req)
	res := ports.SubmitResult{ExternalRef: c.refs[req.Topic]}
	if ch, ok := c.running[req.Topic]; ok {
		res.Running = ch
	}
	return res, c.answers[req.Topic]
}

func (c *submitCreator) Cancel(_ context.Context, ref string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = append(c.stopped, ref)
	return nil
}

func (c *submitCreator) submitted() []ports.SubmitRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ports.SubmitRequest(nil), c.requests...)
}

func testDeps(store ports.TaskStore, clock ports.Clock) application.Deps {
	return application.Deps{
		Store: store, Claimer: store, Stale: store, Deliveries: store, Reader: store, Clock: clock, IDs: ids.Random{}, Publisher: events.NewLocal(), Metrics: metrics.Discard{}, Log: zap.NewNop(),
		Rules: application.Rules{TaskTimeout: taskTimeout, Backoff: domain.Backoff{Base: time.Minute, Max: time.Hour}},
	}
}

func createTask(t *testing.T, store ports.TaskStore, id, topic string, at time.Time, edit ...func(*domain.NewTaskParams)) {
	t.Helper()
	p := domain.NewTaskParams{ID: id, AccountID: 1, Topic: topic}
	for _, e := range edit {
		e(&p)
	}
	task, err := domain.NewTask(p, at)
	require.NoError(t, err)
	_, _, err = store.CreateTask(context.Background(), task, nil)
	require.NoError(t, err)
}

func TestDispatcherRecordsWhatTheSubmissionSays(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		ctx := context.Background()
		creator := &submitCreator{answers: map[string]error{
			"unknown": fmt.Errorf("content-creator create: timed out after 3s: %w", ports.ErrSubmitOutcomeUnknown),
			"refused": fmt.Errorf("content-creator create: exit status 1; output: ❌ 参数错误: 缺少必需参数: requirements: %w", ports.ErrSubmitRefused),
			"flaky":   errors.New("content-creator create: exit status 1; output: database is locked"),
		}}
		for _, topic := range []string{"ok", "unknown", "refused", "flaky"} {
			createTask(t, store, "task-"+topic, topic, t0)
		}
		d := application.NewDispatcher(testDeps(store, newSettableClock(t0)), creator, application.NewWakeup(),
			application.DispatcherConfig{Owner: "w1", Concurrency: 8, CallbackBaseURL: "http://hub", Callbacks: true, Tokens: true})
		n, err := d.DispatchDue(ctx)
		require.NoError(t, err)
		require.Equal(t, 4, n)
		d.Wait()

		get := func(id string) *domain.Task {
			task, err := store.GetTask(ctx, id)
			require.NoError(t, err)
			return task
		}
		ok := get("task-ok")
		require.Equal(t, domain.StatusSubmitted, ok.Status())

		unknown := get("task-unknown")
		require.Equal(t, domain.StatusSubmitted, unknown.Status(), "an unknown outcome keeps the attempt open")
		require.Equal(t, 1, unknown.Attempt(), "and opens no second attempt")
		a, _ := unknown.CurrentAttempt()
		require.Equal(t, domain.AttemptUnconfirmed, a.State)
		_, hasErr := unknown.LastError()
		require.False(t, hasErr)

		refused := get("task-refused")
		require.Equal(t, domain.StatusFailed, refused.Status(), "a refusal fails at once, attempts left or not")
		require.Equal(t, 1, refused.Attempt())
		e, _ := refused.LastError()
		require.Equal(t, "SUBMIT_REFUSED", e.Code)
		require.Contains(t, e.Message, "缺少必需参数: requirements")

		flaky := get("task-flaky")
		require.Equal(t, domain.StatusPending, flaky.Status(), "a plain failure retries after a backoff")
		require.Equal(t, 2, flaky.Attempt())
		e, _ = flaky.LastError()
		require.Equal(t, "SUBMIT_FAILED", e.Code)

		require.Len(t, creator.submitted(), 4, "one create per attempt")
	})
}

func TestDispatcherHandsOverTheBriefWithDefaults(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	store := sqlstoretest.NewSQLite(t)
	creator := &submitCreator{}
	createTask(t, store, "task-brief", "边缘计算入门", t0, func(p *domain.NewTaskParams) { p.Keywords = []string{"edge", "iot"} })
	d := application.NewDispatcher(testDeps(store, newSettableClock(t0)), creator, application.NewWakeup(),
		application.DispatcherConfig{Owner: "w1", Concurrency: 1, CallbackBaseURL: "http://hub", Callbacks: true, Tokens: true})
	_, err := d.DispatchDue(context.Background())
	require.NoError(t, err)
	d.Wait()

	reqs := creator.submitted()
	require.Len(t, reqs, 1)
	req := reqs[0]
	require.Equal(t, "task-brief", req.TaskID)
	require.Equal(t, 1, req.Attempt)
	require.Equal(t, "task-brief-1", req.ExternalRef)
	require.Equal(t, "围绕「边缘计算入门」写一篇结构清晰、内容准确的文章，自然融入关键词：edge、iot。", req.Requirements)
	require.Equal(t, domain.DefaultTargetAudience, req.TargetAudience)
	require.Regexp(t, `^http://hub/api/v1/content/callback/task-brief\?token=[A-Za-z0-9_-]{43}$`, req.CallbackURL)
}

// TestSupervisedRunsHoldTheirSlot: a run that outlives its submission (a
// CLI child) counts against CREATOR_MAX_CONCURRENCY until it ends, and the
// slot it frees takes the next task at once, not at the next sweep.
func TestSupervisedRunsHoldTheirSlot(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	store := sqlstoretest.NewSQLite(t)
	creator := &submitCreator{running: map[string]chan struct{}{}}
	for i := range 5 {
		topic := fmt.Sprintf("run-%d", i)
		creator.running[topic] = make(chan struct{})
		createTask(t, store, fmt.Sprintf("task-%d", i), topic, t0.Add(time.Duration(i)*time.Second))
	}
	deps := testDeps(store, newSettableClock(t0.Add(time.Minute)))
	wakeup := application.NewWakeup()
	deps.SlotFreed = wakeup.Notify
	d := application.NewDispatcher(deps, creator, wakeup,
		application.DispatcherConfig{Owner: "w1", Concurrency: 2, Sweep: time.Hour, CallbackBaseURL: "http://hub"})
	runs := application.NewRuns(deps, wakeup)
	// end ends run i as the supervisor does: its exit recorded, then the
	// child gone. The attempt holds its slot until the exit is recorded.
	end := func(i int) {
		runs.RunEnded(context.Background(), ports.RunOutcome{TaskID: fmt.Sprintf("task-%d", i), Attempt: 1,
			Source: domain.SourceProcessExit, Phase: ports.PhaseFailed, Permanent: true,
			Error: domain.TaskError{Code: "EXIT_1", Message: "exit status 1"}})
		close(creator.running[fmt.Sprintf("run-%d", i)])
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()

	waitSubmitted := func(n int) {
		t.Helper()
		require.Eventually(t, func() bool { return len(creator.submitted()) >= n }, 10*time.Second, 5*time.Millisecond)
		time.Sleep(50 * time.Millisecond) // room for a wrong extra submission to show
		require.Len(t, creator.submitted(), n)
	}
	waitSubmitted(2)
	require.Eventually(t, func() bool {
		running, err := store.GetTask(context.Background(), "task-0")
		require.NoError(t, err)
		return running.Status() == domain.StatusProcessing && running.Progress().Stage == "running"
	}, 10*time.Second, 5*time.Millisecond, "processing while the supervised run lasts")
	end(0)
	waitSubmitted(3) // the sweep is an hour away: the freed slot woke the dispatcher
	end(1)
	end(2)
	waitSubmitted(5)

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return at shutdown while supervised runs were still going")
	}
}

func TestDispatcherPrefixesTheCreatorSideID(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	store := sqlstoretest.NewSQLite(t)
	creator := &submitCreator{}
	createTask(t, store, "task-p", "边缘计算入门", t0)
	d := application.NewDispatcher(testDeps(store, newSettableClock(t0)), creator, application.NewWakeup(),
		application.DispatcherConfig{Owner: "w1", Concurrency: 1, CallbackBaseURL: "http://hub", RefPrefix: "test-"})
	_, err := d.DispatchDue(context.Background())
	require.NoError(t, err)
	d.Wait()
	require.Equal(t, "test-task-p-1", creator.submitted()[0].ExternalRef)
	task, err := store.GetTask(context.Background(), "task-p")
	require.NoError(t, err)
	require.Equal(t, "test-task-p-1", task.ExternalRef(), "callbacks and polls name the attempt by it")
}

// TestTheIDTheSubmissionReportsIsTheAttempts (issue #19): content-creator
// may take an attempt under an id of its own. The id the submit's answer
// reports is the attempt's external ref from then on — stored with the
// submission — and the reconciler polls with it.
func TestTheIDTheSubmissionReportsIsTheAttempts(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		ctx := context.Background()
		creator := &submitCreator{refs: map[string]string{"own": "cc-own-7"}}
		createTask(t, store, "task-own", "own", t0)
		createTask(t, store, "task-sent", "sent", t0)
		d := application.NewDispatcher(testDeps(store, newSettableClock(t0)), creator, application.NewWakeup(),
			application.DispatcherConfig{Owner: "w1", Concurrency: 2, CallbackBaseURL: "http://hub", Callbacks: true, Tokens: true})
		n, err := d.DispatchDue(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		d.Wait()

		own, err := store.GetTask(ctx, "task-own")
		require.NoError(t, err)
		require.Equal(t, domain.StatusSubmitted, own.Status())
		require.Equal(t, "cc-own-7", own.ExternalRef(), "the reported id, not the one sent (task-own-1)")
		require.True(t, own.KnowsRef("cc-own-7"), "its callbacks naming it are meant for this task")
		sent, err := store.GetTask(ctx, "task-sent")
		require.NoError(t, err)
		require.Equal(t, "task-sent-1", sent.ExternalRef(), "no id reported: the one sent")

		// Not heard from within the grace: the reconciler asks about the
		// reported id, and its answer completes the task.
		polled := &scriptedCreator{
			status: map[string]ports.CreatorStatus{"cc-own-7": {Phase: ports.PhaseCompleted, Raw: "completed"}},
			result: domain.Result{Content: "# 自己的编号\n\n正文。"},
		}
		r := reconcilerFor(store, newSettableClock(t0.Add(2*grace)), polled, 100)
		_, err = r.ReconcileOnce(ctx)
		require.NoError(t, err)
		own, err = store.GetTask(ctx, "task-own")
		require.NoError(t, err)
		require.Equal(t, domain.StatusCompleted, own.Status(), "polled with the reported id")
		sent, err = store.GetTask(ctx, "task-sent")
		require.NoError(t, err)
		require.Equal(t, domain.StatusSubmitted, sent.Status(), "task-sent-1 is still running")
	})
}
