import type pg from 'pg';
import type { DeferralStore } from '../ports.js';
import { DEFERRAL_SQL, pollOf, type DeferralRow } from './access-request-sql.js';
import { appendAudit, first, run, transaction } from './pg-client.js';

/** `interval` is a keyword in PostgreSQL: the column is quoted here (migrations/postgres/0005). */
const quoted = (sql: string) => sql.replace(/\binterval\b/g, '"interval"');
const SQL = {
  insert: quoted(DEFERRAL_SQL.insert),
  slowDown: quoted(DEFERRAL_SQL.slowDown),
  ready: quoted(DEFERRAL_SQL.ready),
  get: quoted(DEFERRAL_SQL.get),
  finish: DEFERRAL_SQL.finish,
  /** Racing polls take turns on the row, so each one's two UPDATEs see the other's whole poll. */
  lock: 'SELECT 1 FROM deferrals WHERE code_hash = ? FOR UPDATE',
} as const;

/** Deferral codes on PostgreSQL: the issue with its audit record in one transaction; a poll's lock, two UPDATEs and read in another. */
export function pgDeferrals(pool: pg.Pool): DeferralStore {
  return {
    issue: (hash, d, interval, audit) =>
      transaction(pool, async (tx) => {
        await run(tx, SQL.insert, [hash, JSON.stringify(d), d.expiresAt, interval, d.issuedAt]);
        await appendAudit(tx, audit);
      }),
    poll: (hash, now, step) =>
      transaction(pool, async (tx) => {
        await run(tx, SQL.lock, [hash]);
        const slowed = (await run(tx, SQL.slowDown, [step, hash, now, now])).changes === 1;
        const ready = (await run(tx, SQL.ready, [now, hash, now, now])).changes === 1;
        return pollOf(slowed, ready, await first<DeferralRow>(tx, SQL.get, [hash]), now);
      }),
    finish: async (hash, now) => (await run(pool, SQL.finish, [now, hash])).changes === 1,
  };
}
