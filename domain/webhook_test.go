package domain_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
)

func TestTaskNotificationOnlyForTerminalChanges(t *testing.T) {
	// A failed attempt with attempts left is retried: nothing is sent.
	task := submittedTask(t)
	out := mustApply(t, task, failedEv(1, "boom", t0.Add(2*time.Minute)))
	require.True(t, out.Retrying)
	_, ok := domain.TaskNotification("n-1", task, out, nil)
	require.False(t, ok, "a retried failure sends nothing")

	// Progress is no terminal change.
	task = submittedTask(t)
	out = mustApply(t, task, progressEv(1, 40, t0.Add(2*time.Minute)))
	_, ok = domain.TaskNotification("n-1", task, out, nil)
	require.False(t, ok)

	// An ignored event on a terminal task is no change.
	done := taskIn(t, domain.StatusCompleted, true, false)
	out = mustApply(t, done, completedEv(1, "# Again", t0.Add(4*time.Minute)))
	_, ok = domain.TaskNotification("n-1", done, out, nil)
	require.False(t, ok, "an ignored repeat sends nothing")
}

func TestTaskNotificationBodies(t *testing.T) {
	cases := []struct {
		status domain.Status
		event  domain.NotifyEvent
	}{
		{domain.StatusCompleted, domain.EventTaskCompleted},
		{domain.StatusFailed, domain.EventTaskFailed},
		{domain.StatusTimeout, domain.EventTaskTimeout},
		{domain.StatusCancelled, domain.EventTaskCancelled},
	}
	for _, c := range cases {
		t.Run(string(c.status), func(t *testing.T) {
			task := submittedTask(t, func(p *domain.NewTaskParams) { p.MaxRetries = ptr(0) })
			var (
				ev      domain.Event
				content *domain.Content
			)
			switch c.status {
			case domain.StatusCompleted:
				ev = completedEv(1, "# 标题\n\n正文。", t0.Add(3*time.Minute))
			case domain.StatusFailed:
				ev = failedEv(1, "boom", t0.Add(3*time.Minute))
			case domain.StatusTimeout:
				ev = deadlineEv(1, t0.Add(time.Hour))
			case domain.StatusCancelled:
				ev = cancelEv(t0.Add(3 * time.Minute))
			}
			out := mustApply(t, task, ev)
			if out.Content != nil {
				content = out.Content
			}
			n, ok := domain.TaskNotification("n-1", task, out, content)
			require.True(t, ok)
			require.Equal(t, c.event, n.Event)
			require.Equal(t, task.ID(), n.Subject)
			require.Equal(t, int64(42), n.AccountID)

			var body struct {
				Type      string                     `json:"type"`
				Timestamp time.Time                  `json:"timestamp"`
				Data      map[string]json.RawMessage `json:"data"`
			}
			require.NoError(t, json.Unmarshal(n.Payload, &body))
			require.Equal(t, string(c.event), body.Type)
			require.True(t, body.Timestamp.Equal(task.UpdatedAt()))
			for _, k := range []string{"task_id", "account_id", "status", "attempt", "content_id", "title",
				"word_count", "schedule_id", "last_error", "completed_at"} {
				require.Contains(t, body.Data, k)
			}
			require.JSONEq(t, `"`+string(c.status)+`"`, string(body.Data["status"]))
			if c.status == domain.StatusCompleted {
				require.JSONEq(t, `"标题"`, string(body.Data["title"]))
				require.JSONEq(t, `"content-1"`, string(body.Data["content_id"]))
				require.Equal(t, "null", string(body.Data["last_error"]))
			} else {
				require.Equal(t, "null", string(body.Data["title"]))
			}
			if c.status == domain.StatusFailed {
				require.Contains(t, string(body.Data["last_error"]), "boom")
			}
		})
	}
}

func TestNewWebhookEndpointValidation(t *testing.T) {
	ok := domain.NewEndpointParams{ID: "ep-1", URL: "https://hooks.example.com/in", Events: []string{"task.completed"}, Secret: "whsec_x"}
	e, err := domain.NewWebhookEndpoint(ok, t0)
	require.NoError(t, err)
	require.True(t, e.Enabled())
	require.Equal(t, []string{"whsec_x"}, e.SigningSecrets(t0))

	bad := []struct {
		field string
		edit  func(*domain.NewEndpointParams)
	}{
		{"url", func(p *domain.NewEndpointParams) { p.URL = "" }},
		{"url", func(p *domain.NewEndpointParams) { p.URL = "ftp://example.com/x" }},
		{"url", func(p *domain.NewEndpointParams) { p.URL = "file:///etc/passwd" }},
		{"url", func(p *domain.NewEndpointParams) { p.URL = "https:///nohost" }},
		{"url", func(p *domain.NewEndpointParams) { p.URL = "https://user:pw@example.com/" }},
		{"url", func(p *domain.NewEndpointParams) { p.URL = "not a url at all" }},
		{"events", func(p *domain.NewEndpointParams) { p.Events = nil }},
		{"events", func(p *domain.NewEndpointParams) { p.Events = []string{"task.completed", "task.exploded"} }},
		{"account_id", func(p *domain.NewEndpointParams) { p.AccountID = -1 }},
	}
	for _, b := range bad {
		p := ok
		b.edit(&p)
		_, err := domain.NewWebhookEndpoint(p, t0)
		var ve *domain.ValidationError
		require.True(t, errors.As(err, &ve), "%+v: %v", p, err)
		require.Equal(t, b.field, ve.Field, "%+v", p)
	}
}

