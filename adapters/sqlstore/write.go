package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/jmoiron/sqlx"
	"github.com/jmoiron/sqlx/reflectx"
	"github.com/lib/pq"

	"contenthub/domain"
	"contenthub/ports"
)

// prepared keeps one *sql.Stmt per query text. database/sql prepares it on
// each connection the first time that connection runs it and reuses it
// after, so a statement costs one round trip instead of lib/pq's two
// (parse, then bind and execute) and is planned once per connection.
type prepared struct {
	db     *sql.DB
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	wanted map[string]bool // met in a transaction before being prepared
	closed bool
}

func newPrepared(db *sql.DB) *prepared {
	return &prepared{db: db, stmts: map[string]*sql.Stmt{}, wanted: map[string]bool{}}
}

// get returns the statement, preparing it now if need be. Never call it
// while holding a transaction of the same pool: preparing takes a
// connection of its own (use in).
func (p *prepared) get(ctx context.Context, query string) (*sql.Stmt, error) {
	p.mu.Lock()
	st, ok := p.stmts[query]
	p.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	// Never close a statement while holding mu: closing waits for each
	// connection the statement lives on, and a transaction on one of them
	// may be waiting for mu (in) while holding a row another statement of
	// this pool waits for.
	p.mu.Lock()
	prev, ok := p.stmts[query]
	closed := p.closed
	if !ok && !closed {
		p.stmts[query] = st
	}
	p.mu.Unlock()
	switch {
	case ok: // prepared meanwhile
		_ = st.Close()
		return prev, nil
	case closed:
		_ = st.Close()
		return nil, errors.New("prepare: store closed")
	}
	return st, nil
}

// in returns query bound to tx. A statement not prepared yet runs as it is
// this time, and prepareWanted prepares it once the transaction is over:
// preparing takes a connection, and the transaction holds one (SQLite's
// writer pool has no other).
func (p *prepared) in(ctx context.Context, tx *sql.Tx, query string) statement {
	p.mu.Lock()
	st, ok := p.stmts[query]
	if !ok {
		p.wanted[query] = true
	}
	p.mu.Unlock()
	if ok {
		return statement{st: tx.StmtContext(ctx, st)}
	}
	return statement{tx: tx, query: query}
}

// prepareWanted prepares what in met unprepared. Failures are left for the
// next time.
func (p *prepared) prepareWanted(ctx context.Context) {
	p.mu.Lock()
	var queries []string
	for q := range p.wanted {
		queries = append(queries, q)
	}
	p.mu.Unlock()
	for _, q := range queries {
		if _, err := p.get(ctx, q); err == nil {
			p.mu.Lock()
			delete(p.wanted, q)
			p.mu.Unlock()
		}
	}
}

