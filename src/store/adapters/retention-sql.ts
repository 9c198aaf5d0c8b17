/**
 * Pruning statements shared by the SQLite and D1 adapters. Each deletes at most `?` rows (a
 * chunk), chosen through the table's expiry or time index (migrations/0003_retention.sql), so a
 * run never holds the database for long; the adapters repeat a statement until a chunk comes
 * back short or the chunk budget is spent.
 */
const expired = (table: string) => `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE expires_at < ? LIMIT ?)`;

/** Table → statement taking (now, chunk). Expired rows only: nothing here is needed after its expiry. */
export const PRUNE_EXPIRED: Readonly<Record<string, string>> = {
  replay: expired('replay'),
  login_transactions: expired('login_transactions'),
  authorization_codes: expired('authorization_codes'),
  // A refresh token never outlives its use; an expired one (rotated or not) can no longer be replayed.
  refresh_tokens: expired('refresh_tokens'),
  sessions: expired('sessions'),
};

/** (before, chunk): audit records older than the retention age. */
export const PRUNE_AUDIT_BY_AGE = 'DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log WHERE at < ? ORDER BY seq LIMIT ?)';
/** (keep, chunk): the oldest audit records beyond the newest `keep`. */
export const PRUNE_AUDIT_BY_COUNT =
  'DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log WHERE seq <= (SELECT max(seq) FROM audit_log) - ? ORDER BY seq LIMIT ?)';

export const AUDIT_SINCE = 'SELECT seq, record FROM audit_log WHERE at >= ? AND seq > ? ORDER BY seq LIMIT ?';
