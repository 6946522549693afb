-- SQLite flavour of ../postgres/00003 (times as text). Refused callbacks
-- (failed authentication or validation) are audited at most once per task,
-- reason and window: refused_window is the start of the window the refusal
-- fell in (NULL for every other delivery, and NULLs never collide), and a
-- second refusal of the same kind in the same window is not written. A flood
-- of bad callbacks to a known task id cannot grow the table; metrics and the
-- access log still count every request.

-- +goose Up
ALTER TABLE webhook_deliveries ADD COLUMN refused_window TEXT;
CREATE UNIQUE INDEX webhook_deliveries_refused_key ON webhook_deliveries (task_id, reason, refused_window);

-- +goose Down
DROP INDEX webhook_deliveries_refused_key;
ALTER TABLE webhook_deliveries DROP COLUMN refused_window;
