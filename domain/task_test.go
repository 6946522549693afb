package domain_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
)

func TestNewTaskDefaults(t *testing.T) {
	task, err := domain.NewTask(domain.NewTaskParams{
		ID: "task-1", AccountID: 7, Topic: "  Go generics  ",
		Keywords: []string{" go ", "", "  ", "generics"},
	}, t0)
	require.NoError(t, err)

	require.Equal(t, domain.DefaultPriority, task.Priority())
	require.Equal(t, 5, task.Priority())
	require.True(t, task.AutoApprove())
	require.Equal(t, 4, task.MaxAttempts(), "1 + 3 retries")
	require.Equal(t, "Go generics", task.Topic(), "trimmed")
	require.Equal(t, []string{"go", "generics"}, task.Keywords(), "trimmed, blanks dropped")
	require.Equal(t, domain.StatusPending, task.Status())
	require.Equal(t, 1, task.Attempt())
	require.False(t, task.AttemptOpen())
	require.Equal(t, t0, task.NextAttemptAt(), "the first attempt is due at once")
	require.Equal(t, t0, task.CreatedAt())
	require.Equal(t, t0, task.UpdatedAt())
	require.Equal(t, int64(1), task.Version())
	_, hasErr := task.LastError()
	require.False(t, hasErr)
	require.Empty(t, task.Attempts())
}

func TestNewTaskKeepsExplicitChoices(t *testing.T) {
	task, err := domain.NewTask(domain.NewTaskParams{
		ID: "task-1", AccountID: 7, Topic: "t", Category: " tech ", Requirements: " 1500 words ", Tone: " calm ",
		Priority: 10, AutoApprove: ptr(false), MaxRetries: ptr(0),
	}, t0)
	require.NoError(t, err)
	require.Equal(t, 10, task.Priority())
	require.False(t, task.AutoApprove())
	require.Equal(t, 1, task.MaxAttempts())
	require.Equal(t, "tech", task.Category())
	require.Equal(t, "1500 words", task.Requirements())
	require.Equal(t, "calm", task.Tone())
	require.Equal(t, int64(7), task.AccountID())
	require.Equal(t, "task-1", task.ID())
}

