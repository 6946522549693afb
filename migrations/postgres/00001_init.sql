-- ContentHub schema, PostgreSQL flavour. Times are TIMESTAMPTZ (UTC, microsecond
-- precision); a NULL time is the zero time.Time. Lists are JSON text.

-- +goose Up
CREATE TABLE tasks (
    id                  TEXT PRIMARY KEY,
    account_id          BIGINT      NOT NULL,
    topic               TEXT        NOT NULL,
    keywords            TEXT        NOT NULL DEFAULT '[]',
    category            TEXT        NOT NULL DEFAULT '',
    requirements        TEXT        NOT NULL DEFAULT '',
    tone                TEXT        NOT NULL DEFAULT '',
    priority            INTEGER     NOT NULL,
    auto_approve        BOOLEAN     NOT NULL,
    status              TEXT        NOT NULL,
    attempt             INTEGER     NOT NULL,
    attempt_open        BOOLEAN     NOT NULL DEFAULT FALSE,
    max_attempts        INTEGER     NOT NULL,
    next_attempt_at     TIMESTAMPTZ,
    timeout_at          TIMESTAMPTZ,
    last_heard_at       TIMESTAMPTZ,
    progress_percentage INTEGER     NOT NULL DEFAULT 0,
    progress_stage      TEXT        NOT NULL DEFAULT '',
    progress_message    TEXT        NOT NULL DEFAULT '',
    progress_updated_at TIMESTAMPTZ,
    -- last_error_* are all NULL when the task has no error.
    last_error_code     TEXT,
    last_error_type     TEXT,
    last_error_message  TEXT,
    content_id          TEXT        NOT NULL DEFAULT '',
    late                BOOLEAN     NOT NULL DEFAULT FALSE,
    lease_owner         TEXT        NOT NULL DEFAULT '',
    lease_until         TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    submitted_at        TIMESTAMPTZ,
    started_at          TIMESTAMPTZ,
    completed_at        TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ NOT NULL,
    version             BIGINT      NOT NULL,
    -- When the reconciler last asked content-creator about the task; not part
    -- of the task itself. FindStale serves the least recently polled first.
    last_polled_at      TIMESTAMPTZ
);
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
    opened_at     TIMESTAMPTZ,
    submitted_at  TIMESTAMPTZ,
    finished_at   TIMESTAMPTZ,
    PRIMARY KEY (task_id, number)
);
CREATE INDEX task_attempts_external_ref_idx ON task_attempts (external_ref);

CREATE TABLE contents (
    id            TEXT PRIMARY KEY,
    task_id       TEXT        NOT NULL UNIQUE REFERENCES tasks (id) ON DELETE CASCADE,
    account_id    BIGINT      NOT NULL,
    attempt       INTEGER     NOT NULL,
    title         TEXT        NOT NULL,
    summary       TEXT        NOT NULL,
    body          TEXT        NOT NULL,
    html_content  TEXT        NOT NULL DEFAULT '',
    images        TEXT        NOT NULL DEFAULT '[]',
    cover_image   TEXT        NOT NULL DEFAULT '',
    quality_score DOUBLE PRECISION,
    word_count    INTEGER     NOT NULL,
    metrics       TEXT,
    review_status TEXT        NOT NULL,
    late          BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX contents_account_idx ON contents (account_id, created_at DESC);

CREATE TABLE publish_pool (
    id           TEXT PRIMARY KEY,
    content_id   TEXT        NOT NULL UNIQUE REFERENCES contents (id) ON DELETE CASCADE,
    task_id      TEXT        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    account_id   BIGINT      NOT NULL,
    priority     INTEGER     NOT NULL,
    status       TEXT        NOT NULL,
    scheduled_at TIMESTAMPTZ NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX publish_pool_queue_idx ON publish_pool (status, priority DESC, scheduled_at);

-- The audit log of callbacks. No foreign key: a record must never fail to be
-- written. delivery_id is NULL for deliveries that were not authenticated, and
-- NULLs never collide in the unique constraint.
CREATE TABLE webhook_deliveries (
    id          BIGSERIAL PRIMARY KEY,
    task_id     TEXT        NOT NULL,
    attempt     INTEGER     NOT NULL,
    event       TEXT        NOT NULL DEFAULT '',
    delivery_id TEXT,
    scheme      TEXT        NOT NULL DEFAULT '',
    outcome     TEXT        NOT NULL,
    reason      TEXT        NOT NULL DEFAULT '',
    http_status INTEGER     NOT NULL DEFAULT 0,
    request_id  TEXT        NOT NULL DEFAULT '',
    received_at TIMESTAMPTZ NOT NULL,
    sent_at     TIMESTAMPTZ,
    CONSTRAINT webhook_deliveries_task_delivery_key UNIQUE (task_id, delivery_id)
);
CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (task_id, received_at, id);

CREATE TABLE idempotency_keys (
    key          TEXT PRIMARY KEY,
    request_hash TEXT        NOT NULL,
    task_id      TEXT        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE webhook_deliveries;
DROP TABLE publish_pool;
DROP TABLE contents;
DROP TABLE task_attempts;
DROP TABLE tasks;
