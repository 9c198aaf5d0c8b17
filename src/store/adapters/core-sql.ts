/**
 * Statements of the core store (keys, mapping table, bindings, replay, audit, secrets) that the D1
 * and PostgreSQL adapters spell identically (the SQLite adapter prepares its own, several of them
 * the same text). An adapter whose semantics differ keeps its own statement.
 */
export const CORE_SQL = {
  listKeys: 'SELECT * FROM signing_keys ORDER BY created_at',
  tableRow: 'SELECT * FROM mapping_table WHERE namespace = ? AND upstream_issuer = ? AND upstream_subject = ?',
  bindingOf: 'SELECT * FROM subject_bindings WHERE namespace = ? AND principal_id = ?',
  bindingOfSubject: 'SELECT * FROM subject_bindings WHERE namespace = ? AND subject = ?',
  insertBinding: `INSERT INTO subject_bindings (namespace, principal_id, subject, source, version, created_at, upstream_issuer) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  /**
   * One statement, atomic: records a fresh id, or takes over a record that has already expired
   * (`expires_at < now`), and changes nothing for a live one. One row changed exactly when the id
   * was not a replay; of racing inserts of one id the unique index lets one through.
   */
  consumeReplay: `INSERT INTO replay (scope, id, expires_at) VALUES (?, ?, ?)
    ON CONFLICT (scope, id) DO UPDATE SET expires_at = excluded.expires_at WHERE replay.expires_at < ?`,
  purgeReplay: 'DELETE FROM replay WHERE expires_at < ?',
  replayRecorded: 'SELECT 1 AS recorded FROM replay WHERE scope = ? AND id = ? AND expires_at >= ?',
  recentAudit: 'SELECT record FROM audit_log ORDER BY seq DESC LIMIT ?',
  insertSecret: 'INSERT INTO broker_secrets (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING',
  getSecret: 'SELECT value FROM broker_secrets WHERE name = ?',
  putSecret: 'INSERT INTO broker_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
} as const;
