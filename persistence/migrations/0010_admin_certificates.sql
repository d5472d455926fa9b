-- Admin certificates: heraldctl's console reaches a node's inspector over
-- the cluster links with one (docs/CONSOLE.md); nodes lead their links
-- nowhere else. Re-runnable, like every migration.
ALTER TABLE certificates
  MODIFY kind ENUM('client', 'server', 'node', 'admin') NOT NULL
    DEFAULT 'client';
