package sqlstore

import (
	"context"

	"github.com/jmoiron/sqlx"

	"contenthub/domain"
)

// SaveTask runs the compare-and-set save of UpdateTask on its own, so tests
// can save a task that was loaded before someone else saved it.
func SaveTask(ctx context.Context, s *Store, t *domain.Task) error {
	return s.inWriteTx(ctx, func(tx *sqlx.Tx) error {
		_, err := saveTask(ctx, tx, t, t.Attempts())
		return err
	})
}
