-- PostgreSQL dialect of migrations/0005_access_requests.sql (BIGINT for the SQLite INTEGER columns).
-- Governance (docs/access-requests.md): access requests (the AuthZEN Access Request profile's tasks)
-- and deferral codes (deferred completion at the token endpoint). `record` holds the whole record as
-- JSON; the columns beside it are what queries, uniqueness rules and retention read.

-- One task per denial; one per (requester, Idempotency-Key). A task without a key has a NULL key,
-- and NULLs never clash in a UNIQUE constraint.
CREATE TABLE IF NOT EXISTS access_requests (
  id TEXT PRIMARY KEY,
  denial_id TEXT NOT NULL UNIQUE,
  requester TEXT NOT NULL,
  idempotency_key TEXT,
  principal_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  destination TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  approved_until BIGINT,
  record TEXT NOT NULL,
  UNIQUE (requester, idempotency_key)
);
-- The approval console's queue: pending tasks, oldest first.
CREATE INDEX IF NOT EXISTS access_requests_pending ON access_requests (status, created_at);
-- The mint path's lookup of valid approvals.
CREATE INDEX IF NOT EXISTS access_requests_approvals ON access_requests (principal_id, client_id, destination, status, approved_until);
-- Retention reads the expiry (and, for approved tasks, approved_until).
CREATE INDEX IF NOT EXISTS access_requests_expiry ON access_requests (expires_at);

-- Deferral codes, stored by SHA-256 of the code, never in clear. `last_poll_at` is the last counted
-- poll (the issue at first); `interval` only grows (slow_down). A finished deferral stays until it
-- expires, so a replayed code is told apart from one never issued.
CREATE TABLE IF NOT EXISTS deferrals (
  code_hash TEXT PRIMARY KEY,
  record TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  "interval" BIGINT NOT NULL,
  last_poll_at BIGINT NOT NULL,
  finished_at BIGINT
);
CREATE INDEX IF NOT EXISTS deferrals_expiry ON deferrals (expires_at);
