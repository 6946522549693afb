// Package sqlstoretest gives tests of any package a migrated sqlstore.Store
// on SQLite or PostgreSQL, each test on its own database, removed at cleanup,
// and runs the store contract suite (Contract) against every implementation
// of the storage ports.
//
// PostgreSQL comes from CONTENTHUB_TEST_POSTGRES_URL (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable); every store gets a
// fresh schema on that server. When the server cannot be reached, tests are
// skipped with a loud message, or fail when CI is set or
// CONTENTHUB_REQUIRE_POSTGRES=1.
package sqlstoretest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq" // the "postgres" driver for the admin connection

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/testnotice"
	"contenthub/ports"
)

// Environment variables read by this package.
const (
	EnvPostgresURL     = "CONTENTHUB_TEST_POSTGRES_URL"
	EnvRequirePostgres = "CONTENTHUB_REQUIRE_POSTGRES"
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

const setupTimeout = 30 * time.Second

// Ports is every storage port: what the store contract suite is written
// against, so that any implementation of the ports can run it.
type Ports interface {
	ports.TaskStore
	ports.TaskRetention
	ports.WebhookEndpoints
	ports.Outbox
}

var _ Ports = (*sqlstore.Store)(nil)

// Implementation is one implementation of the storage ports under the
// contract suite; Open gives a fresh, empty one, removed at cleanup.
type Implementation struct {
	Name string
	Open func(t testing.TB) Ports
}

// Implementations are every implementation of the storage ports: the SQL
// store on SQLite and on PostgreSQL. A new store joins the suite here.
func Implementations() []Implementation {
	return []Implementation{
		{Name: "sqlite", Open: func(t testing.TB) Ports { return NewSQLite(t) }},
		{Name: "postgres", Open: func(t testing.TB) Ports { return NewPostgres(t) }},
	}
}

// Contract runs the contract test fn as one subtest per implementation of
// the storage ports, each with a fresh one. Tests of what only the SQL store
// has (its schema, its dialects) use Each.
func Contract(t *testing.T, fn func(t *testing.T, s Ports)) {
	t.Helper()
	for _, impl := range Implementations() {
		t.Run(impl.Name, func(t *testing.T) { fn(t, impl.Open(t)) })
	}
}

// Each runs fn as one subtest per backend, "sqlite" and "postgres", each with
// a fresh migrated store.
func Each(t *testing.T, fn func(t *testing.T, s *sqlstore.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, NewSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, NewPostgres(t)) })
}

// NewSQLite returns a migrated store on a new SQLite file in a temporary
// directory; it is closed at cleanup.
func NewSQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	return open(t, SQLiteURL(t))
}

// SQLiteURL returns the URL ("sqlite://…") of a new, migrated SQLite file in
// a temporary directory, for tests that start whole processes. The directory
// is removed at cleanup.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	u := "sqlite://" + filepath.Join(t.TempDir(), "contenthub.db")
	migrate(t, u)
	return u
}

// NewPostgres returns a migrated store on a new schema of the test server;
// the store is closed and the schema dropped at cleanup.
func NewPostgres(t testing.TB) *sqlstore.Store {
	t.Helper()
	return open(t, PostgresURL(t))
}

// PostgresURL returns the URL of a new, migrated schema on the test server
// (the schema is its search_path), for tests that start whole processes. The
// schema is dropped at cleanup: stop the processes before that, e.g. by
// registering their cleanup after calling PostgresURL.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := freshSchema(t)
	migrate(t, u)
	return u
}

// EmptyPostgresURL returns the URL of a new schema that is not migrated,
// for tests of migrations themselves; it is dropped at cleanup.
func EmptyPostgresURL(t testing.TB) string {
	t.Helper()
	return freshSchema(t)
}

func open(t testing.TB, databaseURL string) *sqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	s, err := sqlstore.Open(ctx, databaseURL)
	if err != nil {
		t.Fatalf("sqlstoretest: open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("sqlstoretest: close store: %v", err)
		}
	})
	return s
}

func migrate(t testing.TB, databaseURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	s, err := sqlstore.Open(ctx, databaseURL)
	if err != nil {
		t.Fatalf("sqlstoretest: open store: %v", err)
	}
	defer s.Close()
	if err := s.MigrateUp(ctx); err != nil {
		t.Fatalf("sqlstoretest: %v", err)
	}
}

// server is the test PostgreSQL server, connected to once per process.
var server struct {
	once sync.Once
	url  *url.URL
	db   *sql.DB // administers schemas
	err  error
}

func connectServer() {
	raw := os.Getenv(EnvPostgresURL)
	if raw == "" {
		raw = DefaultPostgresURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		server.err = fmt.Errorf("%s is not a URL: %w", EnvPostgresURL, err)
		return
	}
	server.url = u
	db, err := sql.Open("postgres", raw)
	if err != nil {
		server.err = err
		return
	}
	db.SetMaxOpenConns(2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		server.err = err
		return
	}
	server.db = db
}

// requireServer skips or fails the test when the server is unreachable.
func requireServer(t testing.TB) {
	t.Helper()
	server.once.Do(connectServer)
	if server.err == nil {
		return
	}
	where := os.Getenv(EnvPostgresURL)
	if server.url != nil {
		where = server.url.Redacted()
	}
	msg := fmt.Sprintf("PostgreSQL at %q is unreachable (%v); set %s to a reachable server", where, server.err, EnvPostgresURL)
	if os.Getenv("CI") != "" || os.Getenv(EnvRequirePostgres) == "1" {
		t.Fatalf("POSTGRES REQUIRED (CI or %s=1): %s", EnvRequirePostgres, msg)
	}
	skip := fmt.Sprintf("POSTGRES TESTS SKIPPED: %s, or %s=1 to fail instead", msg, EnvRequirePostgres)
	testnotice.Announce("postgres-skip", skip)
	t.Skip(skip)
}

// freshSchema creates an empty schema, dropped at cleanup, and returns the
// server URL with that schema as its search_path.
func freshSchema(t testing.TB) string {
	t.Helper()
	requireServer(t)
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("sqlstoretest: %v", err)
	}
	schema := "contenthub_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if _, err := server.db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("sqlstoretest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if _, err := server.db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("sqlstoretest: drop schema %s: %v", schema, err)
		}
	})
	u := *server.url
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
