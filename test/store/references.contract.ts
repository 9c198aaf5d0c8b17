/**
 * The behaviour every adapter's ID-JAG reference store must have (resource-pulled profile). Run
 * against SQLite in test/store and against D1 inside workerd in test/workers.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { AuditRecord, BrokerStore, IdJagReferenceRecord } from '../../src/store/ports.js';

const NOW = 1_800_000_000;

export function referenceStoreContract(name: string, makeStore: () => Promise<BrokerStore>) {
  describe(`${name} ID-JAG reference store`, () => {
    let store: BrokerStore;
    // Unique per test: D1 storage is shared by the tests of a file.
    let hash: string;
    let record: IdJagReferenceRecord;
    let audit: AuditRecord;
    beforeEach(async () => {
      store = await makeStore();
      const u = crypto.randomUUID();
      hash = `hash-${u}`;
      record = { id: `ref-${u}`, clientId: 'app', destination: 'todo', principalId: 'p1', resources: [], scopes: ['todos.read'], subject: { identity: { principalId: 'p1' } }, issuedAt: NOW, expiresAt: NOW + 60 };
      audit = { at: NOW, event: 'reference', requestId: `req-${u}`, reference: record.id };
    });

    it('issues the reference with its audit record, and consumes it once', async () => {
      await store.references.issue(hash, record, audit);
      expect((await store.audit.recent(5)).map((r) => r.requestId)).toContain(audit.requestId);
      expect(await store.references.consume(hash, NOW + 1)).toEqual({ status: 'consumed', reference: record });
      expect(await store.references.consume(hash, NOW + 2)).toEqual({ status: 'replayed', reference: record });
    });

    it('of concurrent consumptions exactly one wins', async () => {
      await store.references.issue(hash, record, audit);
      const outcomes = await Promise.all(Array.from({ length: 5 }, () => store.references.consume(hash, NOW + 1)));
      expect(outcomes.filter((o) => o.status === 'consumed')).toHaveLength(1);
      expect(outcomes.filter((o) => o.status === 'replayed')).toHaveLength(4);
    });

    it('an expired reference is reported expired and never consumed', async () => {
      await store.references.issue(hash, record, audit);
      expect((await store.references.consume(hash, record.expiresAt)).status).toBe('expired');
      expect((await store.references.consume(hash, record.expiresAt + 1)).status).toBe('expired');
    });

    it('a reference never issued is unknown', async () => {
      expect(await store.references.consume(hash, NOW)).toEqual({ status: 'unknown' });
    });

    it('an issue that cannot be written writes no audit record either (all or nothing)', async () => {
      await store.references.issue(hash, record, audit);
      const again = { ...audit, requestId: `${audit.requestId}-again` };
      await expect(store.references.issue(hash, record, again)).rejects.toThrow();
      expect((await store.audit.recent(10)).map((r) => r.requestId)).not.toContain(again.requestId);
    });

    it('pruning removes expired references', async () => {
      await store.references.issue(hash, record, audit);
      await store.retention.prune({ now: record.expiresAt + 1, auditBefore: 0, auditMaxRows: 1_000_000 });
      expect(await store.references.consume(hash, NOW + 1)).toEqual({ status: 'unknown' });
    });
  });
}
