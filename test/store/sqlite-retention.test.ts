import { describe, expect, it } from 'vitest';
import { PRUNE_CHUNK_ROWS, PRUNE_MAX_CHUNKS } from '../../src/constants.js';
import { createSqliteStore, openSqlite } from '../../src/store/adapters/sqlite.js';
import { retentionContract } from './retention.contract.js';

retentionContract('SQLite', async () => createSqliteStore(openSqlite(':memory:')));

describe('SQLite retention: bounded work per run', () => {
  it('stops after its chunk budget, reports it was not complete, and finishes on the next run', async () => {
    const db = openSqlite(':memory:');
    const store = createSqliteStore(db);
    const rows = PRUNE_CHUNK_ROWS * PRUNE_MAX_CHUNKS + 10;
    const insert = db.prepare('INSERT INTO replay (scope, id, expires_at) VALUES (?, ?, ?)');
    db.transaction(() => {
      for (let i = 0; i < rows; i++) insert.run('bulk', String(i), 1);
    })();
    const policy = { now: 100, auditBefore: 0, auditMaxRows: 1_000_000 };
    const first = await store.retention.prune(policy);
    expect(first).toMatchObject({ complete: false, deleted: { replay: PRUNE_CHUNK_ROWS * PRUNE_MAX_CHUNKS } });
    const second = await store.retention.prune(policy);
    expect(second).toMatchObject({ complete: true, deleted: { replay: 10 } });
    expect(db.prepare('SELECT count(*) FROM replay').pluck().get()).toBe(0);
  });
});
