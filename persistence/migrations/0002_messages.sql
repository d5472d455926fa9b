-- Messages, the certificates that identify clients, and idempotency keys.
-- Re-runnable, like every migration.

CREATE TABLE IF NOT EXISTS certificates (
  -- SHA-256 of the DER certificate, lower-case hex.
  fingerprint CHAR(64) NOT NULL PRIMARY KEY,
  client_id BIGINT UNSIGNED NOT NULL,
  serial VARCHAR(64) NULL,
  subject VARCHAR(255) NULL,
  not_before DATETIME(6) NULL,
  not_after DATETIME(6) NULL,
  status ENUM('active', 'revoked') NOT NULL DEFAULT 'active',
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  KEY certificates_client (client_id),
  CONSTRAINT certificates_client FOREIGN KEY (client_id) REFERENCES clients (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS messages (
  -- UUIDv7: time-ordered, so inserts append to the primary key.
  id BINARY(16) NOT NULL PRIMARY KEY,
  client_id BIGINT UNSIGNED NOT NULL,
  -- HMAC-SHA-256(pepper, E.164 number): keyed, so it cannot be reversed by
  -- hashing every possible number.
  sender_hash BINARY(32) NOT NULL,
  sender_masked VARCHAR(20) NOT NULL,
  -- AES-256-GCM of "<sender number>\n<body>" (delivery needs the number)
  -- under data key body_key_id, the message id as associated data; the
  -- ciphertext ends with the 16-byte tag.
  body_key_id INT UNSIGNED NOT NULL,
  body_nonce BINARY(12) NOT NULL,
  body_ciphertext VARBINARY(8192) NOT NULL,
  -- accepting: written, not yet queued (never delivered in this state);
  -- queued -> delivering -> delivered | failed; rejected: never accepted.
  status ENUM('accepting', 'queued', 'delivering', 'delivered', 'failed',
              'rejected') NOT NULL,
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
    ON UPDATE CURRENT_TIMESTAMP(6),
  next_attempt_at DATETIME(6) NULL,
  delivered_at DATETIME(6) NULL,
  last_error VARCHAR(512) NULL,
  KEY messages_client_created (client_id, created_at),
  KEY messages_status_id (status, id),
  KEY messages_status_updated (status, updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS idempotency_keys (
  client_id BIGINT UNSIGNED NOT NULL,
  idem_key VARCHAR(64) NOT NULL,
  -- SHA-256 of sender number and body: a replay must match it.
  request_hash BINARY(32) NOT NULL,
  message_id BINARY(16) NOT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (client_id, idem_key),
  KEY idempotency_keys_message (message_id),
  KEY idempotency_keys_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
