package creatorbreaker_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/creatorbreaker"
	"contenthub/adapters/creatorexec"
	"contenthub/adapters/creatortest"
	"contenthub/domain"
	"contenthub/ports"
)

// fakeCreator answers each Submit and Probe with the next queued error.
type fakeCreator struct {
	mu      sync.Mutex
	submits []error
	probes  []error
	sent    int
	probed  int
}

func (f *fakeCreator) Submit(_ context.Context, req ports.SubmitRequest) (ports.SubmitResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent++
	err := f.submits[0]
	f.submits = f.submits[1:]
	if err != nil {
		return ports.SubmitResult{}, err
	}
	return ports.SubmitResult{ExternalRef: req.ExternalRef}, nil
}

func (f *fakeCreator) Probe(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probed++
	err := f.probes[0]
	f.probes = f.probes[1:]
	return err
}

func (f *fakeCreator) counts() (sent, probed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent, f.probed
}

func (f *fakeCreator) Status(context.Context, string) (ports.CreatorStatus, error) {
	return ports.CreatorStatus{Phase: ports.PhaseRunning}, nil
}
func (f *fakeCreator) Result(context.Context, string) (domain.Result, error) {
	return domain.Result{}, nil
}
func (f *fakeCreator) Cancel(context.Context, string) error { return nil }

// fakeClock's time moves when the test says; its timers fire when the test
// fires them.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers chan chan time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 6, 19, 0, 0, 0, time.UTC), timers: make(chan chan time.Time)}
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func (c *fakeClock) After(time.Duration) <-chan time.Time {
	fire := make(chan time.Time, 1)
	c.timers <- fire
	return fire
}

// tick fires the probe loop's timer and waits until the loop has acted on
// it (it asks for the next timer).
func (c *fakeClock) tick(t *testing.T, pending chan time.Time) chan time.Time {
	t.Helper()
	pending <- c.Now()
	select {
	case next := <-c.timers:
		return next
	case <-time.After(10 * time.Second):
		t.Fatal("the probe loop did not come back")
		return nil
	}
}

var (
	errRefused   = fmt.Errorf("create: %w: 400", domain.ErrSubmitRefused)
	errUnknown   = fmt.Errorf("create: %w", domain.ErrSubmitOutcomeUnknown)
	errDown      = errors.New("dial tcp 127.0.0.1:3000: connect: connection refused")
	errProbeDown = errors.New("probe: connection refused")
)

func submit(t *testing.T, b *creatorbreaker.Breaker) error {
	t.Helper()
	_, err := b.Submit(t.Context(), creatortest.Request("task-a-1"))
	return err
}

func TestPlainFailuresInARowOpenIt(t *testing.T) {
	inner := &fakeCreator{submits: []error{errDown, errDown, errRefused, errDown, errUnknown, errDown, errDown, nil, errDown, errDown, errDown}}
	clk := newClock()
	b, err := creatorbreaker.New(inner, creatorbreaker.Config{Failures: 3}, clk)
	require.NoError(t, err)
	require.Equal(t, ports.CreatorHealth{Status: ports.CreatorHealthUnknown}, b.Health(), "nothing known yet")

	// Two failures, then a refusal: it was reached, the row starts over.
	require.ErrorIs(t, submit(t, b), errDown)
	require.ErrorIs(t, submit(t, b), errDown)
	require.Equal(t, ports.CreatorHealthUnknown, b.Health().Status)
	clk.advance(time.Second)
	require.ErrorIs(t, submit(t, b), domain.ErrSubmitRefused)
	require.Equal(t, ports.CreatorHealth{Status: ports.CreatorUp, Since: clk.Now(), LastError: errDown.Error()}, b.Health())
	upSince := clk.Now()
	// A failure, an errUnknown (it breaks the row), two failures: not three in
	// a row, still up; then an acceptance.
	for range 4 {
		_ = submit(t, b)
	}
	require.Equal(t, ports.CreatorUp, b.Health().Status)
	require.NoError(t, submit(t, b))
	require.Equal(t, ports.CreatorUp, b.Health().Status)
	require.Equal(t, upSince, b.Health().Since, "still up since then")

	// Three in a row: open.
	clk.advance(time.Second)
	for range 3 {
		require.ErrorIs(t, submit(t, b), errDown)
	}
	require.Equal(t, ports.CreatorHealth{Status: ports.CreatorDown, Since: clk.Now(), LastError: errDown.Error()}, b.Health())

	// While open nothing is sent, and the answer says so.
	sent, _ := inner.counts()
	err = submit(t, b)
	require.ErrorIs(t, err, domain.ErrCreatorUnavailable)
	require.Equal(t, domain.SubmissionNotSent, domain.SubmitOutcomeOf(err))
	after, _ := inner.counts()
	require.Equal(t, sent, after, "the inner creator was not called")
}

func TestACallerGivingUpIsNoFailureToReachIt(t *testing.T) {
	inner := &fakeCreator{submits: []error{context.Canceled, context.Canceled, context.Canceled}}
	b, err := creatorbreaker.New(inner, creatorbreaker.Config{Failures: 2}, newClock())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for range 3 {
		_, err := b.Submit(ctx, creatortest.Request("task-a-1"))
		require.ErrorIs(t, err, context.Canceled)
	}
	require.Equal(t, ports.CreatorHealthUnknown, b.Health().Status)
}

