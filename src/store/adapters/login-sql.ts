/**
 * Statements the SQLite, D1 and PostgreSQL login stores share (migrations/0002_logins.sql and its
 * PostgreSQL twin): the same SQL in all three dialects. Where an adapter's concurrency differs
 * (reading a code or a refresh token, consuming, rotating), it keeps its own statement.
 */
export const LOGIN_SQL = {
  putLogin: 'INSERT INTO login_transactions (id, record, expires_at) VALUES (?, ?, ?)',
  takeLogin: 'DELETE FROM login_transactions WHERE id = ? RETURNING record, expires_at',
  purgeLogins: 'DELETE FROM login_transactions WHERE expires_at < ?',
  /**
   * The latest login's evidence wins, not the last write: an older login (slower to verify, on
   * another instance) committing after a newer one changes nothing. Within one second, the later write.
   */
  upsertPrincipal: `INSERT INTO principals (id, upstream_issuer, upstream_subject, record, updated_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at
    WHERE excluded.updated_at >= principals.updated_at`,
  getPrincipal: 'SELECT record FROM principals WHERE id = ?',
  createSession: 'INSERT INTO sessions (id, principal_id, record, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
  activeSession: 'SELECT record FROM sessions WHERE id = ? AND expires_at > ? AND revoked_at IS NULL',
  revokeSession: 'UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
  putCode: 'INSERT INTO authorization_codes (code_hash, record, expires_at) VALUES (?, ?, ?)',
  issueRefresh: `INSERT INTO refresh_tokens (token_hash, family_id, client_id, session_id, record, created_at, expires_at)
    VALUES (?, ?, ?, ?, ?, ?, ?)`,
  /** Refused (no row) once the family's revocation marker exists: see revokedFamilyHash. */
  issueUnlessRevoked: `INSERT INTO refresh_tokens (token_hash, family_id, client_id, session_id, record, created_at, expires_at)
    SELECT ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens WHERE token_hash = ?)`,
  markFamilyRevoked: `INSERT INTO refresh_tokens (token_hash, family_id, client_id, session_id, record, created_at, expires_at, revoked_at)
    VALUES (?, ?, '', '', '{}', ?, ?, ?) ON CONFLICT (token_hash) DO NOTHING`,
  revokeFamily: 'UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL',
  revokeSessionTokens: 'UPDATE refresh_tokens SET revoked_at = ? WHERE session_id = ? AND revoked_at IS NULL',
} as const;
