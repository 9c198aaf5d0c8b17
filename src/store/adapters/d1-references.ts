import type { D1Database } from '@cloudflare/workers-types';
import type { IdJagReferenceStore } from '../ports.js';
import { consumption, REFERENCE_SQL, type ReferenceRow } from './reference-sql.js';

/**
 * ID-JAG references on D1. Each write is one batch (one transaction): the issue with its audit
 * record; the conditional UPDATE with the read that reports what it decided.
 */
export function d1References(db: D1Database): IdJagReferenceStore {
  return {
    issue: async (hash, r, audit) => {
      await db.batch([
        db.prepare(REFERENCE_SQL.insert).bind(hash, JSON.stringify(r), r.expiresAt),
        db.prepare('INSERT INTO audit_log (at, event, request_id, record) VALUES (?, ?, ?, ?)').bind(audit.at, audit.event, audit.requestId, JSON.stringify(audit)),
      ]);
    },
    consume: async (hash, now) => {
      const [update, read] = await db.batch([db.prepare(REFERENCE_SQL.consume).bind(now, hash, now), db.prepare(REFERENCE_SQL.get).bind(hash)]);
      return consumption(update!.meta.changes === 1, (read!.results as ReferenceRow[])[0], now);
    },
  };
}