func TestNewTaskValidation(t *testing.T) {
	valid := func() domain.NewTaskParams {
		return domain.NewTaskParams{ID: "task-1", AccountID: 1, Topic: "topic"}
	}
	// keywordsN returns n distinct non-blank keywords.
	keywordsN := func(n int) []string {
		k := make([]string, n)
		for i := range k {
			k[i] = fmt.Sprintf("k%d", i)
		}
		return k
	}
	cases := []struct {
		name  string
		edit  func(*domain.NewTaskParams)
		field string // "" = valid
	}{
		{"id empty", func(p *domain.NewTaskParams) { p.ID = "" }, "id"},
		{"id with a slash", func(p *domain.NewTaskParams) { p.ID = "task/1" }, "id"},
		{"id of 101 characters", func(p *domain.NewTaskParams) { p.ID = strings.Repeat("a", 101) }, "id"},
		{"id of 100 characters", func(p *domain.NewTaskParams) { p.ID = strings.Repeat("a", 100) }, ""},
		{"account_id zero", func(p *domain.NewTaskParams) { p.AccountID = 0 }, "account_id"},
		{"account_id negative", func(p *domain.NewTaskParams) { p.AccountID = -3 }, "account_id"},
		{"topic missing", func(p *domain.NewTaskParams) { p.Topic = "" }, "topic"},
		{"topic blank", func(p *domain.NewTaskParams) { p.Topic = " \t\n" }, "topic"},
		{"topic of 500 characters", func(p *domain.NewTaskParams) { p.Topic = strings.Repeat("字", 500) }, ""},
		{"topic of 501 characters", func(p *domain.NewTaskParams) { p.Topic = strings.Repeat("字", 501) }, "topic"},
		{"tone of 50 characters", func(p *domain.NewTaskParams) { p.Tone = strings.Repeat("t", 50) }, ""},
		{"tone of 51 characters", func(p *domain.NewTaskParams) { p.Tone = strings.Repeat("t", 51) }, "tone"},
		{"category of 100 characters", func(p *domain.NewTaskParams) { p.Category = strings.Repeat("c", 100) }, ""},
		{"category of 101 characters", func(p *domain.NewTaskParams) { p.Category = strings.Repeat("c", 101) }, "category"},
		{"requirements of 5000 characters", func(p *domain.NewTaskParams) { p.Requirements = strings.Repeat("r", 5000) }, ""},
		{"requirements of 5001 characters", func(p *domain.NewTaskParams) { p.Requirements = strings.Repeat("r", 5001) }, "requirements"},
		{"50 keywords", func(p *domain.NewTaskParams) { p.Keywords = keywordsN(50) }, ""},
		{"51 keywords", func(p *domain.NewTaskParams) { p.Keywords = keywordsN(51) }, "keywords"},
		{"blank keywords do not count", func(p *domain.NewTaskParams) { p.Keywords = append(keywordsN(50), "", " ") }, ""},
		{"keyword of 100 characters", func(p *domain.NewTaskParams) { p.Keywords = []string{strings.Repeat("k", 100)} }, ""},
		{"keyword of 101 characters", func(p *domain.NewTaskParams) { p.Keywords = []string{strings.Repeat("k", 101)} }, "keywords"},
		{"priority 1", func(p *domain.NewTaskParams) { p.Priority = 1 }, ""},
		{"priority 10", func(p *domain.NewTaskParams) { p.Priority = 10 }, ""},
		{"priority 11", func(p *domain.NewTaskParams) { p.Priority = 11 }, "priority"},
		{"priority negative", func(p *domain.NewTaskParams) { p.Priority = -1 }, "priority"},
		{"max_retries 0", func(p *domain.NewTaskParams) { p.MaxRetries = ptr(0) }, ""},
		{"max_retries 10", func(p *domain.NewTaskParams) { p.MaxRetries = ptr(10) }, ""},
		{"max_retries 11", func(p *domain.NewTaskParams) { p.MaxRetries = ptr(11) }, "max_retries"},
		{"max_retries negative", func(p *domain.NewTaskParams) { p.MaxRetries = ptr(-1) }, "max_retries"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := valid()
			c.edit(&p)
			task, err := domain.NewTask(p, t0)
			if c.field == "" {
				require.NoError(t, err)
				require.NotNil(t, task)
				return
			}
			require.Nil(t, task)
			var verr *domain.ValidationError
			require.True(t, errors.As(err, &verr), "want *ValidationError, got %T: %v", err, err)
			require.Equal(t, c.field, verr.Field)
			require.NotEmpty(t, verr.Message)
			require.True(t, strings.HasPrefix(err.Error(), c.field+": "), "the message names the field: %q", err)
		})
	}
}

func TestValidTaskID(t *testing.T) {
	for _, id := range []string{"task-AbC_09", "a", strings.Repeat("Z", 100), "task-xYz-1"} {
		require.True(t, domain.ValidTaskID(id), "%q", id)
	}
	for _, id := range []string{"", strings.Repeat("a", 101), "task 1", "task/1", "task.1", "../etc", "tâche", "id\n", "a%20b"} {
		require.False(t, domain.ValidTaskID(id), "%q", id)
	}
}

func TestSplitKeywords(t *testing.T) {
	require.Nil(t, domain.SplitKeywords(""))
	require.Nil(t, domain.SplitKeywords("   "))
	require.Equal(t, []string{"a", "b"}, domain.SplitKeywords("a,b"))

	task := newTask(t, func(p *domain.NewTaskParams) { p.Keywords = domain.SplitKeywords(" a , b,,c ") })
	require.Equal(t, []string{"a", "b", "c"}, task.Keywords())
}

