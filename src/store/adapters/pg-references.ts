import type pg from 'pg';
import type { IdJagReferenceStore } from '../ports.js';
import { consumption, REFERENCE_SQL, type ReferenceRow } from './reference-sql.js';
import { appendAudit, first, run, transaction } from './pg-client.js';

/**
 * ID-JAG references on PostgreSQL: the issue and its audit record in one transaction; consumption
 * one conditional UPDATE (of racing redemptions, on any instance, the row lock lets exactly one
 * match), then the read of the row to tell a replay or an expiry from a reference never issued.
 */
export function pgReferences(pool: pg.Pool): IdJagReferenceStore {
  return {
    issue: (hash, r, audit) =>
      transaction(pool, async (tx) => {
        await run(tx, REFERENCE_SQL.insert, [hash, JSON.stringify(r), r.expiresAt]);
        await appendAudit(tx, audit);
      }),
    consume: async (hash, now) => {
      const changed = (await run(pool, REFERENCE_SQL.consume, [now, hash, now])).changes === 1;
      // A row consumed is never un-consumed: read after the UPDATE, it says what the UPDATE decided.
      return consumption(changed, await first<ReferenceRow>(pool, REFERENCE_SQL.get, [hash]), now);
    },
  };
}
