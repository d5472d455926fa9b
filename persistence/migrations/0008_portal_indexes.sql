-- The portal lists a user's messages newest first, one index range per
-- client, filtered by status or by sender (the keyed hash): with these the
-- page costs the same with a million messages as with a hundred (keyset
-- pagination; docs/USER_MANUAL.md). Re-runnable.

CREATE INDEX IF NOT EXISTS messages_client_status_created
  ON messages (client_id, status, created_at);
CREATE INDEX IF NOT EXISTS messages_client_sender_created
  ON messages (client_id, sender_hash, created_at);