func TestEndpointRotationOverlap(t *testing.T) {
	e, err := domain.NewWebhookEndpoint(domain.NewEndpointParams{ID: "ep-1", URL: "https://example.com/",
		Events: []string{"task.failed"}, Secret: "old"}, t0)
	require.NoError(t, err)
	e.Rotate("new", 24*time.Hour, t0)
	require.Equal(t, []string{"new", "old"}, e.SigningSecrets(t0.Add(23*time.Hour)), "both sign during the overlap")
	require.Equal(t, []string{"new"}, e.SigningSecrets(t0.Add(24*time.Hour)), "the old one stops at its end")
	e.Rotate("newer", 0, t0.Add(time.Hour))
	require.Equal(t, []string{"newer", "old"}, e.SigningSecrets(t0.Add(2*time.Hour)),
		"no overlap for the replaced one; the earlier overlap runs on")
}

func TestEndpointSubscribes(t *testing.T) {
	e, err := domain.NewWebhookEndpoint(domain.NewEndpointParams{ID: "ep-1", URL: "https://example.com/",
		Events: []string{"task.failed", "task.failed"}, AccountID: 7, Secret: "s"}, t0)
	require.NoError(t, err)
	require.Equal(t, []domain.NotifyEvent{domain.EventTaskFailed}, e.Events(), "duplicates dropped")
	require.True(t, e.Subscribes(domain.EventTaskFailed, 7))
	require.False(t, e.Subscribes(domain.EventTaskFailed, 8), "another account")
	require.False(t, e.Subscribes(domain.EventTaskCompleted, 7), "another event")
	e.SetEnabled(false, t0)
	require.False(t, e.Subscribes(domain.EventTaskFailed, 7), "disabled")
	require.NotEmpty(t, e.DisabledReason())
}

func TestNotifyRetryPolicy(t *testing.T) {
	p := domain.NotifyRetryPolicy{Schedule: []time.Duration{5 * time.Second, 5 * time.Minute}, Jitter: 0.2}
	m := domain.WebhookMessage{ID: "m", Retries: 0}

	d := p.Decide(m, domain.SendResult{StatusCode: 204}, time.Time{}, t0, 0.5)
	require.Equal(t, domain.MessageDelivered, d.Status)
	require.False(t, d.EndpointFailing)

	d = p.Decide(m, domain.SendResult{StatusCode: 500}, time.Time{}, t0, 0.5)
	require.Equal(t, domain.MessagePending, d.Status)
	require.Equal(t, t0.Add(5*time.Second), d.NextAttemptAt, "jitter 0.5 is the middle")
	require.Equal(t, 1, d.Retries)
	require.True(t, d.EndpointFailing)

	d = p.Decide(m, domain.SendResult{StatusCode: 500}, time.Time{}, t0, 0.999)
	require.Greater(t, d.NextAttemptAt.Sub(t0), 5*time.Second)
	require.LessOrEqual(t, d.NextAttemptAt.Sub(t0), 6*time.Second)
	d = p.Decide(m, domain.SendResult{StatusCode: 500}, time.Time{}, t0, 0)
	require.Equal(t, 4*time.Second, d.NextAttemptAt.Sub(t0))

	d = p.Decide(m, domain.SendResult{StatusCode: 503, RetryAfter: 2 * time.Minute}, time.Time{}, t0, 0.5)
	require.Equal(t, t0.Add(2*time.Minute), d.NextAttemptAt, "Retry-After wins")
	d = p.Decide(m, domain.SendResult{StatusCode: 429, RetryAfter: 90 * time.Hour}, time.Time{}, t0, 0.5)
	require.Equal(t, t0.Add(domain.MaxRetryAfter), d.NextAttemptAt, "Retry-After is capped")
	d = p.Decide(m, domain.SendResult{StatusCode: 500, RetryAfter: 2 * time.Minute}, time.Time{}, t0, 0.5)
	require.Equal(t, t0.Add(5*time.Second), d.NextAttemptAt, "only 429 and 503 carry Retry-After")

	d = p.Decide(m, domain.SendResult{StatusCode: 410}, time.Time{}, t0, 0.5)
	require.Equal(t, domain.MessageFailed, d.Status)
	require.NotEmpty(t, d.DisableEndpoint)

	m.Retries = 2
	d = p.Decide(m, domain.SendResult{Err: "connection refused"}, time.Time{}, t0, 0.5)
	require.Equal(t, domain.MessageFailed, d.Status, "the schedule ran out")
	require.Empty(t, d.DisableEndpoint)

	m.Retries = 0
	d = p.Decide(m, domain.SendResult{StatusCode: 500}, t0.Add(-71*time.Hour), t0, 0.5)
	require.Empty(t, d.DisableEndpoint)
	d = p.Decide(m, domain.SendResult{StatusCode: 500}, t0.Add(-72*time.Hour), t0, 0.5)
	require.NotEmpty(t, d.DisableEndpoint, "3 days of failures disable the endpoint")
}

func TestParseNotifyRetrySchedule(t *testing.T) {
	got, err := domain.ParseNotifyRetrySchedule("5s, 5m,30m", time.ParseDuration)
	require.NoError(t, err)
	require.Equal(t, []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute}, got)
	_, err = domain.ParseNotifyRetrySchedule("5s,soon", time.ParseDuration)
	require.Error(t, err)
	_, err = domain.ParseNotifyRetrySchedule("-5s", time.ParseDuration)
	require.Error(t, err)
}
