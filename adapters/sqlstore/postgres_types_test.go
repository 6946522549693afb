package sqlstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
)

// TestPostgresCastsMatchTheSchema: the one-statement write casts each
// inserted parameter (INSERT … SELECT reads them as text otherwise) by a list
// kept beside the migrations; it must say what the migrated schema says, or
// a new column written as the wrong type fails only on PostgreSQL.
func TestPostgresCastsMatchTheSchema(t *testing.T) {
	t.Parallel()
	s := sqlstoretest.NewPostgres(t)
	for table, columns := range sqlstore.InsertedColumns {
		for _, column := range columns {
			declared, casted, err := sqlstore.SchemaType(t.Context(), s, table, column, sqlstore.PostgresType(column))
			require.NoError(t, err, "%s.%s is in the migrated schema", table, column)
			require.Equal(t, declared, casted, "%s.%s", table, column)
		}
	}
}
