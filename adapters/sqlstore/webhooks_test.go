package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
	"contenthub/ports"
)

func newEndpoint(t testing.TB, id string, account int64, events ...string) *domain.WebhookEndpoint {
	t.Helper()
	e, err := domain.NewWebhookEndpoint(domain.NewEndpointParams{ID: id, URL: "https://hooks.example.com/" + id,
		Events: events, AccountID: account, Description: "端点 " + id, Secret: "whsec_" + id}, base)
	require.NoError(t, err)
	return e
}

func notification(id string, ev domain.NotifyEvent, account int64, at time.Time) *domain.Notification {
	return &domain.Notification{ID: id, Event: ev, Subject: "task-" + id, AccountID: account,
		Payload: []byte(`{"type":"` + string(ev) + `","data":{"title":"中文"}}`), At: at}
}

func TestWebhookEndpointsRoundTrip(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		a := newEndpoint(t, "ep-a", 0, "task.completed", "task.failed")
		b := newEndpoint(t, "ep-b", 42, "task.timeout")
		require.NoError(t, s.CreateEndpoint(ctx, a))
		require.NoError(t, s.CreateEndpoint(ctx, b))

		got, err := s.GetEndpoint(ctx, "ep-b")
		require.NoError(t, err)
		want := b.Snapshot()
		want.CreatedAt, want.UpdatedAt = want.CreatedAt.Truncate(time.Microsecond), want.UpdatedAt.Truncate(time.Microsecond)
		require.Equal(t, want, got.Snapshot())

		list, err := s.ListEndpoints(ctx)
		require.NoError(t, err)
		require.Len(t, list, 2)

		later := base.Add(time.Hour)
		updated, err := s.UpdateEndpoint(ctx, "ep-a", func(e *domain.WebhookEndpoint) error {
			e.Rotate("whsec_new", 24*time.Hour, later)
			e.SetEnabled(false, later)
			return nil
		})
		require.NoError(t, err)
		require.False(t, updated.Enabled())
		got, err = s.GetEndpoint(ctx, "ep-a")
		require.NoError(t, err)
		require.Equal(t, []string{"whsec_new", "whsec_ep-a"}, got.SigningSecrets(later))
		require.False(t, got.Enabled())
		require.Equal(t, "disabled by an operator", got.DisabledReason())

		refuse := errors.New("no")
		_, err = s.UpdateEndpoint(ctx, "ep-a", func(e *domain.WebhookEndpoint) error {
			e.SetEnabled(true, later)
			return refuse
		})
		require.ErrorIs(t, err, refuse)
		got, _ = s.GetEndpoint(ctx, "ep-a")
		require.False(t, got.Enabled(), "a refused update writes nothing")

		require.NoError(t, s.DeleteEndpoint(ctx, "ep-a"))
		_, err = s.GetEndpoint(ctx, "ep-a")
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.ErrorIs(t, s.DeleteEndpoint(ctx, "ep-a"), domain.ErrNotFound)
		_, err = s.UpdateEndpoint(ctx, "ep-a", func(*domain.WebhookEndpoint) error { return nil })
		require.ErrorIs(t, err, domain.ErrNotFound)
	})
}

