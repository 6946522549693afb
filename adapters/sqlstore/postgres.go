package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"contenthub/migrations"
)

const defaultPostgresConns = 10

func openPostgres(ctx context.Context, url string, o options) (*Store, error) {
	db, err := o.open(Postgres, url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	conns := o.maxOpenConns
	if conns <= 0 {
		conns = defaultPostgresConns
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(5 * time.Minute)

	s, err := newPostgresStore(ctx, db)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func newPostgresStore(ctx context.Context, db *sqlx.DB) (*Store, error) {
	var schema sql.NullString
	if err := db.GetContext(ctx, &schema, "SELECT current_schema()"); err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if !schema.Valid {
		return nil, errors.New("connect to postgres: search_path names no existing schema")
	}
	// Replicas starting together migrate one at a time. The lock is per
	// schema, so that separate schemas (tests) do not wait for each other.
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(migrationLockID(schema.String)),
		lock.WithLockTimeout(1, 300), // retry every second, for 5 minutes
	)
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	fsys, err := fs.Sub(migrations.Postgres, migrations.PostgresDir)
	if err != nil {
		return nil, fmt.Errorf("postgres migrations: %w", err)
	}
	return newStore(db, db, flavor{
		dialect:    Postgres,
		lockRow:    " FOR UPDATE",
		skipLocked: " FOR UPDATE SKIP LOCKED",
		indexHint:  func(string) string { return "" },
		// Per schema, like the migration lock.
		serializeClaims: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", claimLockID(schema.String)),
		// One snapshot for a task and its attempts.
		readTx: &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead},
	}, goose.DialectPostgres, fsys, goose.WithSessionLocker(locker))
}

func migrationLockID(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("contenthub migrations:" + schema))
	return int64(h.Sum64() &^ (1 << 63))
}

func claimLockID(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("contenthub claims:" + schema))
	return int64(h.Sum64() &^ (1 << 63))
}

// postgresUnavailable recognises server answers that mean "not now": lost
// connections, shutdowns, overload, cancelled statements, and transaction
// conflicts that a retry resolves.
func postgresUnavailable(err error) bool {
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		return false
	}
	switch pqErr.Code.Class() {
	case "08", // connection exception
		"53", // insufficient resources (too many connections, disk full, …)
		"57", // operator intervention: query_canceled, admin_shutdown, cannot_connect_now
		"40": // transaction rollback: serialization failure, deadlock
		return true
	}
	return false
}
