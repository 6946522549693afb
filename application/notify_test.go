package application_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"contenthub/adapters/ids"
	"contenthub/adapters/metrics"
	"contenthub/adapters/notify"
	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

// hook is a loopback receiver that verifies every message with the
// standard-webhooks library and answers as answer says.
type hook struct {
	srv    *httptest.Server
	secret string
	answer func(n int, w http.ResponseWriter, r *http.Request) // n: 1-based request number

	mu       sync.Mutex
	ids      []string // webhook-id of each request, in order
	verified int
	got      chan string
}

func newHook(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *hook {
	t.Helper()
	h := &hook{answer: answer, got: make(chan string, 1000)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.ids = append(h.ids, r.Header.Get("webhook-id"))
		n := len(h.ids)
		wh, err := standardwebhooks.NewWebhook(h.secret)
		if err == nil && wh.Verify(body, r.Header) == nil {
			h.verified++
		}
		h.mu.Unlock()
		h.got <- r.Header.Get("webhook-id")
		if h.answer != nil {
			h.answer(n, w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) seen() (ids []string, verified int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ids...), h.verified
}

type notifyFixture struct {
	t        *testing.T
	store    *sqlstore.Store
	clock    *settableClock
	webhooks *application.Webhooks
	notifier *application.Notifier
	tasks    int
}

func newNotifyFixture(t *testing.T, store *sqlstore.Store, perEndpoint int) *notifyFixture {
	t.Helper()
	clock := newSettableClock(time.Now().UTC().Truncate(time.Second))
	box, err := notify.NewSecretBox("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	require.NoError(t, err)
	sender := notify.NewSender(notify.SenderConfig{Timeout: 5 * time.Second, Guard: &notify.Guard{AllowPrivate: true}, Secrets: box})
	t.Cleanup(sender.Close)
	n := application.NewNotifier(store, sender, nil, clock, ids.Random{}, metrics.Discard{}, zap.NewNop(),
		application.NotifierConfig{Owner: "test", Timeout: 5 * time.Second, PerEndpoint: perEndpoint, Concurrency: 32,
			Policy: domain.NotifyRetryPolicy{Schedule: []time.Duration{5 * time.Second, time.Minute}}})
	w := application.NewWebhooks(store, store, box, &notify.Guard{AllowPrivate: true}, clock, ids.Random{}, n.Wake,
		application.WebhooksConfig{RotationOverlap: time.Hour})
	return &notifyFixture{t: t, store: store, clock: clock, webhooks: w, notifier: n}
}

func (f *notifyFixture) endpoint(h *hook, events ...string) *domain.WebhookEndpoint {
	f.t.Helper()
	if len(events) == 0 {
		events = []string{"task.completed", "task.failed", "task.cancelled", "task.timeout"}
	}
	e, secret, err := f.webhooks.CreateEndpoint(f.t.Context(), application.EndpointRequest{URL: h.srv.URL + "/hook", Events: events})
	require.NoError(f.t, err)
	h.secret = secret
	return e
}

// cancelTask creates a task and cancels it through the store's task write,
// the path every change takes: its task.cancelled notification is written
// with it.
func (f *notifyFixture) cancelTask() string {
	f.t.Helper()
	f.tasks++
	ctx := f.t.Context()
	task, err := domain.NewTask(domain.NewTaskParams{ID: fmt.Sprintf("task-n%04d", f.tasks), AccountID: 7, Topic: "通知"}, f.clock.Now())
	require.NoError(f.t, err)
	_, _, err = f.store.CreateTask(ctx, task, nil)
	require.NoError(f.t, err)
	require.NoError(f.t, f.store.UpdateTask(ctx, task.ID(), func(tk *domain.Task) (ports.TaskChanges, error) {
		out, err := tk.Apply(domain.Event{Kind: domain.EventCancel, Source: domain.SourceAPI, At: f.clock.Now()}, domain.Rules{})
		if err != nil {
			return ports.TaskChanges{}, err
		}
		n, _ := domain.TaskNotification(ids.Random{}.NewID("msg"), tk, out, nil)
		return ports.TaskChanges{SaveTask: true, Notify: n}, nil
	}))
	return task.ID()
}

// round claims what is due, sends it and waits until every attempt is
// recorded.
func (f *notifyFixture) round() int {
	f.t.Helper()
	n := f.notifier.Fill(f.t.Context())
	f.notifier.Wait()
	return n
}

func (f *notifyFixture) log(e *domain.WebhookEndpoint) []ports.MessageLog {
	f.t.Helper()
	logs, err := f.webhooks.Messages(f.t.Context(), ports.MessageQuery{EndpointID: e.ID()})
	require.NoError(f.t, err)
	return logs
}

func TestNotifierMessagesVerifyAndRetriesKeepTheID(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		f := newNotifyFixture(t, s, 4)
		h := newHook(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 1 {
				http.Error(w, "try later", http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		e := f.endpoint(h)
		taskID := f.cancelTask()

		require.Equal(t, 1, f.round())
		logs := f.log(e)
		require.Len(t, logs, 1)
		m := logs[0].Message
		require.Equal(t, domain.MessagePending, m.Status)
		require.Equal(t, taskID, m.Subject)
		require.Len(t, logs[0].Attempts, 1)
		require.Equal(t, 500, logs[0].Attempts[0].StatusCode)
		require.Contains(t, logs[0].Attempts[0].Error, "try later")
		require.True(t, m.NextAttemptAt.After(f.clock.Now()), "retried later")

		require.Zero(t, f.round(), "nothing before the retry is due")
		f.clock.Set(m.NextAttemptAt)
		require.Equal(t, 1, f.round())
		got, verified := h.seen()
		require.Equal(t, []string{m.ID, m.ID}, got, "the retry carries the same webhook-id")
		require.Equal(t, 2, verified, "every attempt verifies with the standard-webhooks library")
		logs = f.log(e)
		require.Equal(t, domain.MessageDelivered, logs[0].Message.Status)
		require.Len(t, logs[0].Attempts, 2)
	})
}

func TestNotifierGoneDisablesTheEndpoint(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		f := newNotifyFixture(t, s, 4)
		h := newHook(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusGone) })
		e := f.endpoint(h)
		f.cancelTask()
		require.Equal(t, 1, f.round())
		ep, err := f.webhooks.Endpoint(t.Context(), e.ID())
		require.NoError(t, err)
		require.False(t, ep.Enabled(), "410 disables at once")
		require.Contains(t, ep.DisabledReason(), "410")
		logs := f.log(e)
		require.Equal(t, domain.MessageFailed, logs[0].Message.Status, "not retried")

		f.cancelTask()
		require.Len(t, f.log(e), 1, "a disabled endpoint gets no new messages")
		f.clock.Set(f.clock.Now().Add(time.Hour))
		require.Zero(t, f.round())
	})
}

func TestNotifierHonoursRetryAfter(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		f := newNotifyFixture(t, s, 4)
		h := newHook(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 1 {
				w.Header().Set("Retry-After", "120")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.WriteHeader(http.StatusAccepted)
		})
		e := f.endpoint(h)
		f.cancelTask()
		start := f.clock.Now()
		require.Equal(t, 1, f.round())
		m := f.log(e)[0].Message
		require.Equal(t, start.Add(120*time.Second), m.NextAttemptAt, "Retry-After, not the 5 s of the schedule")
		f.clock.Set(start.Add(119 * time.Second))
		require.Zero(t, f.round())
		f.clock.Set(start.Add(120 * time.Second))
		require.Equal(t, 1, f.round())
		require.Equal(t, domain.MessageDelivered, f.log(e)[0].Message.Status)
	})
}