func TestOutboxFansOutToSubscribedEndpoints(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		for _, e := range []*domain.WebhookEndpoint{
			newEndpoint(t, "ep-all", 0, "task.completed"),
			newEndpoint(t, "ep-failed", 0, "task.failed"),
			newEndpoint(t, "ep-acct7", 7, "task.completed", "task.cancelled"),
			newEndpoint(t, "ep-acct8", 8, "task.completed"),
			newEndpoint(t, "ep-off", 0, "task.completed"),
		} {
			require.NoError(t, s.CreateEndpoint(ctx, e))
		}
		_, err := s.UpdateEndpoint(ctx, "ep-off", func(e *domain.WebhookEndpoint) error {
			e.SetEnabled(false, base)
			return nil
		})
		require.NoError(t, err)

		require.NoError(t, enqueue(t, s, notification("n1", domain.EventTaskCompleted, 7, base)))
		claimed, err := s.ClaimMessages(ctx, ports.MessageClaim{Owner: "w1", Now: base, Lease: time.Minute, Limit: 10})
		require.NoError(t, err)
		var ids []string
		for _, c := range claimed {
			ids = append(ids, c.Message.ID)
			require.Equal(t, domain.EventTaskCompleted, c.Message.Event)
			require.Equal(t, "task-n1", c.Message.Subject)
			require.JSONEq(t, `{"type":"task.completed","data":{"title":"中文"}}`, string(c.Message.Payload))
			require.Equal(t, "https://hooks.example.com/"+c.Message.EndpointID, c.URL)
			require.Equal(t, []string{"whsec_" + c.Message.EndpointID}, domain.ActiveSecrets(c.Secrets, base))
		}
		require.ElementsMatch(t, []string{"n1_ep-all", "n1_ep-acct7"}, ids,
			"subscribed to the event, the account (or all), and enabled")

		// Not due yet: nothing.
		require.NoError(t, enqueue(t, s, notification("n2", domain.EventTaskFailed, 9, base.Add(time.Hour))))
		more, err := s.ClaimMessages(ctx, ports.MessageClaim{Owner: "w1", Now: base, Lease: time.Minute, Limit: 10})
		require.NoError(t, err)
		require.Empty(t, more, "leased messages and future ones are not claimed")
	})
}

func TestOutboxClaimsAreExclusiveAndFair(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		require.NoError(t, s.CreateEndpoint(ctx, newEndpoint(t, "ep-slow", 0, "task.completed")))
		require.NoError(t, s.CreateEndpoint(ctx, newEndpoint(t, "ep-fast", 0, "task.failed")))
		// The slow endpoint's backlog is older than the fast one's messages.
		for i := range 40 {
			require.NoError(t, enqueue(t, s, notification(fmt.Sprintf("s%02d", i), domain.EventTaskCompleted, 1, base.Add(time.Duration(i)*time.Millisecond))))
		}
		for i := range 5 {
			require.NoError(t, enqueue(t, s, notification(fmt.Sprintf("f%02d", i), domain.EventTaskFailed, 1, base.Add(time.Second))))
		}
		now := base.Add(time.Minute)
		first, err := s.ClaimMessages(ctx, ports.MessageClaim{Owner: "w1", Now: now, Lease: time.Minute, Limit: 8, PerEndpoint: 2})
		require.NoError(t, err)
		count := map[string]int{}
		for _, c := range first {
			count[c.Message.EndpointID]++
		}
		require.Equal(t, map[string]int{"ep-slow": 2, "ep-fast": 2}, count, "at most PerEndpoint each")

		busy, err := s.ClaimMessages(ctx, ports.MessageClaim{Owner: "w1", Now: now, Lease: time.Minute, Limit: 8,
			PerEndpoint: 8, Busy: []string{"ep-slow"}})
		require.NoError(t, err)
		require.Len(t, busy, 3, "the rest of the fast endpoint's, none of the busy one's")
		for _, c := range busy {
			require.Equal(t, "ep-fast", c.Message.EndpointID)
		}

		// Concurrent claimers never share a message.
		var (
			mu   sync.Mutex
			seen = map[string]string{}
			wg   sync.WaitGroup
		)
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("c%d", w)
				for {
					got, err := s.ClaimMessages(context.Background(), ports.MessageClaim{Owner: owner, Now: now, Lease: time.Minute, Limit: 3})
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, c := range got {
						if prev, ok := seen[c.Message.ID]; ok {
							t.Errorf("%s claimed by %s and %s", c.Message.ID, prev, owner)
						}
						seen[c.Message.ID] = owner
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		require.Len(t, seen, 38, "every remaining slow message, once")

		// A lease that ran out is claimed again.
		again, err := s.ClaimMessages(ctx, ports.MessageClaim{Owner: "w2", Now: now.Add(2 * time.Minute), Lease: time.Minute, Limit: 100})
		require.NoError(t, err)
		require.Len(t, again, 45)
	})
}