func TestProbesCloseItOnTheFirstSuccess(t *testing.T) {
	inner := &fakeCreator{submits: []error{errDown, errDown, nil}, probes: []error{errProbeDown, nil}}
	clk := newClock()
	var closed atomic.Int32
	b, err := creatorbreaker.New(inner, creatorbreaker.Config{Failures: 2, ProbeInterval: 5 * time.Second,
		Closed: func() { closed.Add(1) }}, clk)
	require.NoError(t, err)
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })

	timer := <-clk.timers
	timer = clk.tick(t, timer)
	_, probed := inner.counts()
	require.Zero(t, probed, "no probe while closed")

	require.ErrorIs(t, submit(t, b), errDown)
	require.ErrorIs(t, submit(t, b), errDown)
	require.Equal(t, ports.CreatorDown, b.Health().Status)
	downSince := b.Health().Since

	clk.advance(5 * time.Second)
	timer = clk.tick(t, timer)
	require.Equal(t, ports.CreatorHealth{Status: ports.CreatorDown, Since: downSince, LastError: errProbeDown.Error()}, b.Health(),
		"a failed probe keeps it open")
	require.ErrorIs(t, submit(t, b), domain.ErrCreatorUnavailable)
	require.Zero(t, closed.Load(), "still open")

	clk.advance(5 * time.Second)
	clk.tick(t, timer)
	require.Equal(t, ports.CreatorUp, b.Health().Status)
	require.Equal(t, int32(1), closed.Load(), "closing is announced once")
	require.Equal(t, clk.Now(), b.Health().Since)
	require.NoError(t, submit(t, b), "dispatch resumes")
	sent, probed := inner.counts()
	require.Equal(t, 3, sent)
	require.Equal(t, 2, probed)
}

// TestTheBreakerKeepsTheContract: wrapped around the contract runner with the
// bundled simulator, the breaker changes none of the adapter's answers.
func TestTheBreakerKeepsTheContract(t *testing.T) {
	sim := filepath.Join(t.TempDir(), "content-creator-sim")
	out, err := exec.Command("go", "build", "-o", sim, "contenthub/cmd/content-creator-sim").CombinedOutput()
	require.NoError(t, err, "go build the simulator: %s", out)
	creatortest.Exercise(t, func(t *testing.T, s creatortest.Scenario) creatortest.Harness {
		cfg := creatorexec.Config{Command: sim, Env: []string{
			"CONTENT_CREATOR_SIM_STATE_DIR=" + t.TempDir(), "SIM_DELAY=200ms", "SIM_PROGRESS_STEPS=0", "SIM_NO_CALLBACK=1",
		}}
		switch s {
		case creatortest.Fails:
			cfg.Env = append(cfg.Env, "SIM_FAIL=1")
		case creatortest.Hangs:
			cfg.Env = append(cfg.Env, "SIM_DELAY=10m")
		case creatortest.Refuses:
			cfg.Command = `/bin/sh -c 'exec "$0" "$@" --mode sync' ` + sim
		case creatortest.Unknown:
			cfg.Command = `/bin/sh -c 'sleep 30; exec "$0" "$@"' ` + sim
			cfg.SubmitTimeout = 300 * time.Millisecond
		case creatortest.Unreachable:
			cfg.Command = filepath.Join(t.TempDir(), "missing-content-creator")
		}
		r, err := creatorexec.New(cfg)
		require.NoError(t, err)
		b, err := creatorbreaker.New(r, creatorbreaker.Config{}, newClock())
		require.NoError(t, err)
		return creatortest.Harness{Creator: b, CancelRecorded: true}
	})
}

// TestTheRunnerProbe: the contract runner's probe is a help run.
func TestTheRunnerProbe(t *testing.T) {
	sim := filepath.Join(t.TempDir(), "content-creator-sim")
	out, err := exec.Command("go", "build", "-o", sim, "contenthub/cmd/content-creator-sim").CombinedOutput()
	require.NoError(t, err, "go build the simulator: %s", out)
	r, err := creatorexec.New(creatorexec.Config{Command: sim})
	require.NoError(t, err)
	require.NoError(t, r.Probe(t.Context()))
	missing, err := creatorexec.New(creatorexec.Config{Command: filepath.Join(t.TempDir(), "missing")})
	require.NoError(t, err)
	require.ErrorIs(t, missing.Probe(t.Context()), creatorexec.ErrNotStarted)
}

// liveCreator supervises the runs in live itself.
type liveCreator struct {
	fakeCreator
	live map[string]bool
}

func (l *liveCreator) Live(ref string) bool { return l.live[ref] }

// TestLiveRunsPassThrough: the reconciler asks the breaker which runs this
// process holds live (§14); it answers for the profile inside it, and a
// creator that supervises nothing holds none.
func TestLiveRunsPassThrough(t *testing.T) {
	b, err := creatorbreaker.New(&liveCreator{live: map[string]bool{"task-a-1": true}}, creatorbreaker.Config{}, newClock())
	require.NoError(t, err)
	require.True(t, b.Live("task-a-1"))
	require.False(t, b.Live("task-b-1"))

	b, err = creatorbreaker.New(&fakeCreator{}, creatorbreaker.Config{}, newClock())
	require.NoError(t, err)
	require.False(t, b.Live("task-a-1"))
}
