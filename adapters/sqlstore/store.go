// Package sqlstore keeps tasks, their attempts, contents, the publish pool and
// the callback audit log in SQLite (embedded default) or PostgreSQL, with one
// body of sqlx code for both. postgres.go and sqlite.go hold what differs.
//
// Times are stored in UTC at microsecond precision (SQLite: fixed-width text
// that sorts chronologically); a zero time.Time is NULL.
//
// Concurrency: on PostgreSQL, UpdateTask locks the task row (SELECT … FOR
// UPDATE) and ClaimDue skips rows other claimers hold (SKIP LOCKED). On SQLite
// the store has a single writer connection, whose transactions begin with
// BEGIN IMMEDIATE, beside a pool of read-only connections (WAL mode): writers
// queue in the process instead of failing with SQLITE_BUSY, and the busy
// timeout covers other processes using the same file.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"

	"contenthub/ports"
)

var (
	_ ports.TaskStore    = (*Store)(nil)
	_ ports.Health       = (*Store)(nil)
	_ ports.AccountStore = (*Store)(nil)
	_ ports.TaskBatches  = (*Store)(nil)
)

// Dialect names a supported database.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DefaultSQLitePath is the database file used when no URL is configured.
const DefaultSQLitePath = "./data/contenthub.db"

// Store implements ports.TaskStore and ports.Health on a SQL database.
// It is safe for concurrent use.
type Store struct {
	db        *sqlx.DB  // writes, and reads on PostgreSQL
	reads     *sqlx.DB  // reads: SQLite's reader pool, or db itself on PostgreSQL
	writes    *prepared // statements of the hot paths, prepared once per connection of db
	readStmts *prepared // … of reads (writes itself on PostgreSQL)
	// group runs SQLite's write transactions, those queued together in one
	// commit (groupcommit.go); nil on PostgreSQL.
	group     *groupCommit
	taskReads taskReads
	flavor    flavor
	migrator  *goose.Provider
	latest    int64 // newest embedded migration version
}

// flavor is what differs between the databases; postgres.go and sqlite.go
// fill it in.
type flavor struct {
	dialect Dialect
	// lockRow ends the SELECT that locks a task's row before the task is
	// read for update: the row stays locked until the transaction ends.
	lockRow string
	// skipLocked ends the SELECT of tasks to claim: rows another claimer
	// holds are passed over instead of waited for.
	skipLocked string
	// serializeClaims, run first in a claim's transaction, makes claimers
	// take turns, so that each decides on counts that include every claim
	// committed before it (PostgreSQL: a transaction-scoped advisory lock;
	// SQLite's single writer already serialises them).
	serializeClaims string
	// indexHint, given an index, is what follows "FROM tasks t" (and "FROM
	// account_dispatch d") in the fair claim's reads. SQLite without ANALYZE statistics
	// rates an equality on status (tasks_stale_timeout_idx, tasks_claim_idx)
	// above the partial indexes of 00004, then sorts or filters every
	// pending task once per account in the backlog (issue #16): INDEXED BY
	// pins the partial index, one probe per account. PostgreSQL's planner
	// picks the partial indexes by itself.
	indexHint func(index string) string
	// leaseEach: the claim leases the accounts picked once with one
	// statement over a JSON list of them, and each account picked more than
	// once with a statement of its own, rather than one UNION ALL of all.
	// SQLite re-prepares such a union on every run (a bound LIMIT in a
	// compound subquery marks the plan as depending on it), which cost more
	// than the rest of a claim of 8 accounts; these texts stay prepared, and
	// its statements are calls into the library, not round trips.
	// PostgreSQL runs the union as prepared, one round trip.
	leaseEach bool
	// readTx are the options of read-only transactions, chosen so that a
	// task and its attempts are read from one snapshot.
	readTx *sql.TxOptions
}

// Option tunes Open.
type Option func(*options)

type options struct {
	maxOpenConns int
	driverName   string
}

// WithDriverName opens connections through another registered
// database/sql driver speaking the same dialect — a wrapper that traces or
// counts statements, say. SQL is still written for the store's dialect.
func WithDriverName(name string) Option {
	return func(o *options) { o.driverName = name }
}

// open is sqlx.Open through the configured driver, keeping the dialect's
// bind style whatever the driver is called.
func (o options) open(dialect Dialect, dsn string) (*sqlx.DB, error) {
	if o.driverName == "" {
		return sqlx.Open(string(dialect), dsn)
	}
	db, err := sql.Open(o.driverName, dsn)
	if err != nil {
		return nil, err
	}
	return sqlx.NewDb(db, string(dialect)), nil
}

// WithMaxOpenConns sets the size of the connection pool: PostgreSQL
// connections, or SQLite reader connections (SQLite always has exactly one
// writer connection, so writers queue in the process instead of failing with
// SQLITE_BUSY). Default 10 for PostgreSQL, 4 for SQLite.
func WithMaxOpenConns(n int) Option {
	return func(o *options) { o.maxOpenConns = n }
}

// Open connects to databaseURL:
//
//   - "" → the SQLite file DefaultSQLitePath (its directory is created);
//   - "sqlite://PATH" → the SQLite file PATH ("sqlite:///abs/file.db", "sqlite://rel/file.db");
//   - "postgres://…" or "postgresql://…" → PostgreSQL through lib/pq; any lib/pq
//     parameter is accepted, search_path included.
//
// Open checks that the database answers but does not migrate it: call
// MigrateUp for that.
func Open(ctx context.Context, databaseURL string, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case databaseURL == "":
		return openSQLite(ctx, DefaultSQLitePath, o)
	case strings.HasPrefix(databaseURL, "sqlite://"):
		return openSQLite(ctx, strings.TrimPrefix(databaseURL, "sqlite://"), o)
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return openPostgres(ctx, databaseURL, o)
	}
	scheme, _, _ := strings.Cut(databaseURL, ":") // never echo the rest: it may hold a password
	return nil, fmt.Errorf("unsupported database URL scheme %q: want postgres://, postgresql:// or sqlite://", scheme)
}

// Dialect reports which database the store uses.
func (s *Store) Dialect() Dialect { return s.flavor.dialect }

// Close releases the connections.
func (s *Store) Close() error {
	if s.group != nil {
		s.group.close()
	}
	err := s.writes.close()
	if s.readStmts != s.writes {
		err = errors.Join(err, s.readStmts.close())
	}
	err = errors.Join(err, s.db.Close())
	if s.reads != s.db {
		if rerr := s.reads.Close(); err == nil {
			err = rerr
		}
	}
	return err
}

// inWriteTx runs fn in a write transaction: committed when fn returns nil,
// rolled back otherwise, with fn's error returned as is. On SQLite fn may
// share the transaction with other writes queued at the same time, each in
// a savepoint of its own (groupCommit): fn's changes are committed or
// rolled back as if alone.
func (s *Store) inWriteTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	if s.group != nil {
		return s.group.run(ctx, fn)
	}
	err := inTx(ctx, s.db, nil, fn)
	s.writes.prepareWanted(ctx) // statements first met in the transaction, now that its connection is free
	return err
}

// inReadTx runs fn in a read-only transaction.
func (s *Store) inReadTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return inTx(ctx, s.reads, s.flavor.readTx, fn)
}

func inTx(ctx context.Context, db *sqlx.DB, opts *sql.TxOptions, fn func(tx *sqlx.Tx) error) (err error) {
	tx, err := db.BeginTxx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		// A panic must not leave the transaction (on SQLite: the only
		// writer connection) open.
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
