import { describe, expect, it } from 'vitest';
import { createSqliteStore, openSqlite } from '../../src/store/adapters/sqlite.js';
import { StoreConflict, type AuditRecord, type SubjectBinding } from '../../src/store/ports.js';

const audit = (requestId: string): AuditRecord => ({ at: 1, event: 'mint', requestId });
const binding = (principalId: string, subject: string): SubjectBinding => ({ namespace: 'ns', principalId, subject, source: 'claim', version: 1, createdAt: 1 });

describe('SQLite store: group commit', () => {
  it('commits concurrent writes, each all or nothing: a conflicting one fails alone', async () => {
    const db = openSqlite(':memory:');
    const store = createSqliteStore(db);
    const results = await Promise.allSettled([
      store.commitMint({ binding: binding('p1', 'alice'), audit: audit('r1') }),
      store.commitMint({ binding: binding('p2', 'alice'), audit: audit('r2') }), // same subject: conflict
      store.commitMint({ audit: audit('r3') }),
      store.audit.append({ ...audit('r4'), event: 'refusal' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(StoreConflict);
    const ids = (await store.audit.recent(10)).map((r) => r.requestId).sort();
    expect(ids).toEqual(['r1', 'r3', 'r4']); // r2's audit record went with its binding
    expect(await store.mappings.bindingOfSubject('ns', 'alice')).toMatchObject({ principalId: 'p1' });
    expect(await store.mappings.bindingOf('ns', 'p2')).toBeUndefined();
  });

  it('settles a write only after it is committed', async () => {
    const store = createSqliteStore(openSqlite(':memory:'));
    await store.commitMint({ audit: audit('r1') });
    expect((await store.audit.recent(1))[0]!.requestId).toBe('r1');
  });

  it('rejects the writes that fail without losing the store, and recovers after', async () => {
    const db = openSqlite(':memory:');
    const store = createSqliteStore(db);
    db.exec('CREATE TRIGGER boom BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, \'disk on fire\'); END;');
    const results = await Promise.allSettled([store.commitMint({ audit: audit('a') }), store.commitMint({ audit: audit('b') })]);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    db.exec('DROP TRIGGER boom');
    await store.commitMint({ audit: audit('c') });
    expect((await store.audit.recent(5)).map((r) => r.requestId)).toEqual(['c']);
  });
});
