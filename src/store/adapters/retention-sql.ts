import { ACCESS_REQUEST_RETAIN_AFTER, PRUNE_CHUNK_ROWS, PRUNE_MAX_CHUNKS } from '../../constants.js';
import type { PruneReport, RetentionPolicy, RetentionStore } from '../ports.js';

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
  // A SAML session link expires with its session (Single Logout has nothing left to end).
  saml_sessions: expired('saml_sessions'),
  // A reference past its expiry can be neither redeemed nor replayed.
  id_jag_references: expired('id_jag_references'),
  // A deferral past its expiry answers only expired_token, or nothing if finished.
  deferrals: expired('deferrals'),
  /**
   * A task is over at its expiry, or at its approval's end if that is later (an approved task is
   * the approval the mint path finds); it is kept ACCESS_REQUEST_RETAIN_AFTER beyond that, so its
   * status endpoint still answers a late requester. (`now` is needed twice: a one-row subquery
   * names it, as numbered parameters are not bound alike by better-sqlite3 and D1.)
   */
  access_requests: `DELETE FROM access_requests WHERE rowid IN (SELECT rowid FROM access_requests, (SELECT ? - ${ACCESS_REQUEST_RETAIN_AFTER} AS before)
    WHERE expires_at < before AND (approved_until IS NULL OR approved_until < before) LIMIT ?)`,
};

/** (before, chunk): audit records older than the retention age. */
export const PRUNE_AUDIT_BY_AGE = 'DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log WHERE at < ? ORDER BY seq LIMIT ?)';
/** (keep, chunk): the oldest audit records beyond the newest `keep`. */
export const PRUNE_AUDIT_BY_COUNT =
  'DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log WHERE seq <= (SELECT max(seq) FROM audit_log) - ? ORDER BY seq LIMIT ?)';

/**
 * (since, after, limit): an export page. Enough on SQLite and D1: they run one write transaction
 * at a time and `seq` is drawn inside it, so records become visible in `seq` order and paging from
 * the last `seq` skips nothing. PostgreSQL's concurrent writers need a watermark (pg.ts).
 */
export const AUDIT_SINCE = 'SELECT seq, record FROM audit_log WHERE at >= ? AND seq > ? ORDER BY seq LIMIT ?';

/** One pruning statement, as an adapter runs it: (policy value, chunk size) → rows deleted. */
export interface PruneStep {
  table: string;
  arg: keyof RetentionPolicy;
  run(value: number, chunk: number): Promise<number>;
}

/** The statements above with the policy value each one takes, for an adapter to bind. */
export const PRUNE_PLAN: ReadonlyArray<{ table: string; sql: string; arg: keyof RetentionPolicy }> = [
  ...Object.entries(PRUNE_EXPIRED).map(([table, sql]) => ({ table, sql, arg: 'now' as const })),
  { table: 'audit_log', sql: PRUNE_AUDIT_BY_AGE, arg: 'auditBefore' },
  { table: 'audit_log', sql: PRUNE_AUDIT_BY_COUNT, arg: 'auditMaxRows' },
];

/**
 * The chunk loop both adapters share: each statement is repeated until a chunk comes back short
 * or the chunk budget is spent, so one run does a bounded amount of work and says when it left
 * rows for the next.
 */
export function chunkedRetention(steps: readonly PruneStep[]): RetentionStore {
  return {
    prune: async (policy) => {
      const deleted: PruneReport = {};
      let complete = true;
      for (const { table, arg, run } of steps) {
        let chunks = 0;
        let changes: number;
        do {
          changes = await run(policy[arg], PRUNE_CHUNK_ROWS);
          deleted[table] = (deleted[table] ?? 0) + changes;
        } while (changes === PRUNE_CHUNK_ROWS && ++chunks < PRUNE_MAX_CHUNKS);
        if (changes === PRUNE_CHUNK_ROWS) complete = false;
      }
      return { deleted, complete };
    },
  };
}
