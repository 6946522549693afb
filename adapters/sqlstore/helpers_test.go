package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
	"contenthub/ports"
)

// base has nanoseconds on purpose: storage keeps microseconds.
var base = time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)

var rules = domain.Rules{
	TaskTimeout: 30 * time.Minute,
	Backoff:     func(int) time.Duration { return 10 * time.Second },
}

type taskOption func(*domain.NewTaskParams)

func account(id int64) taskOption   { return func(p *domain.NewTaskParams) { p.AccountID = id } }
func priority(n int) taskOption     { return func(p *domain.NewTaskParams) { p.Priority = n } }
func maxRetries(n int) taskOption   { return func(p *domain.NewTaskParams) { p.MaxRetries = &n } }
func autoApprove(b bool) taskOption { return func(p *domain.NewTaskParams) { p.AutoApprove = &b } }

func newTask(t testing.TB, id string, at time.Time, opts ...taskOption) *domain.Task {
	t.Helper()
	p := domain.NewTaskParams{ID: id, AccountID: 7, Topic: "Topic of " + id}
	for _, o := range opts {
		o(&p)
	}
	tk, err := domain.NewTask(p, at)
	require.NoError(t, err)
	return tk
}

// apply moves tk through the domain and requires that the event changed it.
func apply(t testing.TB, tk *domain.Task, ev domain.Event) domain.Outcome {
	t.Helper()
	out, err := tk.Apply(ev, rules)
	require.NoError(t, err)
	require.True(t, out.Changed, "event %s on a %s task: %s", ev.Kind, out.From, out.Reason)
	return out
}

func openEv(at time.Time, token string) domain.Event {
	return domain.Event{
		Kind: domain.EventOpenAttempt, Source: domain.SourceDispatcher, At: at,
		Open: domain.Opening{TokenHash: domain.HashToken(token), CallbackURL: "http://127.0.0.1:8080/cb/" + token},
	}
}

func submittedEv(at time.Time, attempt int, ref string) domain.Event {
	return domain.Event{Kind: domain.EventSubmitted, Source: domain.SourceDispatcher, Attempt: attempt, At: at, ExternalRef: ref}
}

func progressEv(at time.Time, attempt int, pct float64, msg string) domain.Event {
	return domain.Event{
		Kind: domain.EventProgress, Source: domain.SourceWebhook, Attempt: attempt, At: at,
		Progress: domain.ProgressReport{Percentage: pct, Stage: "writing", Message: msg},
	}
}

func failedEv(at time.Time, attempt int, e domain.TaskError) domain.Event {
	return domain.Event{Kind: domain.EventFailed, Source: domain.SourceWebhook, Attempt: attempt, At: at, Error: e}
}

func completedEv(at time.Time, attempt int, n int) domain.Event {
	score := 8.5
	return domain.Event{
		Kind: domain.EventCompleted, Source: domain.SourceWebhook, Attempt: attempt, At: at,
		Result: domain.Result{
			Content:      "# Title\n\nBody text with **bold** words.",
			HTMLContent:  "<h1>Title</h1>",
			Images:       []string{"https://img.example/1.png", "https://img.example/2.png"},
			QualityScore: &score,
			Metrics:      []byte(`{"tokens":1200}`),
		},
		IDs: domain.CompletionIDs{ContentID: fmt.Sprintf("content-%d", n), PoolEntryID: fmt.Sprintf("pool-%d", n)},
	}
}

// submitted returns a task whose first attempt content-creator accepted at at.
func submitted(t testing.TB, id string, at time.Time, opts ...taskOption) *domain.Task {
	t.Helper()
	tk := newTask(t, id, at, opts...)
	apply(t, tk, openEv(at, id+"-token"))
	apply(t, tk, submittedEv(at, 1, ""))
	return tk
}

// storedForm is what storage gives back for a snapshot: times in UTC at
// microsecond precision, empty lists as nil.
func storedForm(s domain.TaskSnapshot) domain.TaskSnapshot {
	tr := func(t *time.Time) {
		if !t.IsZero() {
			*t = t.UTC().Truncate(time.Microsecond)
		}
	}
	for _, p := range []*time.Time{
		&s.NextAttemptAt, &s.TimeoutAt, &s.LastHeardAt, &s.Progress.UpdatedAt, &s.LeaseUntil,
		&s.CreatedAt, &s.SubmittedAt, &s.StartedAt, &s.CompletedAt, &s.UpdatedAt,
	} {
		tr(p)
	}
	attempts := make([]domain.Attempt, len(s.Attempts))
	for i, a := range s.Attempts {
		tr(&a.OpenedAt)
		tr(&a.SubmittedAt)
		tr(&a.FinishedAt)
		attempts[i] = a
	}
	if len(attempts) == 0 {
		attempts = nil
	}
	s.Attempts = attempts
	if len(s.Keywords) == 0 {
		s.Keywords = nil
	}
	return s
}

func ids(tasks []*domain.Task) []string {
	out := make([]string, len(tasks))
	for i, t := range tasks {
		out[i] = t.ID()
	}
	return out
}

// saveTask runs the compare-and-set save of UpdateTask on its own, so tests
// can save a task that was loaded before someone else saved it.
func saveTask(ctx context.Context, s ports.TaskWriter, t *domain.Task) error {
	return s.UpdateTaskAt(ctx, t, func(*domain.Task) (ports.TaskChanges, error) {
		return ports.TaskChanges{SaveTask: true}, nil
	})
}

// poolEntries lists the publish pool through the read model: the entries of
// ListPoolItems, without their titles.
func poolEntries(ctx context.Context, s ports.TaskReader, status domain.PoolStatus, limit int) ([]domain.PoolEntry, error) {
	items, err := s.ListPoolItems(ctx, ports.PoolQuery{Status: status, Limit: limit})
	if err != nil {
		return nil, err
	}
	entries := make([]domain.PoolEntry, len(items))
	for i, item := range items {
		entries[i] = item.Entry
	}
	return entries, nil
}
