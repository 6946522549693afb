package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"contenthub/migrations"
)

func init() {
	// sqlx knows the bind style of mattn's "sqlite3" but not of modernc's "sqlite".
	sqlx.BindDriver("sqlite", sqlx.QUESTION)
}

const defaultSQLiteReaders = 4

// SQLite settings. WAL lets readers work beside the writer; the busy timeout
// covers other processes (a migrate command) holding the file; the writer
// begins with BEGIN IMMEDIATE so it takes the write lock up front instead of
// failing on upgrade from a read lock. Each reader keeps a 512 KiB page
// cache instead of SQLite's 2 MiB: the cache is memory outside Go's heap and
// its limit, four readers held 8 MiB of the service's RSS (issue 20), and the
// pages a reader misses are in the operating system's cache, one pread away.
const (
	sqliteCommon = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	sqliteWriter = sqliteCommon + "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	sqliteReader = sqliteCommon + "&_pragma=query_only(1)&_pragma=cache_size(-512)"
)

func openSQLite(ctx context.Context, path string, o options) (*Store, error) {
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, ":memory:") {
		return nil, fmt.Errorf("sqlite: %q is not a database file path", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: create database directory: %w", err)
	}
	// One writer connection: writes queue in the process and never meet
	// SQLITE_BUSY from each other.
	writer, err := o.open(SQLite, path+"?"+sqliteWriter)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	// The first connection creates the file and switches it to WAL before
	// any reader opens it.
	if err := writer.PingContext(ctx); err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}

	readers := o.maxOpenConns
	if readers <= 0 {
		readers = defaultSQLiteReaders
	}
	reader, err := o.open(SQLite, path+"?"+sqliteReader)
	if err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	reader.SetMaxOpenConns(readers)
	reader.SetMaxIdleConns(readers)

	fsys, err := fs.Sub(migrations.SQLite, migrations.SQLiteDir)
	if err != nil {
		_ = writer.Close()
		_ = reader.Close()
		return nil, fmt.Errorf("sqlite migrations: %w", err)
	}
	s, err := newStore(writer, reader, flavor{
		dialect: SQLite,
		// Writes are serialised by the single writer connection, which
		// holds the database's write lock for the whole transaction.
		lockRow:    "",
		skipLocked: "",
		indexHint:  func(index string) string { return " INDEXED BY " + index },
		leaseEach:  true,
		// A read transaction in WAL mode reads one snapshot.
		readTx: &sql.TxOptions{ReadOnly: true},
	}, goose.DialectSQLite3, fsys)
	if err != nil {
		_ = writer.Close()
		_ = reader.Close()
		return nil, err
	}
	s.group = newGroupCommit(writer, s.writes.prepareWanted)
	return s, nil
}

// sqliteUnavailable recognises a database file that is locked past the busy
// timeout or cannot be read or written.
func sqliteUnavailable(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR,
		sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY:
		return true
	}
	return false
}
