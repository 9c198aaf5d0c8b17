/** Table replacement semantics every adapter must have (run on SQLite here, on D1 in test/workers). */
import { describe, expect, it } from 'vitest';
import { StoreConflict, type BrokerStore, type TableRow } from '../../src/store/ports.js';

const row = (ns: string, sub: string, subject: string): TableRow => ({ namespace: ns, upstreamIssuer: 'https://idp.test', upstreamSubject: sub, subject });

export function mappingTableContract(name: string, makeStore: () => Promise<BrokerStore>) {
  describe(`${name}: mapping table replacement`, () => {
    it('removes people no longer listed, and lets a subject move to someone else', async () => {
      const s = await makeStore();
      const ns = `t-${crypto.randomUUID()}`;
      await s.mappings.replaceTable(ns, [row(ns, 'alice', 'u1'), row(ns, 'bob', 'u2')], 'v1');
      expect(await s.mappings.replaceTable(ns, [row(ns, 'alice', 'u1'), row(ns, 'carol', 'u2')], 'v2')).toEqual({ written: 2, unchanged: false });
      expect(await s.mappings.tableRow(ns, 'https://idp.test', 'bob')).toBeUndefined();
      expect((await s.mappings.tableRow(ns, 'https://idp.test', 'carol'))?.subject).toBe('u2');
    });

    it('skips an unchanged version without writing', async () => {
      const s = await makeStore();
      const ns = `t-${crypto.randomUUID()}`;
      await s.mappings.replaceTable(ns, [row(ns, 'alice', 'u1')], 'v1');
      expect(await s.mappings.replaceTable(ns, [], 'v1')).toEqual({ written: 0, unchanged: true });
      expect(await s.mappings.tableRow(ns, 'https://idp.test', 'alice')).toBeDefined();
    });

    it('refuses two identities sharing a subject and keeps the previous table', async () => {
      const s = await makeStore();
      const ns = `t-${crypto.randomUUID()}`;
      await s.mappings.replaceTable(ns, [row(ns, 'alice', 'u1')], 'v1');
      await expect(s.mappings.replaceTable(ns, [row(ns, 'bob', 'u9'), row(ns, 'carol', 'u9')], 'v2')).rejects.toBeInstanceOf(StoreConflict);
      expect((await s.mappings.tableRow(ns, 'https://idp.test', 'alice'))?.subject).toBe('u1');
      expect(await s.mappings.tableRow(ns, 'https://idp.test', 'bob')).toBeUndefined();
      // The failed version was not recorded: the same content is tried again next time.
      await expect(s.mappings.replaceTable(ns, [row(ns, 'bob', 'u9'), row(ns, 'carol', 'u9')], 'v2')).rejects.toBeInstanceOf(StoreConflict);
    });

    it('leaves other namespaces alone', async () => {
      const s = await makeStore();
      const a = `a-${crypto.randomUUID()}`;
      const b = `b-${crypto.randomUUID()}`;
      await s.mappings.replaceTable(a, [row(a, 'alice', 'u1')], 'v1');
      await s.mappings.replaceTable(b, [row(b, 'bob', 'u1')], 'v1');
      expect(await s.mappings.tableRow(a, 'https://idp.test', 'alice')).toBeDefined();
    });
  });
}
