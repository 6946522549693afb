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
// 160 tasks/s (the sweep alone would allow 8 per second). Starting a process
// costs time of its own — on a small VM several milliseconds, more with 8 at
// once — so the benchmark also measures, in the same run, the ceiling: the
// same CLI run 8 at a time by the runner alone, with no dispatcher and no
// database. It reports the rate against both.
func BenchmarkDispatchBacklog(b *testing.B) {
	const (
		tasks       = 1000
		concurrency = 8
		createTakes = 50 * time.Millisecond
	)
	cli := filepath.Join(b.TempDir(), "cc")
	if err := os.WriteFile(cli, []byte("#!/bin/sh\nexec sleep 0.05\n"), 0o755); err != nil {
		b.Fatal(err)
	}
	runner, err := creatorexec.New(creatorexec.Config{Command: cli})
	if err != nil {
		b.Fatal(err)
	}
	ceiling := spawnCeiling(b, runner, concurrency, 400)
	ideal := float64(concurrency) / createTakes.Seconds()
	creators := map[string]ports.ContentCreator{
		"exec":       runner,
		"in-process": sleepingCreator{createTakes}, // no process to start: the dispatcher's own cost
	}
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{"sqlite": sqlstoretest.NewSQLite, "postgres": sqlstoretest.NewPostgres} {
		for kind, creator := range creators {
			b.Run(name+"/"+kind, func(b *testing.B) {
				for range b.N {
					b.StopTimer()
					store := open(b)
					seedPending(b, store, tasks, time.Now().Add(-time.Hour))
					counting := &countingCreator{ContentCreator: creator, done: make(chan struct{}), want: tasks}
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
					b.ReportMetric(rate, "tasks/s")
					b.ReportMetric(rate/ideal, "of_8/50ms")
					line := fmt.Sprintf("dispatch backlog %s, %s creator: %d tasks in %s = %.0f tasks/s; 8/50ms = %.0f/s (%.2f of it)",
						name, kind, tasks, took.Round(time.Millisecond), rate, ideal, rate/ideal)
					if kind == "exec" {
						b.ReportMetric(rate/ceiling, "of_ceiling")
						line += fmt.Sprintf("; the same CLI 8 at a time without dispatcher or database: %.0f/s (%.2f of it)", ceiling, rate/ceiling)
					}
					fmt.Println(line)
				}
			})
		}
	}
}

// sleepingCreator is a content-creator whose create takes d, in process.
type sleepingCreator struct{ d time.Duration }

func (c sleepingCreator) Submit(context.Context, ports.SubmitRequest) (ports.SubmitResult, error) {
	time.Sleep(c.d)
	return ports.SubmitResult{}, nil
}
func (sleepingCreator) Status(context.Context, string) (ports.CreatorStatus, error) {
	return ports.CreatorStatus{}, nil
}
func (sleepingCreator) Result(context.Context, string) (domain.Result, error) {
	return domain.Result{}, nil
}
func (sleepingCreator) Cancel(context.Context, string) error { return nil }

// spawnCeiling is how many creates per second the runner alone achieves,
// concurrency at a time: no dispatcher can submit faster on this machine.
func spawnCeiling(b *testing.B, runner ports.ContentCreator, concurrency, runs int) float64 {
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range runs / concurrency {
				if _, err := runner.Submit(context.Background(), ports.SubmitRequest{ExternalRef: "ceiling-1", Brief: domain.Brief{Topic: "t"}}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(runs) / time.Since(start).Seconds()
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
