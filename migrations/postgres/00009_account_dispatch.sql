-- The fair claim's per-account state (§11, issue #16): what it needs to pick
-- the next accounts with one indexed read, whatever the number of accounts
-- with a backlog, kept exact in the transaction of every change by triggers on
-- tasks and account_limits (so no code path that opens, ends, retries, cancels
-- or deletes a task can forget it). Concurrent changes of one account's tasks
-- add to its row under the row's lock, so the counts are the database's
-- across replicas.

-- +goose Up
-- waiting: tasks pending with no open attempt (due or in backoff/leased);
-- running: attempts open and not ended (slots held); weight: the account's
-- (1 without limits of its own); share = running / weight, the fair share's
-- key; head: created_at of the oldest waiting task, the tie-break.
CREATE TABLE account_dispatch (
    account_id BIGINT           PRIMARY KEY,
    waiting    INTEGER          NOT NULL DEFAULT 0,
    running    INTEGER          NOT NULL DEFAULT 0,
    weight     INTEGER          NOT NULL DEFAULT 1,
    share      DOUBLE PRECISION NOT NULL DEFAULT 0,
    head       TIMESTAMPTZ
);
-- The claim reads the accounts with waiting tasks in the fair share's order.
CREATE INDEX account_dispatch_next_idx ON account_dispatch (share, head, account_id) WHERE waiting > 0;

INSERT INTO account_dispatch (account_id, waiting, running, head)
SELECT account_id,
       count(*) FILTER (WHERE status = 'pending' AND NOT attempt_open),
       count(*) FILTER (WHERE attempt_open AND status IN ('pending', 'submitted', 'processing')),
       min(created_at) FILTER (WHERE status = 'pending' AND NOT attempt_open)
FROM tasks WHERE status IN ('pending', 'submitted', 'processing') GROUP BY account_id;
INSERT INTO account_dispatch (account_id) SELECT account_id FROM account_limits ON CONFLICT (account_id) DO NOTHING;
UPDATE account_dispatch d SET weight = l.weight FROM account_limits l WHERE l.account_id = d.account_id;
UPDATE account_dispatch SET share = running::float8 / weight;

-- +goose StatementBegin
CREATE FUNCTION account_dispatch_track_task() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_w int := 0; old_r int := 0; new_w int := 0; new_r int := 0;
    acct bigint; old_created timestamptz; new_created timestamptz;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        acct := OLD.account_id;
        old_created := OLD.created_at;
        old_w := (OLD.status = 'pending' AND NOT OLD.attempt_open)::int;
        old_r := (OLD.attempt_open AND OLD.status IN ('pending', 'submitted', 'processing'))::int;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        acct := NEW.account_id;
        new_created := NEW.created_at;
        new_w := (NEW.status = 'pending' AND NOT NEW.attempt_open)::int;
        new_r := (NEW.attempt_open AND NEW.status IN ('pending', 'submitted', 'processing'))::int;
    END IF;
    IF old_w = new_w AND old_r = new_r THEN
        RETURN NULL; -- nothing to count: no lock on the account's row
    END IF;
    INSERT INTO account_dispatch AS d (account_id, waiting, running, weight, share, head)
    SELECT acct, new_w - old_w, new_r - old_r, w.weight, (new_r - old_r)::float8 / w.weight,
           CASE WHEN new_w = 1 THEN new_created END
    FROM (SELECT coalesce((SELECT l.weight FROM account_limits l WHERE l.account_id = acct), 1) AS weight) w
    ON CONFLICT (account_id) DO UPDATE SET
        waiting = d.waiting + excluded.waiting,
        running = d.running + excluded.running,
        share = (d.running + excluded.running)::float8 / d.weight,
        head = CASE
            WHEN new_w = 1 THEN CASE WHEN d.head IS NULL OR new_created < d.head THEN new_created ELSE d.head END
            WHEN old_w = 1 AND d.head = old_created THEN
                (SELECT min(t.created_at) FROM tasks t
                 WHERE t.account_id = acct AND t.status = 'pending' AND NOT t.attempt_open)
            ELSE d.head END;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER tasks_dispatch_track AFTER DELETE OR UPDATE OF status, attempt_open ON tasks
    FOR EACH ROW EXECUTE FUNCTION account_dispatch_track_task();

-- Inserts are counted once per statement, one upsert per account, in account
-- order: a batch create of 500 tasks writes each account's row once, not 500
-- times.
-- +goose StatementBegin
CREATE FUNCTION account_dispatch_track_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO account_dispatch AS d (account_id, waiting, running, weight, share, head)
    SELECT n.account_id, n.waiting, n.running, coalesce(l.weight, 1), n.running::float8 / coalesce(l.weight, 1), n.head
    FROM (SELECT account_id,
                 count(*) FILTER (WHERE status = 'pending' AND NOT attempt_open) AS waiting,
                 count(*) FILTER (WHERE attempt_open AND status IN ('pending', 'submitted', 'processing')) AS running,
                 min(created_at) FILTER (WHERE status = 'pending' AND NOT attempt_open) AS head
          FROM inserted WHERE status IN ('pending', 'submitted', 'processing') GROUP BY account_id) n
    LEFT JOIN account_limits l ON l.account_id = n.account_id
    ORDER BY n.account_id
    ON CONFLICT (account_id) DO UPDATE SET
        waiting = d.waiting + excluded.waiting,
        running = d.running + excluded.running,
        share = (d.running + excluded.running)::float8 / d.weight,
        head = CASE WHEN excluded.head IS NOT NULL AND (d.head IS NULL OR excluded.head < d.head)
                    THEN excluded.head ELSE d.head END;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER tasks_dispatch_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION account_dispatch_track_inserts();

-- +goose StatementBegin
CREATE FUNCTION account_dispatch_track_limits() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE account_dispatch SET weight = 1, share = running::float8 WHERE account_id = OLD.account_id;
    ELSE
        INSERT INTO account_dispatch AS d (account_id, weight) VALUES (NEW.account_id, NEW.weight)
        ON CONFLICT (account_id) DO UPDATE SET weight = excluded.weight, share = d.running::float8 / excluded.weight;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER account_limits_dispatch_track AFTER INSERT OR DELETE OR UPDATE OF weight ON account_limits
    FOR EACH ROW EXECUTE FUNCTION account_dispatch_track_limits();

-- +goose Down
DROP TRIGGER account_limits_dispatch_track ON account_limits;
DROP FUNCTION account_dispatch_track_limits();
DROP TRIGGER tasks_dispatch_insert ON tasks;
DROP FUNCTION account_dispatch_track_inserts();
DROP TRIGGER tasks_dispatch_track ON tasks;
DROP FUNCTION account_dispatch_track_task();
DROP TABLE account_dispatch;
