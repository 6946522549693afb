package sqlstore

import (
	"context"

	"contenthub/domain"
	"contenthub/ports"
)

// SaveTask runs the compare-and-set save of UpdateTask on its own, so tests
// can save a task that was loaded before someone else saved it.
func SaveTask(ctx context.Context, s *Store, t *domain.Task) error {
	return s.UpdateTaskAt(ctx, t, func(*domain.Task) (ports.TaskChanges, error) {
		return ports.TaskChanges{SaveTask: true}, nil
	})
}
