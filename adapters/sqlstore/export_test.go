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

// TaskIDColumns lists every table with a task_id column in the store's
// schema, so tests can check that nothing of a task is left anywhere.
func TaskIDColumns(ctx context.Context, s *Store) ([]string, error) {
	var tables []string
	if s.flavor.dialect == Postgres {
		err := s.reads.SelectContext(ctx, &tables, `SELECT table_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND column_name = 'task_id' ORDER BY table_name`)
		return tables, err
	}
	err := s.reads.SelectContext(ctx, &tables, `SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) c
		WHERE m.type = 'table' AND c.name = 'task_id' ORDER BY m.name`)
	return tables, err
}

// RowsOfTask counts the rows of table whose task_id is id.
func RowsOfTask(ctx context.Context, s *Store, table, id string) (int, error) {
	var n int
	err := s.reads.GetContext(ctx, &n, s.reads.Rebind("SELECT COUNT(*) FROM "+table+" WHERE task_id = ?"), id)
	return n, err
}
