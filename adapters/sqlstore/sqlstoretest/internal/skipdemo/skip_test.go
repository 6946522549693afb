package skipdemo

import (
	"testing"

	"contenthub/adapters/sqlstore/sqlstoretest"
)

func TestNeedsPostgres(t *testing.T) {
	if err := sqlstoretest.NewPostgres(t).Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
}
