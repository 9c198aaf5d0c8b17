import type pg from 'pg';
import type { IdJagReferenceStore } from '../ports.js';
import { consumption, REFERENCE_SQL, type ReferenceRow } from './reference-sql.js';
import { appendAudit, first, run, transaction } from './pg-client.js';

/** The shared consuming UPDATE, returning the row it consumed. */
const CONSUME_RETURNING = `${REFERENCE_SQL.consume} RETURNING record, expires_at, consumed_at`;

/**
 * ID-JAG references on PostgreSQL: the issue and its audit record in one transaction; consumption
 * one conditional UPDATE (of racing redemptions, on any instance, the row lock lets exactly one
 * match) that returns the row it consumed. Only a redemption that did not consume reads the row,
 * to tell a replay or an expiry from a reference never issued.
 */
export function pgReferences(pool: pg.Pool): IdJagReferenceStore {
  return {
    issue: (hash, r, audit) =>
      transaction(pool, async (tx) => {
        await run(tx, REFERENCE_SQL.insert, [hash, JSON.stringify(r), r.expiresAt]);
        await appendAudit(tx, audit);
      }),
    consume: async (hash, now) => {
      // The consumed row comes back with the UPDATE: a later read could find it pruned by another
      // instance meanwhile (its clock past the expiry) and make the winner's redemption `unknown`.
      const won = await first<ReferenceRow>(pool, CONSUME_RETURNING, [now, hash, now]);
      if (won) return consumption(true, won, now);
      // A row consumed is never un-consumed: read after the UPDATE, it says why the UPDATE did not match.
      return consumption(false, await first<ReferenceRow>(pool, REFERENCE_SQL.get, [hash]), now);
    },
  };
}
