-- Review and the publish pool (§15); the same change as ../postgres. SQLite
-- adds a NOT NULL column only with a default, so available_at and updated_at
-- default to '' and are filled at once.

-- +goose Up
ALTER TABLE contents ADD COLUMN reviewed_at TEXT;
ALTER TABLE contents ADD COLUMN reviewer    TEXT NOT NULL DEFAULT '';
ALTER TABLE contents ADD COLUMN review_note TEXT NOT NULL DEFAULT '';
-- Content approved before this migration was auto-approved at completion.
UPDATE contents SET reviewer = 'auto', reviewed_at = created_at WHERE review_status = 'approved';
-- The contents list (review queue), newest first, with and without filters.
CREATE INDEX contents_list_idx ON contents (created_at DESC, id DESC);
CREATE INDEX contents_review_list_idx ON contents (review_status, created_at DESC, id DESC);
DROP INDEX contents_account_idx;
CREATE INDEX contents_account_list_idx ON contents (account_id, created_at DESC, id DESC);

ALTER TABLE publish_pool ADD COLUMN available_at     TEXT    NOT NULL DEFAULT '';
ALTER TABLE publish_pool ADD COLUMN retry_count      INTEGER NOT NULL DEFAULT 0;
ALTER TABLE publish_pool ADD COLUMN max_retries      INTEGER NOT NULL DEFAULT 3;
ALTER TABLE publish_pool ADD COLUMN claim_token_hash TEXT    NOT NULL DEFAULT '';
ALTER TABLE publish_pool ADD COLUMN claimed_at       TEXT;
ALTER TABLE publish_pool ADD COLUMN lease_expires_at TEXT;
ALTER TABLE publish_pool ADD COLUMN published_at     TEXT;
ALTER TABLE publish_pool ADD COLUMN published_url    TEXT    NOT NULL DEFAULT '';
ALTER TABLE publish_pool ADD COLUMN platform_id      TEXT    NOT NULL DEFAULT '';
ALTER TABLE publish_pool ADD COLUMN last_error       TEXT    NOT NULL DEFAULT '';
ALTER TABLE publish_pool ADD COLUMN updated_at       TEXT    NOT NULL DEFAULT '';
UPDATE publish_pool SET available_at = scheduled_at, updated_at = created_at;
-- The claim walks pending entries in claim order and stops at the first
-- limit that are due; the list shares it.
DROP INDEX publish_pool_queue_idx;
CREATE INDEX publish_pool_claim_idx ON publish_pool (status, priority DESC, scheduled_at, id);
CREATE INDEX publish_pool_account_idx ON publish_pool (account_id, status, priority DESC, scheduled_at, id);
-- The release of expired leases looks at claimed entries only.
CREATE INDEX publish_pool_lease_idx ON publish_pool (lease_expires_at) WHERE status = 'claimed';

-- +goose Down
DROP INDEX publish_pool_lease_idx;
DROP INDEX publish_pool_account_idx;
DROP INDEX publish_pool_claim_idx;
CREATE INDEX publish_pool_queue_idx ON publish_pool (status, priority DESC, scheduled_at);
ALTER TABLE publish_pool DROP COLUMN updated_at;
ALTER TABLE publish_pool DROP COLUMN last_error;
ALTER TABLE publish_pool DROP COLUMN platform_id;
ALTER TABLE publish_pool DROP COLUMN published_url;
ALTER TABLE publish_pool DROP COLUMN published_at;
ALTER TABLE publish_pool DROP COLUMN lease_expires_at;
ALTER TABLE publish_pool DROP COLUMN claimed_at;
ALTER TABLE publish_pool DROP COLUMN claim_token_hash;
ALTER TABLE publish_pool DROP COLUMN max_retries;
ALTER TABLE publish_pool DROP COLUMN retry_count;
ALTER TABLE publish_pool DROP COLUMN available_at;
DROP INDEX contents_account_list_idx;
CREATE INDEX contents_account_idx ON contents (account_id, created_at DESC);
DROP INDEX contents_review_list_idx;
DROP INDEX contents_list_idx;
ALTER TABLE contents DROP COLUMN review_note;
ALTER TABLE contents DROP COLUMN reviewer;
ALTER TABLE contents DROP COLUMN reviewed_at;
