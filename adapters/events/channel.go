package events

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
)

// SchemaChannel names the NOTIFY channel after db's current schema:
// channels are database-wide, and deployments (or test runs) in separate
// schemas of one database must not hear each other. The public schema keeps
// DefaultChannel.
func SchemaChannel(ctx context.Context, db *sql.DB) (string, error) {
	var schema string
	if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return "", fmt.Errorf("read current schema: %w", err)
	}
	return channelFor(schema), nil
}

func channelFor(schema string) string {
	if schema == "public" {
		return DefaultChannel
	}
	sum := sha256.Sum256([]byte(schema))
	return DefaultChannel + "_" + hex.EncodeToString(sum[:6])
}
