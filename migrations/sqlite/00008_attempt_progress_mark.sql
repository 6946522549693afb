-- Lost runs (SERVICE.md §14); the same change as ../postgres (times as
-- text): what content-creator last reported of an attempt's progress and
-- since when it has reported it. Both NULL until the attempt is first polled.

-- +goose Up
ALTER TABLE task_attempts ADD COLUMN progress_mark  TEXT;
ALTER TABLE task_attempts ADD COLUMN progress_since TEXT;

-- +goose Down
ALTER TABLE task_attempts DROP COLUMN progress_since;
ALTER TABLE task_attempts DROP COLUMN progress_mark;
