-- PostgreSQL dialect of migrations/0004_id_jag_references.sql (BIGINT for the SQLite INTEGER columns).
-- Resource-pulled profile (docs/profiles/pulled.md): ID-JAG references, stored by SHA-256 of their
-- value, never in clear. A consumed reference stays until it expires, so a replay is told apart from
-- a reference never issued; retention removes it after `expires_at`.
CREATE TABLE IF NOT EXISTS id_jag_references (
  reference_hash TEXT PRIMARY KEY,
  record TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  consumed_at BIGINT
);
CREATE INDEX IF NOT EXISTS id_jag_references_expiry ON id_jag_references (expires_at);