func TestOutboxAttemptsRetriesAndReplay(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		require.NoError(t, s.CreateEndpoint(ctx, newEndpoint(t, "ep-1", 0, "task.completed")))
		require.NoError(t, enqueue(t, s, notification("n1", domain.EventTaskCompleted, 1, base)))
		oldest, err := s.OldestPending(ctx)
		require.NoError(t, err)
		require.True(t, oldest.Equal(base.Truncate(time.Microsecond)), "%v", oldest)

		claim := func(owner string, now time.Time) []ports.ClaimedMessage {
			got, err := s.ClaimMessages(ctx, ports.MessageClaim{Owner: owner, Now: now, Lease: time.Minute, Limit: 10})
			require.NoError(t, err)
			return got
		}
		now := base.Add(time.Second)
		got := claim("w1", now)
		require.Len(t, got, 1)
		m := got[0].Message
		require.True(t, got[0].FailingSince.IsZero())

		// Someone else's record is refused.
		ok, err := s.RecordAttempt(ctx, ports.AttemptRecord{Owner: "w2", Attempt: domain.MessageAttempt{MessageID: m.ID, EndpointID: "ep-1", At: now}})
		require.NoError(t, err)
		require.False(t, ok)

		// A failure: retried later, same id, logged.
		ok, err = s.RecordAttempt(ctx, ports.AttemptRecord{Owner: "w1",
			Attempt:  domain.MessageAttempt{MessageID: m.ID, EndpointID: "ep-1", At: now, StatusCode: 500, Error: "HTTP 500", Latency: 1500 * time.Microsecond},
			Decision: domain.AttemptDecision{Status: domain.MessagePending, Retries: 1, NextAttemptAt: now.Add(5 * time.Second), EndpointFailing: true}})
		require.NoError(t, err)
		require.True(t, ok)
		require.Empty(t, claim("w1", now.Add(4*time.Second)), "not due before its next attempt")
		got = claim("w1", now.Add(5*time.Second))
		require.Len(t, got, 1)
		require.Equal(t, m.ID, got[0].Message.ID, "a retry keeps the webhook-id")
		require.Equal(t, 1, got[0].Message.Attempts)
		require.True(t, got[0].FailingSince.Equal(now.Truncate(time.Microsecond)), "the failure streak started")

		// It fails for good, and the endpoint is disabled (410).
		later := now.Add(5 * time.Second)
		ok, err = s.RecordAttempt(ctx, ports.AttemptRecord{Owner: "w1",
			Attempt:  domain.MessageAttempt{MessageID: m.ID, EndpointID: "ep-1", At: later, StatusCode: 410, Error: "HTTP 410"},
			Decision: domain.AttemptDecision{Status: domain.MessageFailed, Retries: 2, EndpointFailing: true, DisableEndpoint: "gone"}})
		require.NoError(t, err)
		require.True(t, ok)
		ep, err := s.GetEndpoint(ctx, "ep-1")
		require.NoError(t, err)
		require.False(t, ep.Enabled())
		require.Equal(t, "gone", ep.DisabledReason())

		logs, err := s.ListMessages(ctx, ports.MessageQuery{EndpointID: "ep-1", Status: domain.MessageFailed})
		require.NoError(t, err)
		require.Len(t, logs, 1)
		require.Equal(t, domain.MessageFailed, logs[0].Message.Status)
		require.Equal(t, "HTTP 410", logs[0].Message.LastError)
		require.Len(t, logs[0].Attempts, 2)
		require.Equal(t, 500, logs[0].Attempts[0].StatusCode)
		require.Equal(t, 1500*time.Microsecond, logs[0].Attempts[0].Latency)
		require.Equal(t, 2, logs[0].Attempts[1].Number)
		pending, err := s.ListMessages(ctx, ports.MessageQuery{EndpointID: "ep-1", Status: domain.MessagePending})
		require.NoError(t, err)
		require.Empty(t, pending)
		_, err = s.ListMessages(ctx, ports.MessageQuery{EndpointID: "ep-1", Status: "lost"})
		var ve *domain.ValidationError
		require.ErrorAs(t, err, &ve)

		// Replay: pending again, due now, fresh schedule, same id; sent
		// once the endpoint is enabled again.
		replayAt := later.Add(time.Hour)
		replayed, err := s.ReplayMessage(ctx, "ep-1", m.ID, replayAt)
		require.NoError(t, err)
		require.Equal(t, domain.MessagePending, replayed.Message.Status)
		require.Equal(t, 0, replayed.Message.Retries)
		require.Len(t, replayed.Attempts, 2, "the log stays")
		require.Empty(t, claim("w1", replayAt), "a disabled endpoint gets nothing")
		_, err = s.UpdateEndpoint(ctx, "ep-1", func(e *domain.WebhookEndpoint) error {
			e.SetEnabled(true, replayAt)
			return nil
		})
		require.NoError(t, err)
		got = claim("w1", replayAt)
		require.Len(t, got, 1)
		require.Equal(t, m.ID, got[0].Message.ID)
		require.True(t, got[0].FailingSince.IsZero(), "enabling ends the streak")

		ok, err = s.RecordAttempt(ctx, ports.AttemptRecord{Owner: "w1",
			Attempt:  domain.MessageAttempt{MessageID: m.ID, EndpointID: "ep-1", At: replayAt, StatusCode: 204},
			Decision: domain.AttemptDecision{Status: domain.MessageDelivered}})
		require.NoError(t, err)
		require.True(t, ok)
		logs, err = s.ListMessages(ctx, ports.MessageQuery{EndpointID: "ep-1"})
		require.NoError(t, err)
		require.Equal(t, domain.MessageDelivered, logs[0].Message.Status)
		require.Equal(t, 3, logs[0].Message.Attempts)
		require.True(t, logs[0].Message.DeliveredAt.Equal(replayAt.Truncate(time.Microsecond)))
		oldest, err = s.OldestPending(ctx)
		require.NoError(t, err)
		require.True(t, oldest.IsZero())

		_, err = s.ReplayMessage(ctx, "ep-1", "nope", replayAt)
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = s.ReplayMessage(ctx, "ep-other", m.ID, replayAt)
		require.ErrorIs(t, err, domain.ErrNotFound)

		// Deleting the endpoint removes its log.
		require.NoError(t, s.DeleteEndpoint(ctx, "ep-1"))
		logs, err = s.ListMessages(ctx, ports.MessageQuery{EndpointID: "ep-1"})
		require.NoError(t, err)
		require.Empty(t, logs)
	})
}

