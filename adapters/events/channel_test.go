package events_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/events"
	"contenthub/adapters/sqlstore/sqlstoretest"
)

// TestSchemaChannelSeparatesSchemas: deployments in two schemas of one
// database get different channels, and each always the same one.
func TestSchemaChannelSeparatesSchemas(t *testing.T) {
	channel := func(url string) string {
		t.Helper()
		db, err := sql.Open("postgres", url)
		require.NoError(t, err)
		defer db.Close()
		c, err := events.SchemaChannel(context.Background(), db)
		require.NoError(t, err)
		return c
	}
	first, second := sqlstoretest.EmptyPostgresURL(t), sqlstoretest.EmptyPostgresURL(t)
	a, b := channel(first), channel(second)
	require.NotEqual(t, a, b)
	require.Equal(t, a, channel(first), "a schema's channel is stable across connections")
	require.True(t, strings.HasPrefix(a, events.DefaultChannel+"_"), a)
	require.LessOrEqual(t, len(a), 63, "PostgreSQL truncates identifiers longer than 63 bytes")
}
