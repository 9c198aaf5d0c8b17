import type pg from 'pg';
import type { AccessRequestRecord, AccessRequestStore, AccessRequestSubmission } from '../ports.js';
import { ACCESS_REQUEST_SQL, clashOf, rowToTask, taskRow, transitionArgs, transitionOf, type RecordRow } from './access-request-sql.js';
import { appendAudit, first, isUniqueViolation, run, transaction } from './pg-client.js';

/**
 * PostgreSQL's versions of the statements that are SQLite dialect in ACCESS_REQUEST_SQL: ties
 * broken by id (no rowid), and the decision merged into the stored JSON with `||` (json_patch:
 * a pending record has none of the decision's fields, so a shallow merge is the same).
 */
const SQL = {
  ...ACCESS_REQUEST_SQL,
  pending: "SELECT record FROM access_requests WHERE status = 'pending' AND expires_at > ? ORDER BY created_at, id LIMIT ?",
  approvals: `SELECT record FROM access_requests
    WHERE principal_id = ? AND client_id = ? AND destination = ? AND status = 'approved' AND approved_until > ?
    ORDER BY created_at, id`,
  transition: `UPDATE access_requests SET status = ?, approved_until = ?, record = (record::jsonb || ?::jsonb)::text
    WHERE id = ? AND status = 'pending' AND expires_at > ?`,
} as const;

/**
 * Access requests on PostgreSQL. A transition is one conditional UPDATE (of racing ones the row
 * lock lets one match) with its audit record and the read of what it decided, in one transaction.
 * A submission checks for clashes and inserts; a concurrent submission that inserted first makes
 * the insert fail on a unique index, and the clash is then read and answered as such.
 */
export function pgAccessRequests(pool: pg.Pool): AccessRequestStore {
  const clashes = (task: AccessRequestRecord) =>
    run<RecordRow & { denial_id: string }>(pool, SQL.clashes, [task.denialId, task.requester, task.idempotencyKey ?? null]);
  const all = (rows: RecordRow[]) => rows.map((r) => rowToTask(r)!);

  return {
    submit: async (task, audit): Promise<AccessRequestSubmission> => {
      const before = (await clashes(task)).rows;
      if (before.length > 0) return clashOf(task, before);
      try {
        await transaction(pool, async (tx) => {
          await run(tx, SQL.insert, taskRow(task));
          await appendAudit(tx, audit);
        });
        return { status: 'created' };
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        // Lost a race: the winner is committed (the index waited for it), so the clash is visible now.
        return clashOf(task, (await clashes(task)).rows);
      }
    },
    get: async (id) => rowToTask(await first<RecordRow>(pool, SQL.get, [id])),
    forDenial: async (denialId) => rowToTask(await first<RecordRow>(pool, SQL.forDenial, [denialId])),
    pending: async (now, limit) => all((await run<RecordRow>(pool, SQL.pending, [now, limit])).rows),
    transition: (id, decision, audit, now) =>
      transaction(pool, async (tx) => {
        const changed = (await run(tx, SQL.transition, transitionArgs(id, decision, now))).changes === 1;
        if (changed) await appendAudit(tx, audit);
        return transitionOf(changed, await first<RecordRow>(tx, SQL.get, [id]));
      }),
    approvals: async (principalId, clientId, destination, now) =>
      all((await run<RecordRow>(pool, SQL.approvals, [principalId, clientId, destination, now])).rows),
  };
}
