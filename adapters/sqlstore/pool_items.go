package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"contenthub/ports"
)

// poolItemRow is a publish_pool row with its content's title.
type poolItemRow struct {
	poolRow
	Title string `db:"title"`
}

var poolItemSelect = "p." + strings.Join(poolColumns, ", p.") + ", c.title"

// ListPoolItems is ListPool with each entry's article title, for people
// reading the pool: same filter, order and limit.
func (s *Store) ListPoolItems(ctx context.Context, q ports.PoolQuery) ([]ports.PoolItem, error) {
	query := "SELECT " + poolItemSelect + " FROM publish_pool p JOIN contents c ON c.id = p.content_id"
	var args []any
	if q.Status != "" {
		query += " WHERE p.status = ?"
		args = append(args, string(q.Status))
	}
	query += " ORDER BY p.priority DESC, p.scheduled_at, p.id LIMIT ?"
	args = append(args, pageSize(q.Limit))
	var rows []poolItemRow
	if err := s.reads.SelectContext(ctx, &rows, s.reads.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("list pool items: %w", err)
	}
	out := make([]ports.PoolItem, len(rows))
	for i, r := range rows {
		out[i] = ports.PoolItem{Entry: r.entry(), Title: r.Title}
	}
	return out, nil
}
