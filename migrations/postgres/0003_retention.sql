-- PostgreSQL dialect of migrations/0003_retention.sql (BIGINT for the SQLite INTEGER columns).
-- Retention: expired state and old audit records are pruned by expiry/age (src/store/adapters/retention.ts),
-- so each table that is pruned has an index on the column the pruning reads.

CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
CREATE INDEX IF NOT EXISTS authorization_codes_expiry ON authorization_codes (expires_at);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
CREATE INDEX IF NOT EXISTS refresh_tokens_expiry ON refresh_tokens (expires_at);