func (p *prepared) close() error {
	p.mu.Lock()
	p.closed = true
	stmts := p.stmts
	p.stmts = map[string]*sql.Stmt{}
	p.mu.Unlock()
	var errs []error
	for _, st := range stmts { // outside mu, as in get
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// statement is a prepared statement, or a query run in a transaction as it is.
type statement struct {
	st    *sql.Stmt
	tx    *sql.Tx
	query string
}

func (s statement) exec(ctx context.Context, args ...any) (sql.Result, error) {
	if s.st != nil {
		return s.st.ExecContext(ctx, args...)
	}
	return s.tx.ExecContext(ctx, s.query, args...)
}

func (s statement) rows(ctx context.Context, args ...any) (*sql.Rows, error) {
	if s.st != nil {
		return s.st.QueryContext(ctx, args...)
	}
	return s.tx.QueryContext(ctx, s.query, args...)
}

func (s statement) row(ctx context.Context, args ...any) *sql.Row {
	if s.st != nil {
		return s.st.QueryRowContext(ctx, args...)
	}
	return s.tx.QueryRowContext(ctx, s.query, args...)
}

// rowMapper reads a row struct's db tags as sqlx does for the store's
// Select and Get (the same tag, the same name mapping).
var rowMapper = reflectx.NewMapperFunc("db", sqlx.NameMapper)

// rowTraversals maps a row struct's fields to a column list once per type,
// so that a row's values and scan targets follow its table's column list
// (taskColumns, …) without per-call named-query compilation. Each row type
// is used with one column list.
var rowTraversals sync.Map // reflect.Type → [][]int, field traversal per column

func fieldTraversals(t reflect.Type, columns []string) [][]int {
	if idx, ok := rowTraversals.Load(t); ok {
		return idx.([][]int)
	}
	idx := rowMapper.TraversalsByName(t, columns)
	for i, c := range columns {
		if len(idx[i]) == 0 {
			panic(fmt.Sprintf("sqlstore: %s has no field for column %s", t, c))
		}
	}
	rowTraversals.Store(t, idx)
	return idx
}

// rowValues are row's values in the order of columns.
func rowValues(row any, columns []string) []any {
	v := reflect.ValueOf(row)
	out := make([]any, len(columns))
	for i, path := range fieldTraversals(v.Type(), columns) {
		out[i] = reflectx.FieldByIndexesReadOnly(v, path).Interface()
	}
	return out
}

// rowTargets are Scan destinations into *row in the order of columns.
func rowTargets(row any, columns []string) []any {
	v := reflect.ValueOf(row).Elem()
	out := make([]any, len(columns))
	for i, path := range fieldTraversals(v.Type(), columns) {
		out[i] = reflectx.FieldByIndexes(v, path).Addr().Interface()
	}
	return out
}

func (r taskRow) values() []any     { return rowValues(r, taskColumns) }
func (r *taskRow) targets() []any   { return rowTargets(r, taskColumns) }
func (r attemptRow) values() []any  { return rowValues(r, attemptColumns) }
func (r contentRow) values() []any  { return rowValues(r, contentColumns) }
func (r poolRow) values() []any     { return rowValues(r, poolColumns) }
func (r deliveryRow) values() []any { return rowValues(r, deliveryColumns) }

// joinedAttempt is the attempt half of a task-with-attempts row (LEFT
// JOIN): all NULL for a task without attempts.
type joinedAttempt struct {
	TaskID       sql.NullString `db:"task_id"`
	Number       sql.NullInt64  `db:"number"`
	ExternalRef  sql.NullString `db:"external_ref"`
	TokenHash    sql.NullString `db:"token_hash"`
	CallbackURL  sql.NullString `db:"callback_url"`
	State        sql.NullString `db:"state"`
	ErrorCode    sql.NullString `db:"error_code"`
	ErrorType    sql.NullString `db:"error_type"`
	ErrorMessage sql.NullString `db:"error_message"`
	OpenedAt     dbTime         `db:"opened_at"`
	SubmittedAt  dbTime         `db:"submitted_at"`
	FinishedAt   dbTime         `db:"finished_at"`
}

func (a joinedAttempt) attempt() (domain.Attempt, bool) {
	if !a.Number.Valid {
		return domain.Attempt{}, false
	}
	return attemptRow{
		TaskID: a.TaskID.String, Number: int(a.Number.Int64), ExternalRef: a.ExternalRef.String,
		TokenHash: a.TokenHash.String, CallbackURL: a.CallbackURL.String, State: a.State.String,
		ErrorCode: a.ErrorCode, ErrorType: a.ErrorType, ErrorMessage: a.ErrorMessage,
		OpenedAt: a.OpenedAt, SubmittedAt: a.SubmittedAt, FinishedAt: a.FinishedAt,
	}.attempt(), true
}

// taskReads are the statements that read a task with its attempts, one row
// per attempt (LEFT JOIN): one statement, one snapshot, one round trip.
type taskReads struct {
	get     string // by id
	getSeen string // by id, with whether a delivery id is recorded for it
	// lock takes the task's row lock for the transaction ("" where the
	// store's single writer already serialises writes). It is a statement
	// of its own, before the read: on PostgreSQL a locking read that had to
	// wait for a concurrent writer returns that writer's task row but the
	// joined attempts of its own, older snapshot (READ COMMITTED re-reads
	// only the locked row), so a completed task could be read with its
	// attempt still open and written back so. The read that follows the
	// lock gets a snapshot that holds the writer's whole commit.
	lock string
}

func newTaskReads(rebind func(string) string, lockRow string) taskReads {
	cols := make([]string, 0, len(taskColumns)+len(attemptColumns))
	for _, c := range taskColumns {
		cols = append(cols, "t."+c)
	}
	for _, c := range attemptColumns {
		cols = append(cols, "a."+c)
	}
	from := " FROM tasks t LEFT JOIN task_attempts a ON a.task_id = t.id WHERE t.id = ? ORDER BY a.number"
	sel := "SELECT " + strings.Join(cols, ", ")
	reads := taskReads{
		get: rebind(sel + from),
		// Uncorrelated, so evaluated once whatever the number of attempts.
		getSeen: rebind(sel + ", EXISTS (SELECT 1 FROM webhook_deliveries WHERE task_id = ? AND delivery_id = ?)" + from),
	}
	if lockRow != "" {
		reads.lock = rebind("SELECT 1 FROM tasks WHERE id = ?" + lockRow)
	}
	return reads
}

// readTask runs a task read with args; seen, when given, receives the
// statement's last column.
func readTask(ctx context.Context, st statement, id string, args []any, seen *bool) (*domain.Task, error) {
	rows, err := st.rows(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("load task %s: %w", id, err)
	}
	defer rows.Close()
	var (
		row      taskRow
		attempts []domain.Attempt
		found    bool
	)
	for rows.Next() {
		var a joinedAttempt
		targets := append(row.targets(), rowTargets(&a, attemptColumns)...)
		if seen != nil {
			targets = append(targets, seen)
		}
		if err := rows.Scan(targets...); err != nil {
			return nil, fmt.Errorf("load task %s: %w", id, err)
		}
		found = true
		if at, ok := a.attempt(); ok {
			attempts = append(attempts, at)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load task %s: %w", id, err)
	}
	if !found {
		return nil, fmt.Errorf("task %s: %w", id, domain.ErrNotFound)
	}
	return row.task(attempts), nil
}

// A write is the statements of one update: the task (compare-and-set on its
// version), its changed attempts, content, pool entry and delivery record.
type write struct {
	taskID   string
	expected int64 // the version the decision was made on
	task     *taskRow
	attempts []attemptRow
	content  *contentRow
	pool     *poolRow
	delivery *deliveryRow
	notify   *domain.Notification // the outbox's messages, one per subscribed endpoint
}

func (w write) empty() bool {
	return w.task == nil && len(w.attempts) == 0 && w.content == nil && w.pool == nil && w.delivery == nil &&
		w.notify == nil
}

// newWrite turns fn's decision about t into rows. before are t's attempts
// as read; only those that changed are written.
func newWrite(t *domain.Task, expected int64, before []domain.Attempt, changes ports.TaskChanges) write {
	w := write{taskID: t.ID(), expected: expected}
	if changes.SaveTask {
		snap := t.Snapshot()
		row := taskRowOf(snap)
		row.Version = expected + 1
		w.task = &row
		old := make(map[int]domain.Attempt, len(before))
		for _, a := range before {
			old[a.Number] = a
		}
		for _, a := range snap.Attempts {
			if prev, ok := old[a.Number]; ok && sameAttempt(prev, a) {
				continue
			}
			w.attempts = append(w.attempts, attemptRowOf(snap.ID, a))
		}
	}
	if changes.Content != nil {
		r := contentRowOf(*changes.Content)
		w.content = &r
	}
	if changes.PoolEntry != nil {
		r := poolRowOf(*changes.PoolEntry)
		w.pool = &r
	}
	if changes.Delivery != nil {
		r := deliveryRowOf(*changes.Delivery)
		w.delivery = &r
	}
	w.notify = changes.Notify
	return w
}

// errStale reports a write whose version check found the task changed.
var errStale = errors.New("task changed since it was read")

// apply runs the write in tx (nil: on its own, as one statement where the
// database allows it). A changed version is errStale with nothing written.
func (s *Store) apply(ctx context.Context, tx *sql.Tx, w write) error {
	if w.empty() {
		return nil
	}
	if s.flavor.dialect == Postgres {
		return s.applyPostgres(ctx, tx, w)
	}
	if tx != nil {
		return s.applyStatements(ctx, tx, w)
	}
	return s.inWriteTx(ctx, func(tx *sqlx.Tx) error { return s.applyStatements(ctx, tx.Tx, w) })
}

// applyPostgres writes everything with one statement: data-modifying CTEs,
// each insert conditional on the compare-and-set, so that a stale version
// writes nothing. Unique violations abort the whole statement.
func (s *Store) applyPostgres(ctx context.Context, tx *sql.Tx, w write) error {
	query, args := postgresWrite(w)
	st := statement{}
	if tx != nil {
		st = s.writes.in(ctx, tx, query)
	} else {
		prep, err := s.writes.get(ctx, query)
		if err != nil {
			return err
		}
		st.st = prep
	}
	var n int
	if err := st.row(ctx, args...).Scan(&n); err != nil {
		return writeError(w, err)
	}
	if n == 0 {
		return errStale
	}
	return nil
}

// writeShape is what a write's statement text depends on.
type writeShape struct {
	task                    bool
	attempts                int
	content, pool, delivery bool
	notify                  bool
}

func (w write) shape() writeShape {
	return writeShape{task: w.task != nil, attempts: len(w.attempts), content: w.content != nil,
		pool: w.pool != nil, delivery: w.delivery != nil, notify: w.notify != nil}
}

// postgresWrites caches the statement text of each shape.
var postgresWrites sync.Map // writeShape → string

// postgresWrite returns the statement for w and its arguments: $1 the task
// id, $2 the expected version, then the rows' values in column order.
func postgresWrite(w write) (string, []any) {
	args := []any{w.taskID, w.expected}
	if w.task != nil {
		args = append(args, w.task.values()[1:]...) // id is $1
	}
	for _, a := range w.attempts {
		args = append(args, a.values()...)
	}
	if w.content != nil {
		args = append(args, w.content.values()...)
	}
	if w.pool != nil {
		args = append(args, w.pool.values()...)
	}
	if w.delivery != nil {
		args = append(args, w.delivery.values()...)
	}
	if n := w.notify; n != nil {
		args = append(args, n.ID, string(n.Event), n.Subject, n.AccountID, string(n.Payload), timeCol(n.At), string(n.Event))
	}
	sh := w.shape()
	if query, ok := postgresWrites.Load(sh); ok {
		return query.(string), args
	}
	query := postgresWriteSQL(sh)
	postgresWrites.Store(sh, query)
	return query, args
}

// postgresWriteSQL is one statement of data-modifying CTEs: t is the
// compare-and-set (or, without a task to save, the version check), and each
// insert takes its row FROM t, so nothing is written when t finds no row.
func postgresWriteSQL(sh writeShape) string {
	n := 2
	param := func(cast string) string {
		n++
		p := "$" + strconv.Itoa(n)
		if cast != "" {
			p += "::" + cast
		}
		return p
	}
	var b strings.Builder
	b.WriteString("WITH t AS (")
	if sh.task {
		b.WriteString("UPDATE tasks SET ")
		for i, c := range taskColumns[1:] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(c + " = " + param(""))
		}
		b.WriteString(" WHERE id = $1 AND version = $2 RETURNING 1")
	} else {
		b.WriteString("SELECT 1 FROM tasks WHERE id = $1 AND version = $2")
	}
	b.WriteString(")")
	insert := func(name, table string, columns []string, suffix string) {
		b.WriteString(", " + name + " AS (INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") SELECT ")
		for i, c := range columns {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(param(postgresType(c)))
		}
		b.WriteString(" FROM t" + suffix + ")")
	}
	for i := range sh.attempts {
		insert("a"+strconv.Itoa(i), "task_attempts", attemptColumns,
			" ON CONFLICT (task_id, number) DO UPDATE SET "+assignExcluded(attemptColumns[2:]))
	}
	if sh.content {
		insert("c", "contents", contentColumns, "")
	}
	if sh.pool {
		insert("p", "publish_pool", poolColumns, "")
	}
	if sh.delivery {
		insert("d", "webhook_deliveries", deliveryColumns, "")
	}
	if sh.notify {
		// The outbox: fanned out to the endpoints in the same statement,
		// so subscribers cost the write no round trip.
		b.WriteString(", n AS (" + outboxInsertSQL(param, "t, ") + ")")
	}
	b.WriteString(" SELECT count(*) FROM t")
	return b.String()
}

// postgresType is a column's type, for parameters PostgreSQL cannot infer
// (INSERT … SELECT reads them as text otherwise). Kept by hand beside the
// migrations; TestPostgresCastsMatchTheSchema checks it against the
// migrated schema.
func postgresType(column string) string {
	switch column {
	case "account_id", "version":
		return "bigint"
	case "priority", "attempt", "max_attempts", "progress_percentage", "number", "word_count", "http_status",
		"retry_count", "max_retries":
		return "integer"
	case "auto_approve", "attempt_open", "late":
		return "boolean"
	case "quality_score":
		return "double precision"
	}
	if strings.HasSuffix(column, "_at") || column == "lease_until" {
		return "timestamptz"
	}
	return "text"
}

// writeError maps a failed PostgreSQL write: a unique violation is the row
// that exists (refusedWrite).
func writeError(w write, err error) error {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23505" { // unique_violation
		if refused := refusedWrite(w, pqErr.Table); refused != nil {
			return refused
		}
	}
	return fmt.Errorf("save task %s: %w", w.taskID, err)
}

// refusedWrite is the error of a write refused because a row it adds to
// table exists, on either dialect (PostgreSQL reports a unique violation,
// SQLite's ON CONFLICT DO NOTHING no row): a delivery id already recorded
// for the task is domain.ErrDuplicateDelivery; content or a pool entry that
// exists is domain.ErrConflict. Nil for a table whose rows never conflict.
func refusedWrite(w write, table string) error {
	switch {
	case table == "webhook_deliveries" && w.delivery != nil:
		return fmt.Errorf("delivery %s of task %s: %w", w.delivery.DeliveryID.String, w.taskID, domain.ErrDuplicateDelivery)
	case table == "contents" && w.content != nil:
		return fmt.Errorf("content %s of task %s exists: %w", w.content.ID, w.taskID, domain.ErrConflict)
	case table == "publish_pool" && w.pool != nil:
		return fmt.Errorf("pool entry %s for content %s of task %s exists: %w", w.pool.ID, w.pool.ContentID, w.taskID, domain.ErrConflict)
	}
	return nil
}

var (
	checkVersionSQL  = "SELECT 1 FROM tasks WHERE id = ? AND version = ?"
	updateTaskSQL    = updateSQL()
	upsertAttemptSQL = insertSQL("task_attempts", attemptColumns) +
		" ON CONFLICT (task_id, number) DO UPDATE SET " + assignExcluded(attemptColumns[2:])
	// A NULL delivery id never conflicts, so unauthenticated deliveries are
	// all kept.
	insertDeliverySQL = insertSQL("webhook_deliveries", deliveryColumns) +
		" ON CONFLICT (task_id, delivery_id) DO NOTHING"
	// Any unique key (id, task_id; id, content_id) makes the insert a no-op,
	// which is reported as domain.ErrConflict.
	insertContentSQL = insertSQL("contents", contentColumns) + " ON CONFLICT DO NOTHING"
	insertPoolSQL    = insertSQL("publish_pool", poolColumns) + " ON CONFLICT DO NOTHING"
)

// applyStatements writes w statement by statement in tx: SQLite, whose
// statements cost no round trip, and whose single writer holds the
// database's write lock for the whole transaction.
func (s *Store) applyStatements(ctx context.Context, tx *sql.Tx, w write) error {
	exec := func(query string, args ...any) (sql.Result, error) {
		return s.writes.in(ctx, tx, s.db.Rebind(query)).exec(ctx, args...)
	}
	if w.task != nil {
		res, err := exec(updateTaskSQL, append(w.task.values()[1:], w.taskID, w.expected)...)
		if err := oneRow(res, err); err != nil {
			if errors.Is(err, errNoRow) {
				return errStale
			}
			return fmt.Errorf("save task %s: %w", w.taskID, err)
		}
	} else {
		var one int
		switch err := s.writes.in(ctx, tx, s.db.Rebind(checkVersionSQL)).row(ctx, w.taskID, w.expected).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			return errStale
		case err != nil:
			return fmt.Errorf("check task %s: %w", w.taskID, err)
		}
	}
	for _, a := range w.attempts {
		if _, err := exec(upsertAttemptSQL, a.values()...); err != nil {
			return fmt.Errorf("save task %s: attempt %d: %w", w.taskID, a.Number, err)
		}
	}
	if w.delivery != nil {
		res, err := exec(insertDeliverySQL, w.delivery.values()...)
		if err := oneRow(res, err); err != nil {
			if errors.Is(err, errNoRow) {
				return refusedWrite(w, "webhook_deliveries")
			}
			return fmt.Errorf("record delivery: %w", err)
		}
	}
	if w.content != nil {
		res, err := exec(insertContentSQL, w.content.values()...)
		if err := oneRow(res, err); err != nil {
			if errors.Is(err, errNoRow) {
				return refusedWrite(w, "contents")
			}
			return fmt.Errorf("insert content: %w", err)
		}
	}
	if w.pool != nil {
		res, err := exec(insertPoolSQL, w.pool.values()...)
		if err := oneRow(res, err); err != nil {
			if errors.Is(err, errNoRow) {
				return refusedWrite(w, "publish_pool")
			}
			return fmt.Errorf("insert pool entry: %w", err)
		}
	}
	if w.notify != nil {
		if _, err := exec(sqliteOutboxInsert, outboxArgs(w.notify)...); err != nil {
			return fmt.Errorf("write notification %s: %w", w.notify.ID, err)
		}
	}
	return nil
}

// updateSQL writes every column of a task if it is still at the version it
// was read at (compare-and-set): the columns but id in order, then id and the
// expected version.
func updateSQL() string {
	sets := make([]string, 0, len(taskColumns))
	for _, c := range taskColumns[1:] {
		sets = append(sets, c+" = ?")
	}
	return "UPDATE tasks SET " + strings.Join(sets, ", ") + " WHERE id = ? AND version = ?"
}

func assignExcluded(columns []string) string {
	sets := make([]string, len(columns))
	for i, c := range columns {
		sets[i] = c + " = excluded." + c
	}
	return strings.Join(sets, ", ")
}

// insertSQL is "INSERT INTO table (a, b) VALUES (?, ?)".
func insertSQL(table string, columns []string) string {
	return "INSERT INTO " + table + " (" + strings.Join(columns, ", ") +
		") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ") + ")"
}
