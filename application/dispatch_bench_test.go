package application_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"contenthub/adapters/creatorexec"
	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

// BenchmarkDispatchBacklog drains 1,000 pending tasks through the real exec
// runner and a CLI whose create takes 50 ms, CREATOR_MAX_CONCURRENCY=8: a
// freed slot takes the next task at once, so the rate approaches 8 / 50 ms =
// 160 tasks/s (the sweep alone would allow 8 per second).
func BenchmarkDispatchBacklog(b *testing.B) {
	const (
		tasks       = 1000
		concurrency = 8
		createTakes = 50 * time.Millisecond
	)
	cli := filepath.Join(b.TempDir(), "cc")
	if err := os.WriteFile(cli, []byte("#!/bin/sh\nsleep 0.05\n"), 0o755); err != nil {
		b.Fatal(err)
	}
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{"sqlite": sqlstoretest.NewSQLite, "postgres": sqlstoretest.NewPostgres} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				store := open(b)
				t0 := time.Now().Add(-time.Hour)
				seedPending(b, store, tasks, t0)
				runner, err := creatorexec.New(creatorexec.Config{Command: cli})
				if err != nil {
					b.Fatal(err)
				}
				counting := &countingCreator{ContentCreator: runner, done: make(chan struct{}), want: tasks}
				d := application.NewDispatcher(testDeps(store, systemClock{}), counting, application.NewWakeup(),
					application.DispatcherConfig{Owner: "bench", Concurrency: concurrency, Sweep: time.Second, CallbackBaseURL: "http://hub"})
				ctx, cancel := context.WithCancel(context.Background())
				b.StartTimer()
				start := time.Now()
				go d.Run(ctx)
				<-counting.done
				took := time.Since(start)
				b.StopTimer()
				cancel()
				d.Wait()
				rate := float64(tasks) / took.Seconds()
				ideal := float64(concurrency) / createTakes.Seconds()
				b.ReportMetric(rate, "tasks/s")
				b.ReportMetric(rate/ideal, "of_ideal")
				fmt.Printf("dispatch backlog %s: %d tasks in %s = %.0f tasks/s (ideal %.0f/s, %.2f of it)\n",
					name, tasks, took.Round(time.Millisecond), rate, ideal, rate/ideal)
			}
		})
	}
}

// countingCreator closes done after want submissions returned.
type countingCreator struct {
	ports.ContentCreator
	mu   sync.Mutex
	n    int
	want int
	done chan struct{}
}

func (c *countingCreator) Submit(ctx context.Context, req ports.SubmitRequest) (ports.SubmitResult, error) {
	res, err := c.ContentCreator.Submit(ctx, req)
	c.mu.Lock()
	c.n++
	if c.n == c.want {
		close(c.done)
	}
	c.mu.Unlock()
	return res, err
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func seedPending(b *testing.B, store ports.TaskStore, n int, at time.Time) {
	ctx := context.Background()
	for i := range n {
		task, err := domain.NewTask(domain.NewTaskParams{ID: fmt.Sprintf("task-b%05d", i), AccountID: 1, Topic: "backlog"}, at)
		if err == nil {
			_, _, err = store.CreateTask(ctx, task, nil)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}
