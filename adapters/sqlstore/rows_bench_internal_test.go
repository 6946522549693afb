package sqlstore

import (
	"testing"
	"time"

	"contenthub/domain"
)

// BenchmarkTaskRowValues measures what every task write and read pays to
// lay a task row out in column order: its values, then its scan targets.
func BenchmarkTaskRowValues(b *testing.B) {
	tk, err := domain.NewTask(domain.NewTaskParams{ID: "task-bench", AccountID: 7, Topic: "边缘计算"}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	row := taskRowOf(tk.Snapshot())
	for b.Loop() {
		if len(row.values()) != len(taskColumns) || len(row.targets()) != len(taskColumns) {
			b.Fatal("a column without a field")
		}
	}
}
