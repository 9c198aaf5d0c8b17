import type Database from 'better-sqlite3';
import type { AuditRecord, IdJagReferenceRecord, IdJagReferenceStore } from '../ports.js';
import { consumption, REFERENCE_SQL, type ReferenceRow } from './reference-sql.js';
import type { GroupWrite } from './sqlite-group-commit.js';

/**
 * ID-JAG references on SQLite: the issue and its audit record all-or-nothing; consumption one
 * conditional UPDATE and the read of what it decided. Both run in the store's group transactions
 * (one WAL commit per event-loop turn, each write its own savepoint).
 */
export function sqliteReferences(db: Database.Database, inGroup: GroupWrite): IdJagReferenceStore {
  const q = {
    insert: db.prepare(REFERENCE_SQL.insert),
    consume: db.prepare(REFERENCE_SQL.consume),
    get: db.prepare(REFERENCE_SQL.get),
    appendAudit: db.prepare('INSERT INTO audit_log (at, event, request_id, record) VALUES (?, ?, ?, ?)'),
  };
  const issue = (hash: string, r: IdJagReferenceRecord, audit: AuditRecord) => {
    q.insert.run(hash, JSON.stringify(r), r.expiresAt);
    q.appendAudit.run(audit.at, audit.event, audit.requestId, JSON.stringify(audit));
  };
  // The UPDATE and the read share a transaction: what is read is what the UPDATE decided.
  const consume = (hash: string, now: number) => {
    const changed = q.consume.run(now, hash, now).changes === 1;
    return consumption(changed, q.get.get(hash) as ReferenceRow | undefined, now);
  };
  return {
    issue: (hash, r, audit) => inGroup(() => issue(hash, r, audit)),
    consume: (hash, now) => inGroup(() => consume(hash, now)),
  };
}
