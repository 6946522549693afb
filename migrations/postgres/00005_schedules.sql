-- Scheduled generation (§12): schedules, their runs, and the tasks a run
-- creates marked with both. A fire time creates its run once: the unique key
-- (schedule_id, fire_time) is what two replicas racing, or a restart, meet.

-- +goose Up
CREATE TABLE schedules (
    id                TEXT PRIMARY KEY,
    name              TEXT        NOT NULL,
    cron              TEXT        NOT NULL,
    timezone          TEXT        NOT NULL,
    account_ids       TEXT        NOT NULL, -- JSON list of integers
    count_per_account INTEGER     NOT NULL,
    topics            TEXT        NOT NULL, -- JSON list of {topic, keywords, requirements, tone, category}
    priority          INTEGER     NOT NULL,
    auto_approve      BOOLEAN     NOT NULL,
    max_retries       INTEGER     NOT NULL,
    enabled           BOOLEAN     NOT NULL,
    misfire           TEXT        NOT NULL,
    -- Index of the topic the next run starts with; advanced in the run's transaction.
    topic_cursor      INTEGER     NOT NULL DEFAULT 0,
    -- The next fire time not yet handled; NULL while paused.
    next_run_at       TIMESTAMPTZ,
    last_run_id       TEXT        NOT NULL DEFAULT '',
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    version           BIGINT      NOT NULL
);
-- The scheduler's look for due schedules and for its next wake-up.
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE enabled;

CREATE TABLE schedule_runs (
    id              TEXT PRIMARY KEY,
    schedule_id     TEXT        NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    fire_time       TIMESTAMPTZ NOT NULL,
    run_trigger     TEXT        NOT NULL,
    status          TEXT        NOT NULL,
    error           TEXT        NOT NULL DEFAULT '',
    task_ids        TEXT        NOT NULL DEFAULT '[]',
    account_stats   TEXT        NOT NULL DEFAULT '{}', -- JSON {"<account_id>": submitted}
    total_submitted INTEGER     NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT schedule_runs_fire_key UNIQUE (schedule_id, fire_time)
);
CREATE INDEX schedule_runs_list_idx ON schedule_runs (schedule_id, created_at DESC, id DESC);

ALTER TABLE tasks ADD COLUMN schedule_id TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN run_id TEXT NOT NULL DEFAULT '';
CREATE INDEX tasks_schedule_list_idx ON tasks (schedule_id, created_at DESC, id DESC);

-- +goose Down
DROP INDEX tasks_schedule_list_idx;
ALTER TABLE tasks DROP COLUMN run_id;
ALTER TABLE tasks DROP COLUMN schedule_id;
DROP TABLE schedule_runs;
DROP TABLE schedules;
