package sqlstore_test

import (
	"fmt"
	"testing"
	"time"

	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
	"contenthub/ports"
)

// BenchmarkUpdateTask measures one callback's storage round trip: load the
// task and its attempts, apply a progress event, save with compare-and-set,
// record the delivery.
func BenchmarkUpdateTask(b *testing.B) {
	for _, impl := range sqlstoretest.Implementations() {
		b.Run(impl.Name, func(b *testing.B) {
			s := impl.Open(b)
			ctx := b.Context()
			if _, _, err := s.CreateTask(ctx, submitted(b, "task-bench", base), nil); err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				i++
				err := s.UpdateTask(ctx, "task-bench", func(tk *domain.Task) (ports.TaskChanges, error) {
					if _, err := tk.Apply(progressEv(base.Add(time.Second), 1, 50, fmt.Sprint("report ", i)), rules); err != nil {
						return ports.TaskChanges{}, err
					}
					return ports.TaskChanges{SaveTask: true, Delivery: delivery(tk.ID(), "progress", fmt.Sprint("wh:", i))}, nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUpdateTaskAt measures a callback's write on the task it has just
// read: no transaction opened by the caller, a prepared statement, on
// PostgreSQL one statement (compare-and-set and the delivery together).
func BenchmarkUpdateTaskAt(b *testing.B) {
	for _, impl := range sqlstoretest.Implementations() {
		b.Run(impl.Name, func(b *testing.B) {
			s := impl.Open(b)
			ctx := b.Context()
			tk, _, err := s.CreateTask(ctx, submitted(b, "task-bench", base), nil)
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				i++
				err := s.UpdateTaskAt(ctx, tk, func(tk *domain.Task) (ports.TaskChanges, error) {
					if _, err := tk.Apply(progressEv(base.Add(time.Second), 1, 50, fmt.Sprint("report ", i)), rules); err != nil {
						return ports.TaskChanges{}, err
					}
					return ports.TaskChanges{SaveTask: true, Delivery: delivery(tk.ID(), "progress", fmt.Sprint("wh:", i))}, nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
