-- Herald's own certificate authority: what each certificate is for, its
-- revocation, and the hash-chained audit log of administrative changes.
-- Re-runnable, like every migration.

-- Server and node certificates belong to no client.
ALTER TABLE certificates MODIFY client_id BIGINT UNSIGNED NULL;
ALTER TABLE certificates
  ADD COLUMN IF NOT EXISTS kind ENUM('client', 'server', 'node') NOT NULL
    DEFAULT 'client' AFTER client_id;
ALTER TABLE certificates
  ADD COLUMN IF NOT EXISTS revoked_at DATETIME(6) NULL;
ALTER TABLE certificates
  ADD COLUMN IF NOT EXISTS revocation_reason VARCHAR(32) NULL;
CREATE INDEX IF NOT EXISTS certificates_serial ON certificates (serial);

-- Append-only: each row's hash is SHA-256 over the previous row's hash and
-- this row's content (persistence/audit.cpp), so `heraldctl audit verify`
-- finds the first row that was edited, inserted or deleted.
CREATE TABLE IF NOT EXISTS audit_log (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  at DATETIME(6) NOT NULL,
  -- Who: the operating system user running heraldctl (or a portal user).
  actor VARCHAR(128) NOT NULL,
  -- What, e.g. ca.init, cert.issue, cert.revoke, client.disable.
  action VARCHAR(64) NOT NULL,
  -- On what: a client name, a serial, a folder.
  target VARCHAR(255) NOT NULL,
  outcome ENUM('ok', 'failed') NOT NULL,
  -- From where, e.g. heraldctl@host.
  source VARCHAR(255) NOT NULL,
  detail VARCHAR(512) NOT NULL DEFAULT '',
  prev_hash BINARY(32) NOT NULL,
  hash BINARY(32) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
