-- Lost runs (SERVICE.md §14): what content-creator last reported of an
-- attempt's progress (its state, progress and update time, as one opaque
-- mark) and since when it has reported it, so the reconciler can tell a run
-- that no longer advances. Both NULL until the attempt is first polled.

-- +goose Up
ALTER TABLE task_attempts ADD COLUMN progress_mark  TEXT;
ALTER TABLE task_attempts ADD COLUMN progress_since TIMESTAMPTZ;

-- +goose Down
ALTER TABLE task_attempts DROP COLUMN progress_since;
ALTER TABLE task_attempts DROP COLUMN progress_mark;
