/** Statements shared by the SQLite and D1 SAML session stores (migrations/0006_saml_sessions.sql). */
export const SAML_SESSION_SQL = {
  link: `INSERT INTO saml_sessions (session_id, connection_id, name_id, record, expires_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (session_id) DO NOTHING`,
  ofSession: 'SELECT record FROM saml_sessions WHERE session_id = ?',
  /** (connection, NameID value, now, limit): links of sessions still active, oldest first. */
  matching: `SELECT l.record FROM saml_sessions l JOIN sessions s ON s.id = l.session_id
    WHERE l.connection_id = ? AND l.name_id = ? AND s.revoked_at IS NULL AND s.expires_at > ?
    ORDER BY s.created_at LIMIT ?`,
} as const;