func TestTaskErrorString(t *testing.T) {
	cases := []struct {
		err  domain.TaskError
		want string
	}{
		{domain.TaskError{Code: "E1", Type: "execution_error", Message: "it broke"}, "[E1] execution_error: it broke"},
		{domain.TaskError{Type: "execution_error", Message: "it broke"}, "execution_error: it broke"},
		{domain.TaskError{Code: "E1", Message: "it broke"}, "[E1] it broke"},
		{domain.TaskError{Code: "E1", Type: "execution_error"}, "[E1] execution_error"},
		{domain.TaskError{Code: "E1"}, "[E1]"},
		{domain.TaskError{Type: "execution_error"}, "execution_error"},
		{domain.TaskError{Message: "it broke"}, "it broke"},
		{domain.TaskError{}, ""},
	}
	for _, c := range cases {
		require.Equal(t, c.want, c.err.String(), "%#v", c.err)
	}
	require.True(t, domain.TaskError{}.IsZero())
	require.False(t, domain.TaskError{Message: "x"}.IsZero())
}

func TestStatusPredicates(t *testing.T) {
	cases := []struct {
		status                  domain.Status
		terminal, active, valid bool
	}{
		{pending, false, false, true},
		{submitted, false, true, true},
		{processing, false, true, true},
		{done, true, false, true},
		{failedSt, true, false, true},
		{timedOut, true, false, true},
		{cancelled, true, false, true},
		{"running", false, false, false},
	}
	for _, c := range cases {
		require.Equal(t, c.terminal, c.status.Terminal(), "%s terminal", c.status)
		require.Equal(t, c.active, c.status.Active(), "%s active", c.status)
		require.Equal(t, c.valid, c.status.Valid(), "%s valid", c.status)
	}
	require.Len(t, domain.Statuses, 7)
}

// busyTask returns a task with every field set: a failed first attempt, an
// open, running second one, a lease and a stored version.
func busyTask(t *testing.T) *domain.Task {
	t.Helper()
	task := submittedTask(t, func(p *domain.NewTaskParams) {
		p.Category, p.Requirements, p.Tone = "tech", "long", "calm"
	})
	mustApply(t, task, failedEv(1, "first", t0.Add(2*time.Minute)))
	ev := openEv(t0.Add(4 * time.Minute))
	ev.Open = domain.Opening{TokenHash: domain.HashToken("tok"), CallbackURL: "http://cb/x"}
	mustApply(t, task, ev)
	mustApply(t, task, submitEv(2, t0.Add(5*time.Minute)))
	mustApply(t, task, progressEv(2, 35, t0.Add(6*time.Minute)))
	task.Lease("worker-7", t0.Add(7*time.Minute))
	task.MarkSaved(9)
	return task
}

func TestRehydrateSnapshotRoundTrip(t *testing.T) {
	original := busyTask(t)
	snap := original.Snapshot()
	require.Equal(t, int64(9), snap.Version)
	require.Equal(t, "worker-7", snap.LeaseOwner)
	require.Len(t, snap.Attempts, 2)
	require.NotNil(t, snap.LastError)

	copied := domain.RehydrateTask(snap)
	require.Equal(t, snap, copied.Snapshot())

	// The copy behaves exactly like the original.
	ev := completedEv(2, "# Done\n\nBody.", t0.Add(8*time.Minute))
	outOriginal := mustApply(t, original, ev)
	outCopy := mustApply(t, copied, ev)
	require.Equal(t, outOriginal, outCopy)
	require.Equal(t, original.Snapshot(), copied.Snapshot())
}

func TestSnapshotAndRehydrateDoNotShareSlices(t *testing.T) {
	task := busyTask(t)
	snap := task.Snapshot()
	copied := domain.RehydrateTask(snap)

	snap.Keywords[0] = "changed"
	snap.Attempts[0].State = domain.AttemptRunning
	snap.LastError.Message = "changed"

	require.Equal(t, "ai", copied.Keywords()[0])
	require.Equal(t, domain.AttemptFailed, copied.Attempts()[0].State)
	last, _ := copied.LastError()
	require.Equal(t, "first", last.Message)

	again := task.Snapshot()
	require.Equal(t, "ai", again.Keywords[0])
	require.Equal(t, "first", again.LastError.Message)
}
