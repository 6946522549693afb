-- Sequence numbers of task events (SSE ids). Every replica takes them from
-- here, in the statement that sends the NOTIFY, so a client's Last-Event-ID
-- means the same thing whichever replica it reconnects to. PostgreSQL only:
-- on SQLite one process numbers its own events.

-- +goose Up
CREATE SEQUENCE task_event_seq;

-- +goose Down
DROP SEQUENCE task_event_seq;
