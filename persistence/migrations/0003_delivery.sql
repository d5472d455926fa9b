-- Delivery: one row per attempt, and the receiver role's own record of
-- what it received (idempotent by message id). Re-runnable.

CREATE TABLE IF NOT EXISTS delivery_attempts (
  message_id BINARY(16) NOT NULL,
  attempt INT UNSIGNED NOT NULL,
  attempted_at DATETIME(6) NOT NULL,
  -- delivered, retry (408, 429, 5xx, timeout, connection or TLS error),
  -- failed (other 4xx), expired (max attempts or age reached)
  outcome ENUM('delivered', 'retry', 'failed', 'expired') NOT NULL,
  http_status SMALLINT UNSIGNED NULL,
  error VARCHAR(512) NULL,
  latency_ms INT UNSIGNED NOT NULL,
  node VARCHAR(64) NOT NULL,
  PRIMARY KEY (message_id, attempt)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS received_messages (
  message_id BINARY(16) NOT NULL PRIMARY KEY,
  sender_hash BINARY(32) NOT NULL,
  sender_masked VARCHAR(20) NOT NULL,
  body_key_id INT UNSIGNED NOT NULL,
  body_nonce BINARY(12) NOT NULL,
  body_ciphertext VARBINARY(8192) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  received_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  attempt INT UNSIGNED NOT NULL,
  -- Later deliveries of the same message, dropped as duplicates.
  duplicates INT UNSIGNED NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
