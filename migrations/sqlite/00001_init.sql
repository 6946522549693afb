-- ContentHub schema, SQLite flavour; the same tables as ../postgres. Times are
-- fixed-width UTC text, "2006-01-02T15:04:05.000000Z", so that text comparison
-- and ordering are chronological; a NULL time is the zero time.Time. Booleans
-- are 0/1 integers. Lists are JSON text. Tables are STRICT so a value of the
-- wrong type fails instead of being stored.

-- +goose Up
CREATE TABLE tasks (
    id                  TEXT PRIMARY KEY,
    account_id          INTEGER     NOT NULL,
    topic               TEXT        NOT NULL,
    keywords            TEXT        NOT NULL DEFAULT '[]',
    category            TEXT        NOT NULL DEFAULT '',
    requirements        TEXT        NOT NULL DEFAULT '',
    tone                TEXT        NOT NULL DEFAULT '',
    priority            INTEGER     NOT NULL,
    auto_approve        INTEGER     NOT NULL,
    status              TEXT        NOT NULL,
    attempt             INTEGER     NOT NULL,
    attempt_open        INTEGER     NOT NULL DEFAULT 0,
    max_attempts        INTEGER     NOT NULL,
    next_attempt_at     TEXT,
    timeout_at          TEXT,
    last_heard_at       TEXT,
    progress_percentage INTEGER     NOT NULL DEFAULT 0,
    progress_stage      TEXT        NOT NULL DEFAULT '',
    progress_message    TEXT        NOT NULL DEFAULT '',
    progress_updated_at TEXT,
    -- last_error_* are all NULL when the task has no error.
    last_error_code     TEXT,
    last_error_type     TEXT,
    last_error_message  TEXT,
    content_id          TEXT        NOT NULL DEFAULT '',
    late                INTEGER     NOT NULL DEFAULT 0,
    lease_owner         TEXT        NOT NULL DEFAULT '',
    lease_until         TEXT,
    created_at          TEXT        NOT NULL,
    submitted_at        TEXT,
    started_at          TEXT,
    completed_at        TEXT,
    updated_at          TEXT        NOT NULL,
    version             INTEGER     NOT NULL,
    -- When the reconciler last asked content-creator about the task; not part
    -- of the task itself. FindStale serves the least recently polled first.
    last_polled_at      TEXT
) STRICT;
-- The dispatcher's claim: pending and due.
CREATE INDEX tasks_claim_idx ON tasks (status, next_attempt_at, priority);
-- The task list, newest first, with and without filters.
CREATE INDEX tasks_list_idx ON tasks (created_at DESC, id DESC);
CREATE INDEX tasks_account_list_idx ON tasks (account_id, created_at DESC, id DESC);
CREATE INDEX tasks_status_list_idx ON tasks (status, created_at DESC, id DESC);
-- The reconciler's scan of active tasks.
CREATE INDEX tasks_stale_heard_idx ON tasks (status, last_heard_at);
CREATE INDEX tasks_stale_timeout_idx ON tasks (status, timeout_at);

CREATE TABLE task_attempts (
    task_id       TEXT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    number        INTEGER NOT NULL,
    external_ref  TEXT    NOT NULL,
    token_hash    TEXT    NOT NULL DEFAULT '',
    callback_url  TEXT    NOT NULL DEFAULT '',
    state         TEXT    NOT NULL,
    -- error_* are all NULL when the attempt has no error.
    error_code    TEXT,
    error_type    TEXT,
    error_message TEXT,
    opened_at     TEXT,
    submitted_at  TEXT,
    finished_at   TEXT,
    PRIMARY KEY (task_id, number)
) STRICT;
CREATE INDEX task_attempts_external_ref_idx ON task_attempts (external_ref);

CREATE TABLE contents (
    id            TEXT PRIMARY KEY,
    task_id       TEXT        NOT NULL UNIQUE REFERENCES tasks (id) ON DELETE CASCADE,
    account_id    INTEGER     NOT NULL,
    attempt       INTEGER     NOT NULL,
    title         TEXT        NOT NULL,
    summary       TEXT        NOT NULL,
    body          TEXT        NOT NULL,
    html_content  TEXT        NOT NULL DEFAULT '',
    images        TEXT        NOT NULL DEFAULT '[]',
    cover_image   TEXT        NOT NULL DEFAULT '',
    quality_score REAL,
    word_count    INTEGER     NOT NULL,
    metrics       TEXT,
    review_status TEXT        NOT NULL,
    late          INTEGER     NOT NULL DEFAULT 0,
    created_at    TEXT        NOT NULL
) STRICT;
CREATE INDEX contents_account_idx ON contents (account_id, created_at DESC);

CREATE TABLE publish_pool (
    id           TEXT PRIMARY KEY,
    content_id   TEXT        NOT NULL UNIQUE REFERENCES contents (id) ON DELETE CASCADE,
    task_id      TEXT        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    account_id   INTEGER     NOT NULL,
    priority     INTEGER     NOT NULL,
    status       TEXT        NOT NULL,
    scheduled_at TEXT        NOT NULL,
    created_at   TEXT        NOT NULL
) STRICT;
CREATE INDEX publish_pool_queue_idx ON publish_pool (status, priority DESC, scheduled_at);

-- The audit log of callbacks. No foreign key: a record must never fail to be
-- written. delivery_id is NULL for deliveries that were not authenticated, and
-- NULLs never collide in the unique constraint.
CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id     TEXT        NOT NULL,
    attempt     INTEGER     NOT NULL,
    event       TEXT        NOT NULL DEFAULT '',
    delivery_id TEXT,
    scheme      TEXT        NOT NULL DEFAULT '',
    outcome     TEXT        NOT NULL,
    reason      TEXT        NOT NULL DEFAULT '',
    http_status INTEGER     NOT NULL DEFAULT 0,
    request_id  TEXT        NOT NULL DEFAULT '',
    received_at TEXT        NOT NULL,
    sent_at     TEXT,
    CONSTRAINT webhook_deliveries_task_delivery_key UNIQUE (task_id, delivery_id)
) STRICT;
CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (task_id, received_at, id);

CREATE TABLE idempotency_keys (
    key          TEXT PRIMARY KEY,
    request_hash TEXT        NOT NULL,
    task_id      TEXT        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    created_at   TEXT        NOT NULL
) STRICT;

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE webhook_deliveries;
DROP TABLE publish_pool;
DROP TABLE contents;
DROP TABLE task_attempts;
DROP TABLE tasks;
