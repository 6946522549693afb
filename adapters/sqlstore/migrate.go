package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"text/tabwriter"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
)

// versionTable is goose's record of applied migrations.
const versionTable = goose.DefaultTablename

func newStore(db, reads *sqlx.DB, f flavor, dialect goose.Dialect, fsys fs.FS, opts ...goose.ProviderOption) (*Store, error) {
	opts = append(opts, goose.WithDisableGlobalRegistry(true))
	p, err := goose.NewProvider(dialect, db.DB, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	sources := p.ListSources()
	s := &Store{db: db, reads: reads, flavor: f, migrator: p, latest: sources[len(sources)-1].Version}
	s.taskReads = newTaskReads(db.Rebind, f.lockRow)
	s.writes = newPrepared(db.DB)
	s.readStmts = s.writes
	if reads != db {
		s.readStmts = newPrepared(reads.DB)
	}
	return s, nil
}

// Direction is which way Migrate goes.
type Direction string

const (
	Up   Direction = "up"   // apply every pending migration
	Down Direction = "down" // roll back the newest applied migration
)

// Migrate applies (Up) or rolls back one (Down) migration.
func (s *Store) Migrate(ctx context.Context, d Direction) error {
	switch d {
	case Up:
		return s.MigrateUp(ctx)
	case Down:
		return s.MigrateDown(ctx)
	}
	return fmt.Errorf("unknown migration direction %q: want %q or %q", d, Up, Down)
}

// MigrateUp applies every pending migration. On PostgreSQL, concurrent
// callers on one schema take turns.
func (s *Store) MigrateUp(ctx context.Context) error {
	if _, err := s.migrator.Up(ctx); err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	return nil
}

// MigrateDown rolls back the newest applied migration.
func (s *Store) MigrateDown(ctx context.Context) error {
	if _, err := s.migrator.Down(ctx); err != nil {
		if errors.Is(err, goose.ErrNoNextVersion) {
			return errors.New("migrate down: no migration is applied")
		}
		return fmt.Errorf("migrate down: %w", err)
	}
	return nil
}

// MigrationStatus writes one line per embedded migration: its state, when it
// was applied, and its file.
func (s *Store) MigrationStatus(ctx context.Context, w io.Writer) error {
	status, err := s.migrator.Status(ctx)
	if err != nil {
		return fmt.Errorf("migration status: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "STATE\tAPPLIED AT\tMIGRATION\n")
	for _, m := range status {
		applied := "-"
		if m.State == goose.StateApplied {
			applied = m.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", m.State, applied, path.Base(m.Source.Path))
	}
	return tw.Flush()
}

// Ready fails when the database does not answer or its schema is not at the
// newest embedded migration. It writes nothing.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.reads.PingContext(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	var current sql.NullInt64
	// goose creates its table on first use; reading it directly keeps Ready
	// free of writes.
	if err := s.reads.GetContext(ctx, &current, "SELECT MAX(version_id) FROM "+versionTable); err != nil {
		if IsUnavailable(err) {
			return fmt.Errorf("database unreachable: %w", err)
		}
		return fmt.Errorf("database schema is not migrated (run `contenthub migrate up`): %w", err)
	}
	if current.Int64 != s.latest {
		return fmt.Errorf("database schema is at version %d, this build needs %d: run `contenthub migrate up`",
			current.Int64, s.latest)
	}
	return nil
}