func TestNotifierOneHangingEndpointDelaysNoOther(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		f := newNotifyFixture(t, s, 2)
		release := make(chan struct{})
		hanging := newHook(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		fast := newHook(t, nil)
		f.endpoint(hanging, "task.cancelled")
		fe := f.endpoint(fast, "task.cancelled")
		for range 10 {
			f.cancelTask() // each goes to both endpoints
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); f.notifier.Run(ctx) }()
		defer func() {
			close(release)
			cancel()
			<-done
		}()
		// Every message of the fast endpoint arrives while the hanging one
		// holds its two senders and has eight more waiting.
		for range 10 {
			<-fast.got
		}
		got, verified := fast.seen()
		require.Len(t, got, 10)
		require.Equal(t, 10, verified)
		hangingIDs, _ := hanging.seen()
		require.LessOrEqual(t, len(hangingIDs), 2, "the hanging endpoint never had more than its own senders")
		// Once recorded, the fast endpoint's log shows them delivered.
		require.Eventually(t, func() bool {
			for _, l := range f.log(fe) {
				if l.Message.Status != domain.MessageDelivered {
					return false
				}
			}
			return true
		}, 10*time.Second, 10*time.Millisecond)
	})
}

func TestNotifierDisablesAnEndpointFailingForThreeDays(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		f := newNotifyFixture(t, s, 4)
		h := newHook(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
		e := f.endpoint(h)
		f.cancelTask()
		require.Equal(t, 1, f.round())
		f.clock.Set(f.clock.Now().Add(71 * time.Hour))
		f.cancelTask()
		require.Equal(t, 2, f.round(), "the retry and the new message")
		ep, _ := f.webhooks.Endpoint(t.Context(), e.ID())
		require.True(t, ep.Enabled(), "71 hours of failures")
		f.clock.Set(f.clock.Now().Add(time.Hour))
		f.cancelTask()
		require.Equal(t, 3, f.round())
		ep, _ = f.webhooks.Endpoint(t.Context(), e.ID())
		require.False(t, ep.Enabled(), "72 hours of nothing but failures")
		require.True(t, strings.Contains(ep.DisabledReason(), "failed"), ep.DisabledReason())
	})
}

func TestNotifierReplaySendsTheSameID(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		f := newNotifyFixture(t, s, 4)
		h := newHook(t, nil)
		e := f.endpoint(h)
		f.cancelTask()
		require.Equal(t, 1, f.round())
		m := f.log(e)[0].Message
		require.Equal(t, domain.MessageDelivered, m.Status)
		replayed, err := f.webhooks.Replay(t.Context(), e.ID(), m.ID)
		require.NoError(t, err)
		require.Equal(t, domain.MessagePending, replayed.Message.Status)
		require.Equal(t, 1, f.round())
		got, verified := h.seen()
		require.Equal(t, []string{m.ID, m.ID}, got)
		require.Equal(t, 2, verified)
	})
}
