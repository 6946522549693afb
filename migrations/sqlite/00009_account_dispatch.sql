-- SQLite flavour of ../postgres/00009 (times as text). The fair claim's
-- per-account state (§11, issue #16): what it needs to pick the next accounts
-- with one indexed read, whatever the number of accounts with a backlog,
-- kept exact in the transaction of every change by triggers on tasks and
-- account_limits (so no code path that opens, ends, retries, cancels or
-- deletes a task can forget it).

-- +goose Up
-- waiting: tasks pending with no open attempt (due or in backoff/leased);
-- running: attempts open and not ended (slots held); weight: the account's
-- (1 without limits of its own); share = running / weight, the fair share's
-- key; head: created_at of the oldest waiting task, the tie-break.
CREATE TABLE account_dispatch (
    account_id INTEGER PRIMARY KEY,
    waiting    INTEGER NOT NULL DEFAULT 0,
    running    INTEGER NOT NULL DEFAULT 0,
    weight     INTEGER NOT NULL DEFAULT 1,
    share      REAL    NOT NULL DEFAULT 0,
    head       TEXT
) STRICT;
-- The claim reads the accounts with waiting tasks in the fair share's order.
CREATE INDEX account_dispatch_next_idx ON account_dispatch (share, head, account_id) WHERE waiting > 0;

INSERT INTO account_dispatch (account_id, waiting, running, head)
SELECT account_id,
       sum(CASE WHEN status = 'pending' AND NOT attempt_open THEN 1 ELSE 0 END),
       sum(CASE WHEN attempt_open AND status IN ('pending', 'submitted', 'processing') THEN 1 ELSE 0 END),
       min(CASE WHEN status = 'pending' AND NOT attempt_open THEN created_at END)
FROM tasks WHERE status IN ('pending', 'submitted', 'processing') GROUP BY account_id;
INSERT INTO account_dispatch (account_id) SELECT account_id FROM account_limits WHERE true
    ON CONFLICT (account_id) DO NOTHING;
UPDATE account_dispatch SET weight = coalesce((SELECT l.weight FROM account_limits l
    WHERE l.account_id = account_dispatch.account_id), 1);
UPDATE account_dispatch SET share = CAST(running AS REAL) / weight;

-- +goose StatementBegin
CREATE TRIGGER tasks_dispatch_insert AFTER INSERT ON tasks
WHEN NEW.status IN ('pending', 'submitted', 'processing')
BEGIN
    INSERT INTO account_dispatch (account_id, waiting, running, weight, share, head)
    SELECT NEW.account_id,
           NEW.status = 'pending' AND NOT NEW.attempt_open,
           NEW.attempt_open AND NEW.status IN ('pending', 'submitted', 'processing'),
           w.weight,
           CAST(NEW.attempt_open AND NEW.status IN ('pending', 'submitted', 'processing') AS REAL) / w.weight,
           CASE WHEN NEW.status = 'pending' AND NOT NEW.attempt_open THEN NEW.created_at END
    FROM (SELECT coalesce((SELECT l.weight FROM account_limits l WHERE l.account_id = NEW.account_id), 1) AS weight) w
    WHERE true
    ON CONFLICT (account_id) DO UPDATE SET
        waiting = waiting + excluded.waiting,
        running = running + excluded.running,
        share = CAST(running + excluded.running AS REAL) / weight,
        head = CASE WHEN excluded.head IS NOT NULL AND (head IS NULL OR excluded.head < head) THEN excluded.head ELSE head END;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER tasks_dispatch_update AFTER UPDATE OF status, attempt_open ON tasks
WHEN (OLD.status = 'pending' AND NOT OLD.attempt_open) IS NOT (NEW.status = 'pending' AND NOT NEW.attempt_open)
  OR (OLD.attempt_open AND OLD.status IN ('pending', 'submitted', 'processing'))
     IS NOT (NEW.attempt_open AND NEW.status IN ('pending', 'submitted', 'processing'))
BEGIN
    INSERT INTO account_dispatch (account_id, weight)
    VALUES (NEW.account_id, coalesce((SELECT l.weight FROM account_limits l WHERE l.account_id = NEW.account_id), 1))
    ON CONFLICT (account_id) DO NOTHING;
    UPDATE account_dispatch SET
        waiting = waiting + (NEW.status = 'pending' AND NOT NEW.attempt_open) - (OLD.status = 'pending' AND NOT OLD.attempt_open),
        running = running + (NEW.attempt_open AND NEW.status IN ('pending', 'submitted', 'processing'))
                          - (OLD.attempt_open AND OLD.status IN ('pending', 'submitted', 'processing')),
        share = CAST(running + (NEW.attempt_open AND NEW.status IN ('pending', 'submitted', 'processing'))
                             - (OLD.attempt_open AND OLD.status IN ('pending', 'submitted', 'processing')) AS REAL) / weight,
        head = CASE
            WHEN NEW.status = 'pending' AND NOT NEW.attempt_open THEN
                CASE WHEN head IS NULL OR NEW.created_at < head THEN NEW.created_at ELSE head END
            WHEN OLD.status = 'pending' AND NOT OLD.attempt_open AND head = OLD.created_at THEN
                (SELECT min(t.created_at) FROM tasks t INDEXED BY tasks_account_oldest_idx
                 WHERE t.account_id = NEW.account_id AND t.status = 'pending' AND NOT t.attempt_open)
            ELSE head END
    WHERE account_id = NEW.account_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER tasks_dispatch_delete AFTER DELETE ON tasks
WHEN OLD.status IN ('pending', 'submitted', 'processing')
BEGIN
    UPDATE account_dispatch SET
        waiting = waiting - (OLD.status = 'pending' AND NOT OLD.attempt_open),
        running = running - (OLD.attempt_open AND OLD.status IN ('pending', 'submitted', 'processing')),
        share = CAST(running - (OLD.attempt_open AND OLD.status IN ('pending', 'submitted', 'processing')) AS REAL) / weight,
        head = CASE WHEN OLD.status = 'pending' AND NOT OLD.attempt_open AND head = OLD.created_at THEN
                (SELECT min(t.created_at) FROM tasks t INDEXED BY tasks_account_oldest_idx
                 WHERE t.account_id = OLD.account_id AND t.status = 'pending' AND NOT t.attempt_open)
            ELSE head END
    WHERE account_id = OLD.account_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER account_limits_dispatch_insert AFTER INSERT ON account_limits
BEGIN
    INSERT INTO account_dispatch (account_id, weight, share) VALUES (NEW.account_id, NEW.weight, 0)
    ON CONFLICT (account_id) DO UPDATE SET weight = excluded.weight, share = CAST(running AS REAL) / excluded.weight;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER account_limits_dispatch_update AFTER UPDATE OF weight ON account_limits
BEGIN
    INSERT INTO account_dispatch (account_id, weight, share) VALUES (NEW.account_id, NEW.weight, 0)
    ON CONFLICT (account_id) DO UPDATE SET weight = excluded.weight, share = CAST(running AS REAL) / excluded.weight;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER account_limits_dispatch_delete AFTER DELETE ON account_limits
BEGIN
    UPDATE account_dispatch SET weight = 1, share = CAST(running AS REAL) WHERE account_id = OLD.account_id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER account_limits_dispatch_delete;
DROP TRIGGER account_limits_dispatch_update;
DROP TRIGGER account_limits_dispatch_insert;
DROP TRIGGER tasks_dispatch_delete;
DROP TRIGGER tasks_dispatch_update;
DROP TRIGGER tasks_dispatch_insert;
DROP INDEX account_dispatch_next_idx;
DROP TABLE account_dispatch;
