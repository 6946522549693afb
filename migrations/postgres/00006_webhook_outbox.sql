-- Outbound notifications (§13): the endpoints that subscribe, the outbox of
-- messages the task changes write in their own transaction, and the log of
-- every attempt to send one. A message's id is its webhook-id (the
-- notification's id and the endpoint's), the receiver's idempotency key.
-- Messages are generic (event, subject): §15's content and pool events are
-- written the same way.

-- +goose Up
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    url             TEXT        NOT NULL,
    -- JSON list of event names; the outbox insert matches '"event"' in it.
    events          TEXT        NOT NULL,
    -- NULL: every account.
    account_id      BIGINT,
    description     TEXT        NOT NULL DEFAULT '',
    enabled         BOOLEAN     NOT NULL,
    disabled_reason TEXT        NOT NULL DEFAULT '',
    -- JSON list of {stored, expires_at}, the current secret first; sealed
    -- with NOTIFY_SECRETS_KEY when it is set.
    secrets         TEXT        NOT NULL,
    -- First failed attempt since the last delivered one (the 3-day rule).
    failing_since   TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE webhook_messages (
    id              TEXT PRIMARY KEY,
    endpoint_id     TEXT        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event           TEXT        NOT NULL,
    subject         TEXT        NOT NULL,
    account_id      BIGINT      NOT NULL,
    payload         TEXT        NOT NULL,
    status          TEXT        NOT NULL,
    attempts        INTEGER     NOT NULL DEFAULT 0,
    retries         INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_owner     TEXT        NOT NULL DEFAULT '',
    lease_until     TIMESTAMPTZ,
    last_error      TEXT        NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ
);
-- The sender's claim: pending and due (a partial index stays small however
-- long the log grows).
CREATE INDEX webhook_messages_due_idx ON webhook_messages (next_attempt_at) WHERE status = 'pending';
-- An endpoint's log, newest first.
CREATE INDEX webhook_messages_log_idx ON webhook_messages (endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_messages_subject_idx ON webhook_messages (subject);

CREATE TABLE webhook_message_attempts (
    message_id  TEXT        NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    number      INTEGER     NOT NULL,
    endpoint_id TEXT        NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    status_code INTEGER     NOT NULL DEFAULT 0,
    error       TEXT        NOT NULL DEFAULT '',
    latency_us  BIGINT      NOT NULL DEFAULT 0,
    PRIMARY KEY (message_id, number)
);

-- +goose Down
DROP TABLE webhook_message_attempts;
DROP TABLE webhook_messages;
DROP TABLE webhook_endpoints;
