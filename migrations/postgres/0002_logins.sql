-- PostgreSQL dialect of migrations/0002_logins.sql (BIGINT for the SQLite INTEGER columns).
-- Upstream logins, broker sessions and the broker's own OpenID Provider grants.

CREATE TABLE IF NOT EXISTS login_transactions (
  id TEXT PRIMARY KEY,
  record TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_transactions_expiry ON login_transactions (expires_at);

-- The latest evidence about a person, so refresh-token exchanges re-assemble claims from now, not from then.
CREATE TABLE IF NOT EXISTS principals (
  id TEXT PRIMARY KEY,
  upstream_issuer TEXT NOT NULL,
  upstream_subject TEXT NOT NULL,
  record TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  principal_id TEXT NOT NULL,
  record TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE INDEX IF NOT EXISTS sessions_principal ON sessions (principal_id);

-- Authorization codes and refresh tokens are stored by SHA-256 of their value, never in clear.
CREATE TABLE IF NOT EXISTS authorization_codes (
  code_hash TEXT PRIMARY KEY,
  record TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  consumed_at BIGINT
);

CREATE TABLE IF NOT EXISTS refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  family_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  record TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  -- Set when the token was exchanged for its successor; a second use is reuse.
  rotated_at BIGINT,
  -- The successor's hash: lets a single batch insert the successor only if this rotation won.
  successor_hash TEXT,
  revoked_at BIGINT
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family_id);
