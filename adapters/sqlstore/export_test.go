package sqlstore

import (
	"context"
	"fmt"
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

// DispatchDrift lists, one line each, the accounts whose dispatch state
// (account_dispatch, migration 00009) differs from a recount of their tasks
// and limits: what the triggers keep must always equal it.
func DispatchDrift(ctx context.Context, s *Store) ([]string, error) {
	type state struct {
		AccountID int64   `db:"account_id"`
		Waiting   int     `db:"waiting"`
		Running   int     `db:"running"`
		Weight    int     `db:"weight"`
		Share     float64 `db:"share"`
		Head      dbTime  `db:"head"`
	}
	var kept, counted []state
	if err := s.reads.SelectContext(ctx, &kept, `SELECT account_id, waiting, running, weight, share, head
		FROM account_dispatch WHERE waiting <> 0 OR running <> 0 OR weight <> 1 ORDER BY account_id`); err != nil {
		return nil, err
	}
	if err := s.reads.SelectContext(ctx, &counted, `SELECT c.account_id AS account_id, c.waiting AS waiting, c.running AS running,
			coalesce(l.weight, 1) AS weight, CAST(c.running AS DOUBLE PRECISION) / coalesce(l.weight, 1) AS share, c.head AS head
		FROM (SELECT account_id,
				sum(CASE WHEN `+waitingTask+` THEN 1 ELSE 0 END) AS waiting,
				sum(CASE WHEN `+runningTask+` THEN 1 ELSE 0 END) AS running,
				min(CASE WHEN `+waitingTask+` THEN created_at END) AS head
			FROM tasks GROUP BY account_id
			UNION ALL SELECT account_id, 0, 0, NULL FROM account_limits
				WHERE account_id NOT IN (SELECT account_id FROM tasks)) c
		LEFT JOIN account_limits l ON l.account_id = c.account_id
		WHERE c.waiting <> 0 OR c.running <> 0 OR coalesce(l.weight, 1) <> 1 ORDER BY c.account_id`); err != nil {
		return nil, err
	}
	var drift []string
	byAccount := map[int64]state{}
	for _, k := range kept {
		byAccount[k.AccountID] = k
	}
	for _, c := range counted {
		k, ok := byAccount[c.AccountID]
		delete(byAccount, c.AccountID)
		if !ok || k.Waiting != c.Waiting || k.Running != c.Running || k.Weight != c.Weight || k.Share != c.Share ||
			!k.Head.Equal(c.Head.Time) {
			drift = append(drift, fmt.Sprintf("account %d: kept %+v, counted %+v", c.AccountID, k, c))
		}
	}
	for _, k := range byAccount {
		drift = append(drift, fmt.Sprintf("account %d: kept %+v, counted nothing", k.AccountID, k))
	}
	return drift, nil
}
