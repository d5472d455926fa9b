-- Dead letters: heraldctl message requeue queues a failed message again.
-- max-attempts and max-age then count from the requeue (its time, and the
-- attempts made before it); attempt numbers go on, so delivery_attempts
-- keeps the whole history. Re-runnable, like every migration.

ALTER TABLE messages
  ADD COLUMN IF NOT EXISTS requeued_at DATETIME(6) NULL;
ALTER TABLE messages
  ADD COLUMN IF NOT EXISTS requeued_attempts INT UNSIGNED NOT NULL DEFAULT 0;
