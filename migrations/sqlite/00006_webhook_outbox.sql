-- SQLite flavour of ../postgres/00006 (times as text, booleans as 0/1).

-- +goose Up
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    url             TEXT    NOT NULL,
    events          TEXT    NOT NULL,
    account_id      INTEGER,
    description     TEXT    NOT NULL DEFAULT '',
    enabled         INTEGER NOT NULL,
    disabled_reason TEXT    NOT NULL DEFAULT '',
    secrets         TEXT    NOT NULL,
    failing_since   TEXT,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
) STRICT;

CREATE TABLE webhook_messages (
    id              TEXT PRIMARY KEY,
    endpoint_id     TEXT    NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event           TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    account_id      INTEGER NOT NULL,
    payload         TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    retries         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until     TEXT,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      TEXT    NOT NULL,
    delivered_at    TEXT
) STRICT;
CREATE INDEX webhook_messages_due_idx ON webhook_messages (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_messages_log_idx ON webhook_messages (endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_messages_subject_idx ON webhook_messages (subject);

CREATE TABLE webhook_message_attempts (
    message_id  TEXT    NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,
    endpoint_id TEXT    NOT NULL,
    at          TEXT    NOT NULL,
    status_code INTEGER NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT '',
    latency_us  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (message_id, number)
) STRICT;

-- +goose Down
DROP TABLE webhook_message_attempts;
DROP TABLE webhook_messages;
DROP TABLE webhook_endpoints;
