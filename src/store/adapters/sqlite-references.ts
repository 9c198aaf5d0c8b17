import type Database from 'better-sqlite3';
import type { AuditRecord, IdJagReferenceRecord, IdJagReferenceStore } from '../ports.js';
import { consumption, REFERENCE_SQL, type ReferenceRow } from './reference-sql.js';
import { writeTransaction } from './sqlite-tx.js';

/** ID-JAG references on SQLite: the issue and its audit record in one transaction; consumption one UPDATE. */
export function sqliteReferences(db: Database.Database): IdJagReferenceStore {
  const q = {
    insert: db.prepare(REFERENCE_SQL.insert),
    consume: db.prepare(REFERENCE_SQL.consume),
    get: db.prepare(REFERENCE_SQL.get),
    appendAudit: db.prepare('INSERT INTO audit_log (at, event, request_id, record) VALUES (?, ?, ?, ?)'),
  };
  const issue = writeTransaction(db, (hash: string, r: IdJagReferenceRecord, audit: AuditRecord) => {
    q.insert.run(hash, JSON.stringify(r), r.expiresAt);
    q.appendAudit.run(audit.at, audit.event, audit.requestId, JSON.stringify(audit));
  });
  // The UPDATE and the read share a transaction: what is read is what the UPDATE decided.
  const consume = writeTransaction(db, (hash: string, now: number) => {
    const changed = q.consume.run(now, hash, now).changes === 1;
    return consumption(changed, q.get.get(hash) as ReferenceRow | undefined, now);
  });
  return {
    issue: async (hash, r, audit) => issue(hash, r, audit),
    consume: async (hash, now) => consume(hash, now),
  };
}
