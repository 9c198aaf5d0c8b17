/** Table replacement semantics every adapter must have (run on SQLite here, on D1 in test/workers). */
import { describe, expect, it } from 'vitest';
import { StoreConflict, type BrokerStore, type TableRow } from '../../src/store/ports.js';

const row = (ns: string, sub: string, subject: string): TableRow => ({ namespace: ns, upstreamIssuer: 'https://idp.test', upstreamSubject: sub, subject });
const v = (version: number, hash = `h${version}`) => ({ version, hash });

export function mappingTableContract(name: string, makeStore: () => Promise<BrokerStore>) {
  describe(`${name}: mapping table replacement`, () => {
    it('removes people no longer listed, and lets a subject move to someone else', async () => {
      const s = await makeStore();
      const ns = `t-${crypto.randomUUID()}`;
      await s.mappings.replaceTable(ns, [row(ns, 'alice', 'u1'), row(ns, 'bob', 'u2')], v(1));
      expect(await s.mappings.replaceTable(ns, [row(ns, 'alice', 'u1'), row(ns, 'carol', 'u2')], v(2))).toEqual({ status: 'written', written: 2, current: 2 });
      expect(await s.mappings.tableRow(ns, 'https://idp.test', 'bob')).toBeUndefined();
      expect((await s.mappings.tableRow(ns, 'https://idp.test', 'carol'))?.subject).toBe('u2');
    });

    it('skips an unchanged version without writing', async () => {
      const s = await makeStore();
      const ns = `t-${crypto.randomUUID()}`;
      await s.mappings.replaceTable(ns, [row(ns, 'alice', 'u1')], v(1));
      const generation = await s.mappings.generation();
      expect(await s.mappings.replaceTable(ns, [], v(1))).toEqual({ status: 'unchanged', written: 0, current: 1 });
      expect(await s.mappings.tableRow(ns, 'https://idp.test', 'alice')).toBeDefined();
      expect(await s.mappings.generation()).toBe(generation);
    });

    it('versions only go up: an older version changes nothing, the same version with other rows is refused', async () => {
      const s = await makeStore();
      const ns = `t-${crypto.randomUUID()}`;
      await s.mappings.replaceTable(ns, [row(ns, 'bob', 'u2')], v(5));
      expect(await s.mappings.replaceTable(ns, [row(ns, 'alice', 'u1'), row(ns, 'bob', 'u2')], v(4))).toEqual({ status: 'older', written: 0, current: 5 });
      expect(await s.mappings.tableRow(ns, 'https://idp.test', 'alice')).toBeUndefined();
      await expect(s.mappings.replaceTable(ns, [row(ns, 'alice', 'u1')], v(5, 'other'))).rejects.toThrow(StoreConflict);
      expect(await s.mappings.tableRow(ns, 'https://idp.test', 'alice')).toBeUndefined();
      expect((await s.mappings.replaceTable(ns, [row(ns, 'alice', 'u1')], v(6))).status).toBe('written');
      expect(await s.mappings.tableRow(ns, 'https://idp.test', 'bob')).toBeUndefined();
    });

    it('every table write and remap raises the mapping generation', async () => {
      const s = await makeStore();
      const ns = `t-${crypto.randomUUID()}`;
      const g0 = await s.mappings.generation();
      await s.mappings.replaceTable(ns, [row(ns, 'alice', 'u1')], v(1));
      const g1 = await s.mappings.generation();
      expect(g1).toBeGreaterThan(g0);
      await s.mappings.remap({ namespace: ns, principalId: `p-${crypto.randomUUID()}`, subject: 'x', source: 'operator' }, 1_800_000_000);
      expect(await s.mappings.generation()).toBeGreaterThan(g1);
    });

    it('refuses two identities sharing a subject and keeps the previous table', async () => {
      const s = await makeStore();
      const ns = `t-${crypto.randomUUID()}`;
      await s.mappings.replaceTable(ns, [row(ns, 'alice', 'u1')], v(1));
      await expect(s.mappings.replaceTable(ns, [row(ns, 'bob', 'u9'), row(ns, 'carol', 'u9')], v(2))).rejects.toBeInstanceOf(StoreConflict);
      expect((await s.mappings.tableRow(ns, 'https://idp.test', 'alice'))?.subject).toBe('u1');
      expect(await s.mappings.tableRow(ns, 'https://idp.test', 'bob')).toBeUndefined();
      // The failed version was not recorded: the same content is tried again next time.
      await expect(s.mappings.replaceTable(ns, [row(ns, 'bob', 'u9'), row(ns, 'carol', 'u9')], v(2))).rejects.toBeInstanceOf(StoreConflict);
    });

    it('leaves other namespaces alone', async () => {
      const s = await makeStore();
      const a = `a-${crypto.randomUUID()}`;
      const b = `b-${crypto.randomUUID()}`;
      await s.mappings.replaceTable(a, [row(a, 'alice', 'u1')], v(1));
      await s.mappings.replaceTable(b, [row(b, 'bob', 'u1')], v(1));
      expect(await s.mappings.tableRow(a, 'https://idp.test', 'alice')).toBeDefined();
    });
  });
}
