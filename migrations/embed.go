// Package migrations holds the database schema as goose SQL migrations,
// embedded in the binary. Each dialect has its own directory because column
// types differ; both describe the same tables and must change together.
package migrations

import "embed"

// Postgres holds the PostgreSQL migrations under PostgresDir.
//
//go:embed postgres/*.sql
var Postgres embed.FS

// SQLite holds the SQLite migrations under SQLiteDir.
//
//go:embed sqlite/*.sql
var SQLite embed.FS

// Directories of the migrations inside Postgres and SQLite.
const (
	PostgresDir = "postgres"
	SQLiteDir   = "sqlite"
)
