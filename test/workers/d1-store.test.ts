import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/minting/keys.js';
import { createD1Store } from '../../src/store/adapters/d1.js';
import { StoreConflict, type AuditRecord, type StoredKey, type TableRow } from '../../src/store/ports.js';
import { rows } from './helpers.js';

const store = createD1Store(env.DB);
const audit = (requestId: string): AuditRecord => ({ at: 1, event: 'mint', requestId });
const auditCount = async () => (await rows<{ n: number }>('SELECT count(*) AS n FROM audit_log'))[0]!.n;

describe('D1 replay store', () => {
  it('records an id once, refuses it while it lives, and lets an expired record be taken over', async () => {
    expect(await store.replay.consume('s', 'a', 100, 50)).toBe(true);
    expect(await store.replay.consume('s', 'a', 100, 60)).toBe(false);
    expect(await store.replay.consume('s', 'a', 100, 100)).toBe(false); // expires_at < now is the rule, as in SQLite
    expect(await store.replay.consume('s', 'a', 200, 101)).toBe(true);
    expect(await store.replay.consume('s', 'a', 200, 150)).toBe(false);
    expect(await rows('SELECT expires_at FROM replay WHERE scope = ? AND id = ?', 's', 'a')).toEqual([{ expires_at: 200 }]);
  });

  it('keeps scopes apart', async () => {
    expect(await store.replay.consume('s1', 'same', 100, 50)).toBe(true);
    expect(await store.replay.consume('s2', 'same', 100, 50)).toBe(true);
  });

  it('lets exactly one of many concurrent consumers through', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => createD1Store(env.DB).replay.consume('race', 'x', 1000, 1)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});

describe('D1 key store', () => {
  const key = (kid: string, state: StoredKey['state']): StoredKey => ({
    kid,
    alg: 'ES256',
    state,
    privateJwk: { kty: 'EC', kid },
    publicJwk: { kty: 'EC' },
    createdAt: 1,
  });
  const states = async () => Object.fromEntries((await rows<{ kid: string; state: string }>('SELECT kid, state FROM signing_keys')).map((r) => [r.kid, r.state]));

  it('applies a change only if the active key is the expected one, all or nothing', async () => {
    expect(await store.keys.apply({ upsert: [key('k1', 'active'), key('k2', 'next')], remove: [], expectActive: null })).toBe(true);
    // A second "first start" loses: nothing of it is written.
    expect(await store.keys.apply({ upsert: [key('x1', 'active'), key('x2', 'next')], remove: [], expectActive: null })).toBe(false);
    expect(await states()).toEqual({ k1: 'active', k2: 'next' });

    const rotation = { upsert: [{ ...key('k2', 'active') }, key('k3', 'next'), { ...key('k1', 'retired'), expiresAt: 10 }], remove: [], expectActive: 'k1' };
    expect(await store.keys.apply(rotation)).toBe(true);
    expect(await states()).toEqual({ k1: 'retired', k2: 'active', k3: 'next' });
    // The same rotation again is stale now.
    expect(await store.keys.apply({ ...rotation, upsert: [key('k3', 'active'), key('k4', 'next')] })).toBe(false);
    expect(await states()).toEqual({ k1: 'retired', k2: 'active', k3: 'next' });

    expect(await store.keys.apply({ upsert: [], remove: ['k1'], expectActive: 'k2' })).toBe(true);
    expect(await states()).toEqual({ k2: 'active', k3: 'next' });
    expect(await rows("SELECT * FROM replay WHERE scope LIKE 'xaa:%'")).toEqual([]);
    const [k1] = (await store.keys.list()).filter((k) => k.kid === 'k2');
    expect(k1).toMatchObject({ kid: 'k2', alg: 'ES256', state: 'active', privateJwk: { kty: 'EC', kid: 'k2' }, createdAt: 1 });
  });

  it('rotates through KeyRing and refuses the loser of two concurrent rotations', async () => {
    await env.DB.prepare('DELETE FROM signing_keys').run();
    const a = new KeyRing(store.keys, 'ES256');
    const b = new KeyRing(createD1Store(env.DB).keys, 'ES256');
    await a.init(1000);
    await b.init(1000);
    expect(b.signingKey().kid).toBe(a.signingKey().kid);
    // Both read the same key set, then both try to apply their rotation.
    const [ra, rb] = await Promise.allSettled([a.rotate(2000), b.rotate(2000)]);
    const outcomes = [ra.status, rb.status].sort();
    expect(outcomes).toEqual(['fulfilled', 'rejected']);
    const loser = (ra.status === 'rejected' ? ra : rb) as PromiseRejectedResult;
    expect(String(loser.reason)).toMatch(/concurrently/);
    const winner = (ra.status === 'fulfilled' ? ra : rb) as PromiseFulfilledResult<{ activated: string }>;
    await a.reload(2000);
    await b.reload(2000);
    expect(a.signingKey().kid).toBe(winner.value.activated);
    expect(b.signingKey().kid).toBe(winner.value.activated);
    expect((await rows<{ state: string }>('SELECT state FROM signing_keys ORDER BY state')).map((r) => r.state)).toEqual(['active', 'next', 'retired']);
  });
});

describe('D1 mapping store', () => {
  it('replaces a table in chunks, all or nothing', async () => {
    const many: TableRow[] = Array.from({ length: 60 }, (_, i) => ({ namespace: 'ns', upstreamIssuer: 'https://idp.test', upstreamSubject: `u${i}`, subject: `s${i}` }));
    expect(await store.mappings.replaceTable('ns', many, { version: 1, hash: 'v1' })).toEqual({ status: 'written', written: 60, current: 1 });
    expect(await store.mappings.tableRow('ns', 'https://idp.test', 'u59')).toEqual({ namespace: 'ns', upstreamIssuer: 'https://idp.test', upstreamSubject: 'u59', subject: 's59' });

    // The last chunk gives u5's subject to a second identity: nothing of the replacement may land.
    const clash = [...many.slice(0, 59), { namespace: 'ns', upstreamIssuer: 'https://idp.test', upstreamSubject: 'other', subject: 's5' }];
    await expect(store.mappings.replaceTable('ns', clash, { version: 2, hash: 'v2' })).rejects.toBeInstanceOf(StoreConflict);
    expect(await store.mappings.tableRow('ns', 'https://idp.test', 'u59')).toBeDefined();
  });

  it('remaps with a version bump and refuses a subject held by someone else', async () => {
    const first = await store.mappings.remap({ namespace: 'crm', principalId: 'p1', subject: 'a@x', source: 'operator' }, 10);
    expect(first).toMatchObject({ subject: 'a@x', version: 1, createdAt: 10 });
    const second = await store.mappings.remap({ namespace: 'crm', principalId: 'p1', subject: 'b@x', source: 'operator' }, 20);
    expect(second).toMatchObject({ subject: 'b@x', version: 2, createdAt: 20 });
    await store.mappings.remap({ namespace: 'crm', principalId: 'p2', subject: 'c@x', source: 'operator' }, 30);
    await expect(store.mappings.remap({ namespace: 'crm', principalId: 'p2', subject: 'b@x', source: 'operator' }, 40)).rejects.toBeInstanceOf(StoreConflict);
    expect(await store.mappings.bindingOfSubject('crm', 'b@x')).toMatchObject({ principalId: 'p1' });
  });
});

describe('D1 commitMint', () => {
  const binding = (principalId: string, subject: string) => ({ namespace: 'mint-ns', principalId, subject, source: 'claim', version: 1, createdAt: 5 });

  it('writes binding and audit together', async () => {
    const before = await auditCount();
    await store.commitMint({ binding: binding('p1', 'one'), audit: audit('r1') });
    expect(await store.mappings.bindingOf('mint-ns', 'p1')).toEqual(binding('p1', 'one'));
    expect(await auditCount()).toBe(before + 1);
    expect((await store.audit.recent(1))[0]).toEqual(audit('r1'));
  });

  it('writes neither when the binding conflicts, and says StoreConflict', async () => {
    const before = await auditCount();
    await expect(store.commitMint({ binding: binding('p2', 'one'), audit: audit('r2') })).rejects.toBeInstanceOf(StoreConflict);
    expect(await auditCount()).toBe(before);
    expect(await store.mappings.bindingOf('mint-ns', 'p2')).toBeUndefined();
  });

  it('writes the audit alone when there is no new binding', async () => {
    const before = await auditCount();
    await store.commitMint({ audit: audit('r3') });
    expect(await auditCount()).toBe(before + 1);
  });
});

describe('D1 secrets and audit', () => {
  it('keeps the first secret written', async () => {
    expect(await store.secrets.getOrCreate('pairwise', () => 'first')).toBe('first');
    expect(await store.secrets.getOrCreate('pairwise', () => 'second')).toBe('first');
  });

  it('returns recent audit records newest first', async () => {
    await store.audit.append(audit('a1'));
    await store.audit.append(audit('a2'));
    expect((await store.audit.recent(2)).map((r) => r.requestId)).toEqual(['a2', 'a1']);
  });
});
