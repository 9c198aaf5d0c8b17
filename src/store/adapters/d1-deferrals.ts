import type { D1Database } from '@cloudflare/workers-types';
import type { DeferralStore } from '../ports.js';
import { DEFERRAL_SQL, pollOf, type DeferralRow } from './access-request-sql.js';

/**
 * Deferral codes on D1. Each write is one batch (one transaction): the issue with its audit record;
 * a poll's two mutually exclusive UPDATEs (DEFERRAL_SQL) with the read that reports what they decided.
 */
export function d1Deferrals(db: D1Database): DeferralStore {
  return {
    issue: async (hash, d, interval, audit) => {
      await db.batch([
        db.prepare(DEFERRAL_SQL.insert).bind(hash, JSON.stringify(d), d.expiresAt, interval, d.issuedAt),
        db.prepare('INSERT INTO audit_log (at, event, request_id, record) VALUES (?, ?, ?, ?)').bind(audit.at, audit.event, audit.requestId, JSON.stringify(audit)),
      ]);
    },
    poll: async (hash, now, step) => {
      const [slowed, ready, read] = await db.batch([
        db.prepare(DEFERRAL_SQL.slowDown).bind(step, hash, now, now),
        db.prepare(DEFERRAL_SQL.ready).bind(now, hash, now, now),
        db.prepare(DEFERRAL_SQL.get).bind(hash),
      ]);
      return pollOf(slowed!.meta.changes === 1, ready!.meta.changes === 1, (read!.results as DeferralRow[])[0], now);
    },
    finish: async (hash, now) => (await db.prepare(DEFERRAL_SQL.finish).bind(now, hash).run()).meta.changes === 1,
  };
}
