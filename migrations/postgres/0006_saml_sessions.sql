-- PostgreSQL dialect of migrations/0006_saml_sessions.sql (BIGINT for the SQLite INTEGER columns).
-- SAML Single Logout (docs/saml.md#single-logout): for each broker session a SAML login started, the
-- NameID (with its format and qualifiers) and SessionIndex the IdP asserted. A LogoutRequest from the
-- broker names them; one from the IdP is matched against them (by connection and NameID value, then
-- format, qualifiers and SessionIndex in code). `record` holds the whole link as JSON.
CREATE TABLE IF NOT EXISTS saml_sessions (
  session_id TEXT PRIMARY KEY,
  connection_id TEXT NOT NULL,
  name_id TEXT NOT NULL,
  record TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS saml_sessions_name_id ON saml_sessions (connection_id, name_id);
CREATE INDEX IF NOT EXISTS saml_sessions_expiry ON saml_sessions (expires_at);
