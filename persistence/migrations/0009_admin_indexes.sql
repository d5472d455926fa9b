-- The admin pages search every client's messages newest first (by status
-- or by sender, the keyed hash) and count them per minute for the
-- overview (created, delivered): one index range each, so a page and the
-- overview cost the same with a million messages as with a hundred.
-- InnoDB appends the primary key (id) to each, which the keyset order
-- (created_at, id) uses. Re-runnable.

CREATE INDEX IF NOT EXISTS messages_created ON messages (created_at);
CREATE INDEX IF NOT EXISTS messages_status_created
  ON messages (status, created_at);
CREATE INDEX IF NOT EXISTS messages_sender_created
  ON messages (sender_hash, created_at);
CREATE INDEX IF NOT EXISTS messages_delivered ON messages (delivered_at);
