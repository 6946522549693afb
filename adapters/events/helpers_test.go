package events_test

import (
	"fmt"
	"testing"
	"time"

	"contenthub/domain"
	"contenthub/ports"
)

// waitLimit bounds every wait for an event; reaching it fails the test.
const waitLimit = 10 * time.Second

// receive returns the next event on ch.
func receive(t *testing.T, ch <-chan ports.TaskEvent) ports.TaskEvent {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("subscription closed, want an event")
		}
		return e
	case <-time.After(waitLimit):
		t.Fatalf("no event within %s", waitLimit)
	}
	return ports.TaskEvent{}
}

// drain returns what is left on ch once it closes (after its context was
// cancelled or its hub closed).
func drain(t *testing.T, ch <-chan ports.TaskEvent) []ports.TaskEvent {
	t.Helper()
	var got []ports.TaskEvent
	timeout := time.After(waitLimit)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return got
			}
			got = append(got, e)
		case <-timeout:
			t.Fatalf("subscription not closed within %s", waitLimit)
		}
	}
}

func taskIDs(events []ports.TaskEvent) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.TaskID
	}
	return ids
}

func event(task string, account int64, status domain.Status) ports.TaskEvent {
	return ports.TaskEvent{
		TaskID: task, AccountID: account, Status: status, Attempt: 1,
		Progress: domain.Progress{Percentage: 40, Stage: "writing", Message: "draft", UpdatedAt: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)},
		At:       time.Date(2025, 3, 1, 10, 0, 1, 0, time.UTC),
	}
}

func numbered(n int) []ports.TaskEvent {
	out := make([]ports.TaskEvent, n)
	for i := range out {
		out[i] = event(fmt.Sprintf("task-%d", i), 1, domain.StatusProcessing)
	}
	return out
}
