package sqlstore

import (
	"context"
)

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

// InsertedColumns are the columns the PostgreSQL one-statement write inserts,
// per table: the ones whose parameters it casts with postgresType.
var InsertedColumns = map[string][]string{
	"task_attempts":      attemptColumns,
	"contents":           contentColumns,
	"publish_pool":       poolColumns,
	"webhook_deliveries": deliveryColumns,
}

// PostgresType is the cast the one-statement write gives a column's parameter.
var PostgresType = postgresType

// SchemaType is the type the migrated PostgreSQL schema declares for a
// column, and the type cast is, both in PostgreSQL's own spelling.
func SchemaType(ctx context.Context, s *Store, table, column, cast string) (declared, casted string, err error) {
	var row struct {
		Declared string `db:"declared"`
		Casted   string `db:"casted"`
	}
	err = s.reads.GetContext(ctx, &row, `SELECT format_type(atttypid, NULL) AS declared,
		format_type($3::regtype, NULL) AS casted
		FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped`, table, column, cast)
	return row.Declared, row.Casted, err
}

// QueuedWrites is the number of SQLite writes waiting for the group under
// way to commit.
func QueuedWrites(s *Store) int { return len(s.group.queue) }
