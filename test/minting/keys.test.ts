import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { RETIRED_KEY_GRACE } from '../../src/constants.js';
import { KeyRing } from '../../src/minting/keys.js';
import { buildIdJagClaims, signIdJag } from '../../src/minting/id-jag.js';
import { createSqliteStore, openSqlite } from '../../src/store/adapters/sqlite.js';

const T0 = 1_800_000_000;

function ring(alg: 'ES256' | 'RS256' = 'ES256') {
  const store = createSqliteStore(openSqlite(':memory:'));
  return { store, ring: new KeyRing(store.keys, alg) };
}

async function mint(r: KeyRing, now: number) {
  const claims = buildIdJagClaims({ issuer: 'https://b', subject: 's', audience: 'https://d', clientId: 'c', resources: [], scopes: ['x'], now, lifetime: 300, carried: {} });
  return signIdJag(claims, r.signingKey());
}

describe('signing keys', () => {
  it('creates an active and a next key on first start and publishes both', async () => {
    const { store, ring: r } = ring();
    await r.init(T0);
    const keys = await store.keys.list();
    expect(keys.map((k) => k.state).sort()).toEqual(['active', 'next']);
    expect(r.jwks().keys).toHaveLength(2);
    for (const k of r.jwks().keys) {
      expect(k).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(k).not.toHaveProperty('d');
    }
    expect(r.signingKey().kid).toBe(keys.find((k) => k.state === 'active')!.kid);
  });

  it('keeps the same keys across restarts', async () => {
    const { store, ring: r } = ring();
    await r.init(T0);
    const again = new KeyRing(store.keys, 'ES256');
    await again.init(T0 + 10);
    expect(again.signingKey().kid).toBe(r.signingKey().kid);
  });

  it('rotation promotes the published next key and keeps the retired key until its tokens expire', async () => {
    const { ring: r } = ring();
    await r.init(T0);
    const first = r.signingKey().kid;
    const published = r.jwks().keys.map((k) => k.kid);
    const oldToken = await mint(r, T0);

    const rotated = await r.rotate(T0 + 100);
    expect(rotated.retired).toBe(first);
    expect(published).toContain(rotated.activated);
    expect(r.signingKey().kid).toBe(rotated.activated);
    const newToken = await mint(r, T0 + 100);
    expect(decodeProtectedHeader(newToken).kid).toBe(rotated.activated);

    // Both verify against the JWKS now.
    const jwks = createLocalJWKSet(r.jwks());
    await jwtVerify(oldToken, jwks, { currentDate: new Date((T0 + 100) * 1000) });
    await jwtVerify(newToken, jwks, { currentDate: new Date((T0 + 100) * 1000) });
    expect(r.jwks().keys.map((k) => k.kid)).toEqual(expect.arrayContaining([first, rotated.activated, rotated.next]));

    // After the grace period the retired key leaves the JWKS and is deleted at the next rotation.
    await r.reload(T0 + 100 + RETIRED_KEY_GRACE + 1);
    expect(r.jwks().keys.map((k) => k.kid)).not.toContain(first);
  });

  it('removes expired retired keys from the store at the next rotation', async () => {
    const { store, ring: r } = ring();
    await r.init(T0);
    const first = r.signingKey().kid;
    await r.rotate(T0 + 1);
    await r.rotate(T0 + 2 + RETIRED_KEY_GRACE);
    expect((await store.keys.list()).map((k) => k.kid)).not.toContain(first);
  });

  it('refuses a rotation computed from a stale view, so two nodes never leave two active keys', async () => {
    const { store, ring: a } = ring();
    await a.init(T0);
    const stale = await store.keys.list();
    const staleActive = stale.find((k) => k.state === 'active')!;
    await a.rotate(T0 + 1);
    const applied = await store.keys.apply({ upsert: [{ ...staleActive, state: 'retired', expiresAt: T0 + 999 }], remove: [], expectActive: staleActive.kid });
    expect(applied).toBe(false);
    expect((await store.keys.list()).filter((k) => k.state === 'active')).toHaveLength(1);
    expect(a.signingKey().kid).not.toBe(staleActive.kid);
  });

  it('signs with RS256 when configured', async () => {
    const { ring: r } = ring('RS256');
    await r.init(T0);
    expect(r.signingKey().alg).toBe('RS256');
    expect(decodeProtectedHeader(await mint(r, T0)).alg).toBe('RS256');
    expect(r.jwks().keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256' });
  });
});

describe('key reload across nodes', () => {
  it('a node picks up another node\'s rotation within the reload interval', async () => {
    const { KEY_RELOAD_INTERVAL } = await import('../../src/constants.js');
    const { store, ring: a } = ring();
    await a.init(T0);
    const b = new KeyRing(store.keys, 'ES256');
    await b.init(T0);
    const { activated } = await a.rotate(T0 + 1);
    await b.refresh(T0 + KEY_RELOAD_INTERVAL - 1);
    expect(b.signingKey().kid).not.toBe(activated);
    await b.refresh(T0 + KEY_RELOAD_INTERVAL);
    expect(b.signingKey().kid).toBe(activated);
    expect(b.jwks().keys.map((k) => k.kid)).toContain(activated);
  });
});
