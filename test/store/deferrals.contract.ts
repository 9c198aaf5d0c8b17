/**
 * The behaviour every adapter's deferral store must have (deferred completion at the token
 * endpoint, docs/access-requests.md). Run against SQLite in test/store and against D1 inside
 * workerd in test/workers; every test makes its own codes (D1 storage is shared by a file's tests).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { AuditRecord, BrokerStore, DeferralRecord } from '../../src/store/ports.js';

const NOW = 1_800_000_000;
const INTERVAL = 5;
const STEP = 5;

export function deferralStoreContract(name: string, makeStore: () => Promise<BrokerStore>) {
  describe(`${name} deferral store`, () => {
    let store: BrokerStore;
    let hash: string;
    let record: DeferralRecord;
    let audit: AuditRecord;
    const auditFor = async (id: string) => (await store.audit.since(0, 0, 1_000_000)).map((r) => r.record).filter((r) => r.deferral === id);

    beforeEach(async () => {
      store = await makeStore();
      const u = crypto.randomUUID();
      hash = `code-hash-${u}`;
      record = {
        id: `deferral-${u}`,
        denialId: `denial-${u}`,
        clientId: 'agent',
        principalId: 'p1',
        destination: 'todo',
        resources: ['https://todo.test/'],
        scopes: ['todos.read', 'todos.write'],
        subject: { identity: { principalId: 'p1' } },
        issuedAt: NOW,
        expiresAt: NOW + 600,
      };
      audit = { at: NOW, event: 'deferral', requestId: `req-${u}`, deferral: record.id };
    });

    it('issues the deferral with its audit record; a code never issued is unknown', async () => {
      await store.deferrals.issue(hash, record, INTERVAL, audit);
      expect(await auditFor(record.id)).toEqual([audit]);
      expect(await store.deferrals.poll(`${hash}-other`, NOW + INTERVAL, STEP)).toEqual({ status: 'unknown' });
      expect(await store.deferrals.finish(`${hash}-other`, NOW)).toBe(false);
    });

    it('an issue that cannot be written writes no audit record either (all or nothing)', async () => {
      await store.deferrals.issue(hash, record, INTERVAL, audit);
      const again = { ...audit, requestId: `${audit.requestId}-again` };
      await expect(store.deferrals.issue(hash, record, INTERVAL, again)).rejects.toThrow();
      expect((await auditFor(record.id)).map((r) => r.requestId)).toEqual([audit.requestId]);
    });

    it('polling too soon is slow_down and raises the stored interval; polling after the interval is ready', async () => {
      await store.deferrals.issue(hash, record, INTERVAL, audit);
      // First poll allowed INTERVAL after the issue.
      expect(await store.deferrals.poll(hash, NOW + INTERVAL - 1, STEP)).toEqual({ status: 'slow_down', deferral: record, interval: INTERVAL + STEP });
      // The raised interval counts from the last counted poll (the issue): NOW + INTERVAL is now too soon.
      expect(await store.deferrals.poll(hash, NOW + INTERVAL, STEP)).toEqual({ status: 'slow_down', deferral: record, interval: INTERVAL + 2 * STEP });
      expect(await store.deferrals.poll(hash, NOW + INTERVAL + 2 * STEP, STEP)).toEqual({ status: 'ready', deferral: record, interval: INTERVAL + 2 * STEP });
      // Counted: the next poll is measured from it.
      const last = NOW + INTERVAL + 2 * STEP;
      expect((await store.deferrals.poll(hash, last + INTERVAL + 2 * STEP - 1, STEP)).status).toBe('slow_down');
      expect(await store.deferrals.poll(hash, last + INTERVAL + 3 * STEP, STEP)).toEqual({ status: 'ready', deferral: record, interval: INTERVAL + 3 * STEP });
    });

    it('a poll at exactly the interval is ready, and the interval stays', async () => {
      await store.deferrals.issue(hash, record, INTERVAL, audit);
      expect(await store.deferrals.poll(hash, NOW + INTERVAL, STEP)).toEqual({ status: 'ready', deferral: record, interval: INTERVAL });
      expect(await store.deferrals.poll(hash, NOW + 2 * INTERVAL, STEP)).toEqual({ status: 'ready', deferral: record, interval: INTERVAL });
    });

    it('of concurrent polls within one interval at most one is ready', async () => {
      await store.deferrals.issue(hash, record, INTERVAL, audit);
      const outcomes = await Promise.all(Array.from({ length: 6 }, () => store.deferrals.poll(hash, NOW + INTERVAL, STEP)));
      expect(outcomes.filter((o) => o.status === 'ready')).toHaveLength(1);
      expect(outcomes.filter((o) => o.status === 'slow_down')).toHaveLength(5);
      const again = await Promise.all(Array.from({ length: 4 }, () => store.deferrals.poll(hash, NOW + INTERVAL + 1, STEP)));
      expect(again.every((o) => o.status === 'slow_down')).toBe(true);
    });

    it('a deferral past its expiry, not finished, is expired (never ready)', async () => {
      await store.deferrals.issue(hash, record, INTERVAL, audit);
      expect(await store.deferrals.poll(hash, record.expiresAt, STEP)).toEqual({ status: 'expired', deferral: record });
      expect(await store.deferrals.poll(hash, record.expiresAt + 100, STEP)).toEqual({ status: 'expired', deferral: record });
    });

    it('finishes once; a finished deferral polls as finished, even after its expiry', async () => {
      await store.deferrals.issue(hash, record, INTERVAL, audit);
      expect((await store.deferrals.poll(hash, NOW + INTERVAL, STEP)).status).toBe('ready');
      expect(await store.deferrals.finish(hash, NOW + INTERVAL)).toBe(true);
      expect(await store.deferrals.finish(hash, NOW + INTERVAL + 1)).toBe(false);
      expect(await store.deferrals.poll(hash, NOW + 10 * INTERVAL, STEP)).toEqual({ status: 'finished', deferral: record });
      expect(await store.deferrals.poll(hash, NOW + INTERVAL + 1, STEP)).toEqual({ status: 'finished', deferral: record });
      expect(await store.deferrals.poll(hash, record.expiresAt + 1, STEP)).toEqual({ status: 'finished', deferral: record });
    });

    it('an expired deferral can still be finished (answered expired_token), once', async () => {
      await store.deferrals.issue(hash, record, INTERVAL, audit);
      expect(await store.deferrals.finish(hash, record.expiresAt + 1)).toBe(true);
      expect((await store.deferrals.poll(hash, record.expiresAt + 2, STEP)).status).toBe('finished');
    });

    it('of concurrent finishes exactly one is true', async () => {
      await store.deferrals.issue(hash, record, INTERVAL, audit);
      const outcomes = await Promise.all(Array.from({ length: 6 }, () => store.deferrals.finish(hash, NOW + INTERVAL)));
      expect(outcomes.filter(Boolean)).toHaveLength(1);
    });

    it('pruning removes deferrals past their expiry, finished or not, and keeps live ones', async () => {
      const finished = `${hash}-finished`;
      const live = `${hash}-live`;
      await store.deferrals.issue(hash, record, INTERVAL, audit);
      await store.deferrals.issue(finished, { ...record, id: `${record.id}-f` }, INTERVAL, { ...audit, requestId: `${audit.requestId}-f` });
      await store.deferrals.issue(live, { ...record, id: `${record.id}-l`, expiresAt: record.expiresAt + 600 }, INTERVAL, { ...audit, requestId: `${audit.requestId}-l` });
      await store.deferrals.finish(finished, NOW + 1);
      const keepAudit = { auditBefore: 0, auditMaxRows: 1_000_000_000 };
      await store.retention.prune({ now: record.expiresAt, ...keepAudit });
      expect((await store.deferrals.poll(hash, record.expiresAt, STEP)).status).toBe('expired');
      const run = await store.retention.prune({ now: record.expiresAt + 1, ...keepAudit });
      expect(run.deleted.deferrals).toBeGreaterThanOrEqual(2);
      expect(await store.deferrals.poll(hash, record.expiresAt + 1, STEP)).toEqual({ status: 'unknown' });
      expect(await store.deferrals.poll(finished, record.expiresAt + 1, STEP)).toEqual({ status: 'unknown' });
      expect((await store.deferrals.poll(live, record.expiresAt + 1, STEP)).status).toBe('ready');
    });
  });
}