// The outbox rides in the task's write: a change that commits has its
// messages, one that is refused or rolled back has none, on both stores and
// on both write paths (PostgreSQL's one-statement UpdateTaskAt included).
func TestOutboxIsWrittenWithTheTaskChangeOnly(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		require.NoError(t, s.CreateEndpoint(ctx, newEndpoint(t, "ep-1", 0, "task.completed", "task.cancelled")))
		require.NoError(t, s.CreateEndpoint(ctx, newEndpoint(t, "ep-2", 7, "task.completed")))
		messages := func() []string {
			var ids []string
			for _, ep := range []string{"ep-1", "ep-2"} {
				logs, err := s.ListMessages(ctx, ports.MessageQuery{EndpointID: ep})
				require.NoError(t, err)
				for _, l := range logs {
					ids = append(ids, l.Message.ID)
				}
			}
			return ids
		}
		withNotice := func(changes ports.TaskChanges, tk *domain.Task, out domain.Outcome, id string) ports.TaskChanges {
			n, ok := domain.TaskNotification(id, tk, out, out.Content)
			require.True(t, ok)
			changes.Notify = n
			return changes
		}
		_, _, err := s.CreateTask(ctx, submitted(t, "task-1", base), nil)
		require.NoError(t, err)
		require.NoError(t, s.UpdateTask(ctx, "task-1", func(tk *domain.Task) (ports.TaskChanges, error) {
			apply(t, tk, progressEv(base.Add(time.Second), 1, 30, "started"))
			return ports.TaskChanges{SaveTask: true, Delivery: delivery("task-1", "progress", "wh:d-1")}, nil
		}))

		// Rolled back (a duplicate delivery id): no message.
		err = s.UpdateTask(ctx, "task-1", func(tk *domain.Task) (ports.TaskChanges, error) {
			out := apply(t, tk, completedEv(base.Add(time.Minute), 1, 1))
			changes := ports.TaskChanges{SaveTask: true, Content: out.Content, PoolEntry: out.PoolEntry,
				Delivery: delivery("task-1", "completed", "wh:d-1")}
			return withNotice(changes, tk, out, "n-dup"), nil
		})
		require.ErrorIs(t, err, domain.ErrDuplicateDelivery)
		require.Empty(t, messages())

		// Decided on a stale read (UpdateTaskAt, PostgreSQL's one
		// statement): refused, no message.
		stale, err := s.GetTask(ctx, "task-1")
		require.NoError(t, err)
		require.NoError(t, s.UpdateTaskAt(ctx, mustGet(t, s, "task-1"), func(*domain.Task) (ports.TaskChanges, error) {
			return ports.TaskChanges{SaveTask: true}, nil
		}))
		err = s.UpdateTaskAt(ctx, stale, func(tk *domain.Task) (ports.TaskChanges, error) {
			out := apply(t, tk, completedEv(base.Add(time.Minute), 1, 1))
			return withNotice(ports.TaskChanges{SaveTask: true, Content: out.Content, PoolEntry: out.PoolEntry}, tk, out, "n-stale"), nil
		})
		require.ErrorIs(t, err, domain.ErrVersionConflict)
		require.Empty(t, messages())

		// Committed through UpdateTaskAt: one message per subscribed endpoint.
		fresh := mustGet(t, s, "task-1")
		require.NoError(t, s.UpdateTaskAt(ctx, fresh, func(tk *domain.Task) (ports.TaskChanges, error) {
			out := apply(t, tk, completedEv(base.Add(time.Minute), 1, 1))
			return withNotice(ports.TaskChanges{SaveTask: true, Content: out.Content, PoolEntry: out.PoolEntry}, tk, out, "n-ok"), nil
		}))
		require.ElementsMatch(t, []string{"n-ok_ep-1", "n-ok_ep-2"}, messages())

		// Committed through UpdateTask (locked read): the same.
		_, _, err = s.CreateTask(ctx, submitted(t, "task-2", base, account(8)), nil)
		require.NoError(t, err)
		require.NoError(t, s.UpdateTask(ctx, "task-2", func(tk *domain.Task) (ports.TaskChanges, error) {
			out := apply(t, tk, domain.Event{Kind: domain.EventCancel, Source: domain.SourceAPI, At: base.Add(time.Minute)})
			return withNotice(ports.TaskChanges{SaveTask: true}, tk, out, "n-cancel"), nil
		}))
		require.ElementsMatch(t, []string{"n-ok_ep-1", "n-ok_ep-2", "n-cancel_ep-1"}, messages(),
			"ep-2 is for account 7 and completions only")
	})
}

func mustGet(t *testing.T, s sqlstoretest.Ports, id string) *domain.Task {
	t.Helper()
	tk, err := s.GetTask(t.Context(), id)
	require.NoError(t, err)
	return tk
}

// enqueue writes n through a task change, as the use cases do: a task of
// n's account is created and saved with n as its notification.
func enqueue(t testing.TB, s sqlstoretest.Ports, n *domain.Notification) error {
	t.Helper()
	ctx := context.Background()
	tk := newTask(t, "task-"+n.ID, base, account(n.AccountID))
	if _, _, err := s.CreateTask(ctx, tk, nil); err != nil {
		return err
	}
	return s.UpdateTask(ctx, tk.ID(), func(*domain.Task) (ports.TaskChanges, error) {
		return ports.TaskChanges{SaveTask: true, Notify: n}, nil
	})
}
