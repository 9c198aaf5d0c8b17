import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { startNodeBroker } from '../../src/runtime/node.js';
import { openSqlite } from '../../src/store/adapters/sqlite.js';
import type { AuditRecord } from '../../src/store/ports.js';

describe('Node runtime: retention', () => {
  it('prunes expired state after start, and writes open refusal summaries (source: the TCP peer) when stopped', async () => {
    const database = join(mkdtempSync(join(tmpdir(), 'xaa-retention-')), 'broker.sqlite');
    const seed = openSqlite(database);
    seed.prepare('INSERT INTO replay (scope, id, expires_at) VALUES (?, ?, ?)').run('old', 'jti-1', 1);
    seed.prepare('INSERT INTO login_transactions (id, record, expires_at) VALUES (?, ?, ?)').run('tx-1', '{}', 1);
    seed.close();

    const broker = await startNodeBroker({ port: 18791, database, logger: silentLogger });
    const db = openSqlite(database);
    try {
      const left = () => db.prepare("SELECT (SELECT count(*) FROM replay WHERE scope = 'old') + (SELECT count(*) FROM login_transactions WHERE id = 'tx-1')").pluck().get() as number;
      for (let i = 0; i < 100 && left() > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(left()).toBe(0);

      const res = await fetch('http://127.0.0.1:18791/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=password&client_id=nobody' });
      expect(res.status).toBe(400);
      await broker.stop();
      const summaries = (db.prepare("SELECT record FROM audit_log WHERE event = 'refusal_summary'").pluck().all() as string[]).map((r) => JSON.parse(r) as AuditRecord);
      expect(summaries).toEqual([expect.objectContaining({ reason: 'unsupported_grant_type', source: '127.0.0.1', count: 1 })]);
    } finally {
      await new Promise((ok) => broker.server.close(ok));
      db.close();
    }
  });
});
