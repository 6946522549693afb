-- Accounts (§11): limits of their own, and what the fair claim reads cheaply
-- with hundreds of accounts in the backlog.

-- +goose Up
-- Limits set through the API; an account without a row has the defaults of
-- ACCOUNT_MAX_CONCURRENCY / ACCOUNT_MAX_TASKS_PER_HOUR and weight 1.
CREATE TABLE account_limits (
    account_id         BIGINT      PRIMARY KEY,
    max_concurrency    INTEGER     NOT NULL,
    max_tasks_per_hour INTEGER     NOT NULL,
    weight             INTEGER     NOT NULL CHECK (weight >= 1),
    updated_at         TIMESTAMPTZ NOT NULL
);
-- An account's best due task (priority desc, then oldest), its count of due
-- tasks, and the walk over the accounts that have a backlog (one index probe
-- per account). The trailing columns make it covering: whether a waiting task
-- is due is read from the index, not the table (SQLite counts a column of the
-- WHERE as read even when the index's own WHERE implies it).
CREATE INDEX tasks_account_due_idx ON tasks
    (account_id, priority DESC, created_at, id, next_attempt_at, lease_until, status, attempt_open)
    WHERE status = 'pending' AND NOT attempt_open;
-- An account's oldest due task, the fair share's tie-break (covering too).
CREATE INDEX tasks_account_oldest_idx ON tasks
    (account_id, created_at, next_attempt_at, lease_until, status, attempt_open)
    WHERE status = 'pending' AND NOT attempt_open;
-- Running attempts (slots held), counted per account in the claim.
CREATE INDEX tasks_running_idx ON tasks (account_id)
    WHERE attempt_open AND status IN ('pending', 'submitted', 'processing');
-- The accounts view: pending count, and what ended in the last 24 h.
CREATE INDEX tasks_account_status_idx ON tasks (account_id, status, updated_at);
-- The sliding hour of max_tasks_per_hour.
CREATE INDEX task_attempts_opened_idx ON task_attempts (opened_at);
-- A batch create's Idempotency-Key names every task of the batch (JSON list);
-- NULL for a single create.
ALTER TABLE idempotency_keys ADD COLUMN task_ids TEXT;

-- +goose Down
ALTER TABLE idempotency_keys DROP COLUMN task_ids;
DROP INDEX task_attempts_opened_idx;
DROP INDEX tasks_account_status_idx;
DROP INDEX tasks_running_idx;
DROP INDEX tasks_account_oldest_idx;
DROP INDEX tasks_account_due_idx;
DROP TABLE account_limits;
