package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"contenthub/domain"
)

// RefusedAuditWindow is the window within which refused deliveries of one
// task with one reason are recorded once: a flood of bad callbacks to a known
// task id adds at most one row per reason per window (the reasons are a small
// fixed set of the service's own messages, never request text).
const RefusedAuditWindow = time.Hour

// insertRefusedSQL writes a refused delivery unless one with the same task,
// reason and window exists (the unique key of migration 00003).
var insertRefusedSQL = "INSERT INTO webhook_deliveries (" + strings.Join(deliveryColumns, ", ") + ", refused_window)" +
	" VALUES (:" + strings.Join(deliveryColumns, ", :") + ", :refused_window) ON CONFLICT DO NOTHING"

// refusedWindow is the start of the window a refusal received at t falls in.
func refusedWindow(t time.Time) time.Time { return t.UTC().Truncate(RefusedAuditWindow) }

// recordRefused stores the first refused delivery of its task, reason and
// window; later ones in the window are counted by the caller's metrics only.
func recordRefused(ctx context.Context, e sqlx.ExtContext, d domain.Delivery) error {
	row := struct {
		deliveryRow
		RefusedWindow dbTime `db:"refused_window"`
	}{deliveryRowOf(d), timeCol(refusedWindow(d.ReceivedAt))}
	if _, err := sqlx.NamedExecContext(ctx, e, insertRefusedSQL, row); err != nil {
		return fmt.Errorf("record refused delivery: %w", err)
	}
	return nil
}
