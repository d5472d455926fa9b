-- Every event a node audits carries an id, stored once: when a node sends
-- a batch to the cluster's audit writer again because the answer was lost,
-- the rows already in the chain are skipped, not written twice. heraldctl's
-- own rows have none (NULL never collides). Not part of a row's hash: it
-- identifies a row for deduplication and proves nothing. Re-runnable.

ALTER TABLE audit_log
  ADD COLUMN IF NOT EXISTS event_id CHAR(36) CHARACTER SET ascii NULL;
CREATE UNIQUE INDEX IF NOT EXISTS audit_log_event_id ON audit_log (event_id);
