/**
 * The key table every adapter must keep alike (SQLite here, D1 in test/workers/d1-contracts.test.ts,
 * PostgreSQL in test/store/pg-contracts.test.ts): one active key per algorithm (the ring's ES256
 * key beside the RS256 key of clients that ask for RS256 ID tokens), and a change applied only if
 * the set of active keys is exactly the one it was computed from, so a rotation of both algorithms
 * is all or nothing. The table is shared by a file's tests: each test starts by emptying it.
 */
import { describe, expect, it } from 'vitest';
import type { BrokerStore, StoredKey } from '../../src/store/ports.js';

export function signingKeyStoreContract(name: string, makeStore: () => Promise<BrokerStore>) {
  const key = (kid: string, alg: StoredKey['alg'], state: StoredKey['state'], extra: Partial<StoredKey> = {}): StoredKey => ({
    kid,
    alg,
    state,
    privateJwk: { kty: alg === 'RS256' ? 'RSA' : 'EC', kid },
    publicJwk: { kty: alg === 'RS256' ? 'RSA' : 'EC' },
    createdAt: 1,
    ...extra,
  });

  async function emptied(): Promise<BrokerStore> {
    const s = await makeStore();
    const kids = (await s.keys.list()).map((k) => k.kid);
    if (kids.length > 0) expect(await s.keys.apply({ upsert: [], remove: kids })).toBe(true);
    return s;
  }

  const states = async (s: BrokerStore) => Object.fromEntries((await s.keys.list()).map((k) => [k.kid, `${k.alg}:${k.state}${k.expiresAt !== undefined ? `@${k.expiresAt}` : ''}`]));

  describe(`${name} signing key store`, () => {
    it('holds one active key per algorithm: an ES256 and an RS256 key are active side by side', async () => {
      const s = await emptied();
      expect(await s.keys.apply({ upsert: [key('ec1', 'ES256', 'active'), key('ec2', 'ES256', 'next'), key('rs1', 'RS256', 'active'), key('rs2', 'RS256', 'next')], remove: [], expectActive: [] })).toBe(true);
      expect(await states(s)).toEqual({ ec1: 'ES256:active', ec2: 'ES256:next', rs1: 'RS256:active', rs2: 'RS256:next' });
      expect((await s.keys.list()).find((k) => k.kid === 'rs1')).toMatchObject({ alg: 'RS256', privateJwk: { kty: 'RSA', kid: 'rs1' }, publicJwk: { kty: 'RSA' }, createdAt: 1 });
    });

    it('never holds two active keys of one algorithm', async () => {
      const s = await emptied();
      await s.keys.apply({ upsert: [key('ec1', 'ES256', 'active'), key('rs1', 'RS256', 'active')], remove: [] });
      const second = await s.keys.apply({ upsert: [key('rs9', 'RS256', 'active')], remove: [] }).catch(() => false);
      expect(second).toBe(false);
      expect(await states(s)).toEqual({ ec1: 'ES256:active', rs1: 'RS256:active' });
    });

    it('rotates both algorithms in one change, demoting before promoting', async () => {
      const s = await emptied();
      await s.keys.apply({ upsert: [key('ec1', 'ES256', 'active'), key('ec2', 'ES256', 'next'), key('rs1', 'RS256', 'active'), key('rs2', 'RS256', 'next')], remove: [], expectActive: [] });
      const rotation = {
        upsert: [key('ec2', 'ES256', 'active'), key('ec3', 'ES256', 'next'), key('ec1', 'ES256', 'retired', { expiresAt: 10 }), key('rs2', 'RS256', 'active'), key('rs3', 'RS256', 'next'), key('rs1', 'RS256', 'retired', { expiresAt: 10 })],
        remove: [],
        expectActive: ['rs1', 'ec1'],
      };
      expect(await s.keys.apply(rotation)).toBe(true);
      expect(await states(s)).toEqual({ ec1: 'ES256:retired@10', ec2: 'ES256:active', ec3: 'ES256:next', rs1: 'RS256:retired@10', rs2: 'RS256:active', rs3: 'RS256:next' });
    });

    it('refuses, writing nothing, a change computed from another set of active keys: either algorithm changed, or one more or one fewer', async () => {
      const s = await emptied();
      await s.keys.apply({ upsert: [key('ec1', 'ES256', 'active'), key('ec2', 'ES256', 'next'), key('rs1', 'RS256', 'active'), key('rs2', 'RS256', 'next')], remove: [], expectActive: [] });
      const before = await states(s);
      const both = [key('ec2', 'ES256', 'active'), key('ec1', 'ES256', 'retired', { expiresAt: 10 }), key('rs2', 'RS256', 'active'), key('rs1', 'RS256', 'retired', { expiresAt: 10 })];
      for (const expectActive of [['ec1'], ['rs1'], ['ec1', 'rs2'], ['ec9', 'rs1'], ['ec1', 'rs1', 'x'], [], null, 'ec1']) {
        expect(await s.keys.apply({ upsert: both, remove: ['ec2'], expectActive }), JSON.stringify(expectActive)).toBe(false);
        expect(await states(s)).toEqual(before);
      }
      // The EC key alone changes (another node won a race): a change computed from the old pair is refused for both.
      expect(await s.keys.apply({ upsert: [key('ec2', 'ES256', 'active'), key('ec1', 'ES256', 'retired', { expiresAt: 10 })], remove: [], expectActive: ['ec1', 'rs1'] })).toBe(true);
      expect(await s.keys.apply({ upsert: both, remove: [], expectActive: ['ec1', 'rs1'] })).toBe(false);
      expect(await states(s)).toMatchObject({ rs1: 'RS256:active', rs2: 'RS256:next' });
    });

    it('with expected next keys, refuses a change computed before another node published one (two nodes publishing a missing next key publish one)', async () => {
      const s = await emptied();
      await s.keys.apply({ upsert: [key('ec1', 'ES256', 'active')], remove: [] });
      // Both nodes read: ec1 active, no next key. Node a publishes first.
      expect(await s.keys.apply({ upsert: [key('ec-a', 'ES256', 'next')], remove: [], expectActive: ['ec1'], expectNext: [] })).toBe(true);
      expect(await s.keys.apply({ upsert: [key('ec-b', 'ES256', 'next')], remove: [], expectActive: ['ec1'], expectNext: [] })).toBe(false);
      expect(await states(s)).toEqual({ ec1: 'ES256:active', 'ec-a': 'ES256:next' });
      for (const expectNext of [['ec-b'], ['ec-a', 'ec-b'], []]) {
        expect(await s.keys.apply({ upsert: [], remove: ['ec-a'], expectActive: ['ec1'], expectNext }), JSON.stringify(expectNext)).toBe(false);
      }
      // Computed from what is there now, it applies; the active keys alone still decide when no next keys are given.
      expect(await s.keys.apply({ upsert: [key('ec-c', 'ES256', 'next')], remove: ['ec-a'], expectActive: ['ec1'], expectNext: ['ec-a'] })).toBe(true);
      expect(await s.keys.apply({ upsert: [key('ec-d', 'ES256', 'next')], remove: ['ec-c'], expectActive: ['ec1'] })).toBe(true);
      expect(await states(s)).toEqual({ ec1: 'ES256:active', 'ec-d': 'ES256:next' });
    });

    it('reads a broker secret without creating it (an earlier version\'s RSA key, moved into the key table once)', async () => {
      const s = await makeStore();
      const name = `contract-secret:${crypto.randomUUID()}`;
      expect(await s.secrets.get(name)).toBeUndefined();
      expect(await s.secrets.get(name)).toBeUndefined();
      expect(await s.secrets.getOrCreate(name, () => 'v1')).toBe('v1');
      expect(await s.secrets.get(name)).toBe('v1');
      expect(await s.secrets.getOrCreate(name, () => 'v2')).toBe('v1');
    });

    it('still takes one kid (or null for none) as the expected active key when a single key is active', async () => {
      const s = await emptied();
      expect(await s.keys.apply({ upsert: [key('ec1', 'ES256', 'active')], remove: [], expectActive: null })).toBe(true);
      expect(await s.keys.apply({ upsert: [key('ec2', 'ES256', 'active'), key('ec1', 'ES256', 'retired', { expiresAt: 5 })], remove: [], expectActive: 'ec9' })).toBe(false);
      expect(await s.keys.apply({ upsert: [key('ec2', 'ES256', 'active'), key('ec1', 'ES256', 'retired', { expiresAt: 5 })], remove: [], expectActive: 'ec1' })).toBe(true);
      expect(await states(s)).toEqual({ ec1: 'ES256:retired@5', ec2: 'ES256:active' });
    });
  });
}
