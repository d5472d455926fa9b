-- Portal users managed with heraldctl user: when a password was last set,
-- and a session generation that every password change, disable and role
-- change bumps, so the portal can end a user's older sessions by comparing
-- it. Re-runnable, like every migration.

ALTER TABLE users
  ADD COLUMN IF NOT EXISTS password_changed_at DATETIME(6) NULL;
ALTER TABLE users
  ADD COLUMN IF NOT EXISTS session_generation INT UNSIGNED NOT NULL DEFAULT 0;
