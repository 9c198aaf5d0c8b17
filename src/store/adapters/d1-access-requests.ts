import type { D1Database } from '@cloudflare/workers-types';
import type { AccessRequestStore, AuditRecord } from '../ports.js';
import { ACCESS_REQUEST_SQL, TASK_COLUMNS, clashOf, rowToTask, taskRow, transitionArgs, transitionOf, type RecordRow } from './access-request-sql.js';

/**
 * The replay scope of the guard row a submission or transition writes (and removes) inside its own
 * batch. D1 has no interactive transaction, and a batch cannot branch on what an earlier statement
 * changed; so the batch's first statement decides (writes the guard row, or not), and every write
 * after it runs only if the guard row is there. The guard's id is random per call, so nothing
 * another call wrote, however alike, can stand in for it.
 */
const GUARD_SCOPE = 'xaa:access-request-guard';
const GUARDED = `EXISTS (SELECT 1 FROM replay WHERE scope = '${GUARD_SCOPE}' AND id = ?)`;

const SQL = {
  /** (guard, now, id, denial_id, requester, idempotency_key): no task has this id, denial, or (requester, key). */
  guardSubmit: `INSERT INTO replay (scope, id, expires_at) SELECT '${GUARD_SCOPE}', ?, ?
    WHERE NOT EXISTS (SELECT 1 FROM access_requests WHERE id = ? OR denial_id = ? OR (requester = ? AND idempotency_key = ?))`,
  insertIf: `INSERT INTO access_requests (${TASK_COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE ${GUARDED}`,
  /** (guard, now, id, now): the task is pending and unexpired. */
  guardTransition: `INSERT INTO replay (scope, id, expires_at) SELECT '${GUARD_SCOPE}', ?, ?
    WHERE EXISTS (SELECT 1 FROM access_requests WHERE id = ? AND status = 'pending' AND expires_at > ?)`,
  transitionIf: `${ACCESS_REQUEST_SQL.transition} AND ${GUARDED}`,
  auditIf: `INSERT INTO audit_log (at, event, request_id, record) SELECT ?, ?, ?, ? WHERE ${GUARDED}`,
  dropGuard: `DELETE FROM replay WHERE scope = '${GUARD_SCOPE}' AND id = ?`,
} as const;

function randomId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Access requests on D1: every write is one batch (one transaction), made conditional by a guard row (above). */
export function d1AccessRequests(db: D1Database): AccessRequestStore {
  const auditIf = (a: AuditRecord, guard: string) => db.prepare(SQL.auditIf).bind(a.at, a.event, a.requestId, JSON.stringify(a), guard);
  const all = (rows: RecordRow[] | undefined) => (rows ?? []).map((r) => rowToTask(r)!);
  return {
    submit: async (task, audit) => {
      const guard = randomId();
      const key = task.idempotencyKey ?? null;
      const [guarded, , , , clashes] = await db.batch([
        db.prepare(SQL.guardSubmit).bind(guard, task.createdAt, task.id, task.denialId, task.requester, key),
        db.prepare(SQL.insertIf).bind(...taskRow(task), guard),
        auditIf(audit, guard),
        db.prepare(SQL.dropGuard).bind(guard),
        db.prepare(ACCESS_REQUEST_SQL.clashes).bind(task.denialId, task.requester, key),
      ]);
      if (guarded!.meta.changes === 1) return { status: 'created' };
      return clashOf(task, clashes!.results as Array<RecordRow & { denial_id: string }>);
    },
    get: async (id) => rowToTask(await db.prepare(ACCESS_REQUEST_SQL.get).bind(id).first<RecordRow>()),
    forDenial: async (denialId) => rowToTask(await db.prepare(ACCESS_REQUEST_SQL.forDenial).bind(denialId).first<RecordRow>()),
    pending: async (now, limit) => all((await db.prepare(ACCESS_REQUEST_SQL.pending).bind(now, limit).all<RecordRow>()).results),
    transition: async (id, decision, audit, now) => {
      const guard = randomId();
      const [guarded, , , , read] = await db.batch([
        db.prepare(SQL.guardTransition).bind(guard, now, id, now),
        db.prepare(SQL.transitionIf).bind(...transitionArgs(id, decision, now), guard),
        auditIf(audit, guard),
        db.prepare(SQL.dropGuard).bind(guard),
        db.prepare(ACCESS_REQUEST_SQL.get).bind(id),
      ]);
      return transitionOf(guarded!.meta.changes === 1, (read!.results as RecordRow[])[0]);
    },
    approvals: async (principalId, clientId, destination, now) =>
      all((await db.prepare(ACCESS_REQUEST_SQL.approvals).bind(principalId, clientId, destination, now).all<RecordRow>()).results),
  };
}
