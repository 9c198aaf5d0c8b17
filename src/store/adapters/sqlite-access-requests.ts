import type Database from 'better-sqlite3';
import type { AccessRequestDecision, AccessRequestRecord, AccessRequestStore, AuditRecord } from '../ports.js';
import { ACCESS_REQUEST_SQL, clashOf, rowToTask, taskRow, transitionArgs, transitionOf, type RecordRow } from './access-request-sql.js';
import { writeTransaction } from './sqlite-tx.js';

/**
 * Access requests on SQLite. Each write is one IMMEDIATE transaction, so it holds the write lock
 * from its first read: the clash check and the insert (a submission), or the conditional UPDATE
 * and the read of what it decided (a transition), cannot interleave with another process's.
 */
export function sqliteAccessRequests(db: Database.Database): AccessRequestStore {
  const q = {
    insert: db.prepare(ACCESS_REQUEST_SQL.insert),
    clashes: db.prepare(ACCESS_REQUEST_SQL.clashes),
    get: db.prepare(ACCESS_REQUEST_SQL.get),
    forDenial: db.prepare(ACCESS_REQUEST_SQL.forDenial),
    pending: db.prepare(ACCESS_REQUEST_SQL.pending),
    approvals: db.prepare(ACCESS_REQUEST_SQL.approvals),
    transition: db.prepare(ACCESS_REQUEST_SQL.transition),
    appendAudit: db.prepare('INSERT INTO audit_log (at, event, request_id, record) VALUES (?, ?, ?, ?)'),
  };
  const appendAudit = (a: AuditRecord) => q.appendAudit.run(a.at, a.event, a.requestId, JSON.stringify(a));

  const submit = writeTransaction(db, (task: AccessRequestRecord, audit: AuditRecord) => {
    const clashes = q.clashes.all(task.denialId, task.requester, task.idempotencyKey ?? null) as Array<RecordRow & { denial_id: string }>;
    if (clashes.length > 0) return clashOf(task, clashes);
    q.insert.run(...taskRow(task));
    appendAudit(audit);
    return { status: 'created' as const };
  });
  const transition = writeTransaction(db, (id: string, decision: AccessRequestDecision, audit: AuditRecord, now: number) => {
    const changed = q.transition.run(...transitionArgs(id, decision, now)).changes === 1;
    if (changed) appendAudit(audit);
    return transitionOf(changed, q.get.get(id) as RecordRow | undefined);
  });
  const all = (rows: unknown[]) => (rows as RecordRow[]).map((r) => rowToTask(r)!);

  return {
    submit: async (task, audit) => submit(task, audit),
    get: async (id) => rowToTask(q.get.get(id) as RecordRow | undefined),
    forDenial: async (denialId) => rowToTask(q.forDenial.get(denialId) as RecordRow | undefined),
    pending: async (now, limit) => all(q.pending.all(now, limit)),
    transition: async (id, decision, audit, now) => transition(id, decision, audit, now),
    approvals: async (principalId, clientId, destination, now) => all(q.approvals.all(principalId, clientId, destination, now)),
  };
}
