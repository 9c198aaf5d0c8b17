import type Database from 'better-sqlite3';
import type { AuditRecord, DeferralRecord, DeferralStore } from '../ports.js';
import { DEFERRAL_SQL, pollOf, type DeferralRow } from './access-request-sql.js';
import { writeTransaction } from './sqlite-tx.js';

/** Deferral codes on SQLite: the issue with its audit record in one transaction; a poll's two UPDATEs and read in another. */
export function sqliteDeferrals(db: Database.Database): DeferralStore {
  const q = {
    insert: db.prepare(DEFERRAL_SQL.insert),
    slowDown: db.prepare(DEFERRAL_SQL.slowDown),
    ready: db.prepare(DEFERRAL_SQL.ready),
    get: db.prepare(DEFERRAL_SQL.get),
    finish: db.prepare(DEFERRAL_SQL.finish),
    appendAudit: db.prepare('INSERT INTO audit_log (at, event, request_id, record) VALUES (?, ?, ?, ?)'),
  };
  const issue = writeTransaction(db, (hash: string, d: DeferralRecord, interval: number, audit: AuditRecord) => {
    q.insert.run(hash, JSON.stringify(d), d.expiresAt, interval, d.issuedAt);
    q.appendAudit.run(audit.at, audit.event, audit.requestId, JSON.stringify(audit));
  });
  const poll = writeTransaction(db, (hash: string, now: number, step: number) => {
    const slowed = q.slowDown.run(step, hash, now, now).changes === 1;
    const ready = q.ready.run(now, hash, now, now).changes === 1;
    return pollOf(slowed, ready, q.get.get(hash) as DeferralRow | undefined, now);
  });
  return {
    issue: async (hash, d, interval, audit) => issue(hash, d, interval, audit),
    poll: async (hash, now, step) => poll(hash, now, step),
    finish: async (hash, now) => q.finish.run(now, hash).changes === 1,
  };
}
