import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { CLOCK_SKEW, ID_JAG_MAX_LIFETIME, JWKS_PUBLIC_MAX_AGE, JWKS_REFETCH_COOLDOWN_MS, KEY_RELOAD_INTERVAL, NEXT_KEY_MIN_AGE, RETIRED_KEY_GRACE } from '../../src/constants.js';
import { ACCESS_TOKEN_LIFETIME, ID_TOKEN_LIFETIME } from '../../src/provider/limits.js';
import { KeyRing } from '../../src/minting/keys.js';
import { buildIdJagClaims, signIdJag } from '../../src/minting/id-jag.js';
import { createSqliteStore, openSqlite } from '../../src/store/adapters/sqlite.js';
import type { KeyStore } from '../../src/store/ports.js';
import { exchangeParams, postToken, startTestBroker, testSettings } from '../helpers/broker.js';

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

    const rotated = await r.rotate(T0 + NEXT_KEY_MIN_AGE);
    expect(rotated.retired).toBe(first);
    expect(published).toContain(rotated.activated);
    expect(r.signingKey().kid).toBe(rotated.activated);
    const newToken = await mint(r, T0 + NEXT_KEY_MIN_AGE);
    expect(decodeProtectedHeader(newToken).kid).toBe(rotated.activated);

    // Both verify against the JWKS now.
    const jwks = createLocalJWKSet(r.jwks());
    await jwtVerify(oldToken, jwks, { currentDate: new Date((T0 + 100) * 1000) });
    await jwtVerify(newToken, jwks, { currentDate: new Date((T0 + NEXT_KEY_MIN_AGE) * 1000) });
    expect(r.jwks().keys.map((k) => k.kid)).toEqual(expect.arrayContaining([first, rotated.activated, rotated.next]));

    // After the grace period the retired key leaves the JWKS and is deleted at the next rotation.
    await r.reload(T0 + NEXT_KEY_MIN_AGE + RETIRED_KEY_GRACE + 1);
    expect(r.jwks().keys.map((k) => k.kid)).not.toContain(first);
  });

  it('removes expired retired keys from the store at the next rotation', async () => {
    const { store, ring: r } = ring();
    await r.init(T0);
    const first = r.signingKey().kid;
    await r.rotate(T0 + NEXT_KEY_MIN_AGE);
    await r.rotate(T0 + 2 * NEXT_KEY_MIN_AGE + RETIRED_KEY_GRACE);
    expect((await store.keys.list()).map((k) => k.kid)).not.toContain(first);
  });

  it('refuses a rotation computed from a stale view, so two nodes never leave two active keys', async () => {
    const { store, ring: a } = ring();
    await a.init(T0);
    const stale = await store.keys.list();
    const staleActive = stale.find((k) => k.state === 'active')!;
    await a.rotate(T0 + NEXT_KEY_MIN_AGE);
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
    const { store, ring: a } = ring();
    await a.init(T0);
    const b = new KeyRing(store.keys, 'ES256');
    await b.init(T0);
    await b.refresh(T0 + NEXT_KEY_MIN_AGE - 1);
    const { activated } = await a.rotate(T0 + NEXT_KEY_MIN_AGE);
    await b.refresh(T0 + NEXT_KEY_MIN_AGE + KEY_RELOAD_INTERVAL - 2);
    expect(b.signingKey().kid).not.toBe(activated);
    await b.refresh(T0 + NEXT_KEY_MIN_AGE + KEY_RELOAD_INTERVAL - 1);
    expect(b.signingKey().kid).toBe(activated);
    expect(b.jwks().keys.map((k) => k.kid)).toContain(activated);
  });
});

describe('how long a retired key stays published', () => {
  it('outlasts every token the broker signs (ID-JAGs, and the provider\'s ID tokens of either algorithm and access tokens), plus skew and a reload', () => {
    for (const lifetime of [ID_JAG_MAX_LIFETIME, ID_TOKEN_LIFETIME, ACCESS_TOKEN_LIFETIME]) {
      expect(RETIRED_KEY_GRACE).toBeGreaterThanOrEqual(lifetime + CLOCK_SKEW + KEY_RELOAD_INTERVAL);
    }
  });
});

describe('when a next key may sign', () => {
  it('the minimum age is the JWKS max-age plus the destinations\' refetch cooldown plus the key reload interval', () => {
    expect(NEXT_KEY_MIN_AGE).toBe(JWKS_PUBLIC_MAX_AGE + JWKS_REFETCH_COOLDOWN_MS / 1000 + KEY_RELOAD_INTERVAL);
  });

  it('refuses to activate a next key published for less than that, and activates it once it has been', async () => {
    const { store, ring: r } = ring();
    await r.init(T0);
    const active = r.signingKey().kid;
    const before = await store.keys.list();
    await expect(r.rotate(T0 + NEXT_KEY_MIN_AGE - 1)).rejects.toThrow(/published .* may be activated from/);
    expect(await store.keys.list()).toEqual(before);
    expect(r.signingKey().kid).toBe(active);
    const rotated = await r.rotate(T0 + NEXT_KEY_MIN_AGE);
    expect(rotated.retired).toBe(active);
  });

  it('without a next key, publishes one and activates nothing', async () => {
    const { store, ring: r } = ring();
    await r.init(T0);
    const next = (await store.keys.list()).find((k) => k.state === 'next')!;
    await store.keys.apply({ upsert: [], remove: [next.kid] });
    const active = r.signingKey().kid;
    await expect(r.rotate(T0 + 10_000)).rejects.toThrow(/published .* may be activated from/);
    const keys = await store.keys.list();
    expect(keys.find((k) => k.state === 'active')!.kid).toBe(active);
    expect(keys.find((k) => k.state === 'next')).toMatchObject({ createdAt: T0 + 10_000 });
  });

  /** A store with an active key and no next one (its next key removed). */
  async function storeWithoutNextKey() {
    const { store, ring: r } = ring();
    await r.init(T0);
    const next = (await store.keys.list()).find((k) => k.state === 'next')!;
    await store.keys.apply({ upsert: [], remove: [next.kid] });
    return store;
  }

  /** The key store as one node sees it: another node's `race` runs just before this node's first write. */
  function racedBy(keys: KeyStore, race: () => Promise<unknown>): KeyStore {
    let raced = false;
    return {
      list: () => keys.list(),
      apply: async (change) => {
        if (!raced) {
          raced = true;
          await race();
        }
        return keys.apply(change);
      },
    };
  }

  it('two nodes publishing the missing next key at once leave one next key, not two', async () => {
    const store = await storeWithoutNextKey();
    // Node a read the keys (no next key) and is about to publish one when node b's rotation publishes its own.
    const other = new KeyRing(store.keys, 'ES256');
    const a = new KeyRing(racedBy(store.keys, () => expect(other.rotate(T0 + 10_000)).rejects.toThrow(/may be activated from/)), 'ES256');
    await expect(a.rotate(T0 + 10_000)).rejects.toThrow();
    expect((await store.keys.list()).filter((k) => k.state === 'next')).toHaveLength(1);
  });

  it('two nodes starting at once on a store with an active key but no next key add one next key, not two', async () => {
    const store = await storeWithoutNextKey();
    const other = new KeyRing(store.keys, 'ES256');
    await new KeyRing(racedBy(store.keys, () => other.init(T0 + 5)), 'ES256').init(T0 + 5);
    expect((await store.keys.list()).filter((k) => k.state === 'next')).toHaveLength(1);
  });
});

describe('a change of signing.alg', () => {
  it('stops signing with keys of the old algorithm: new active and next keys of the new one, the old active key retired but still published', async () => {
    const { store, ring: es } = ring('ES256');
    await es.init(T0);
    const old = es.signingKey().kid;
    const oldToken = await mint(es, T0);

    const rs = new KeyRing(store.keys, 'RS256');
    await rs.init(T0 + 10);
    expect(rs.signingKey().alg).toBe('RS256');
    expect(decodeProtectedHeader(await mint(rs, T0 + 10)).alg).toBe('RS256');
    const keys = await store.keys.list();
    expect(keys.filter((k) => k.state !== 'retired').every((k) => k.alg === 'RS256')).toBe(true);
    expect(keys.find((k) => k.kid === old)).toMatchObject({ state: 'retired', expiresAt: T0 + 10 + RETIRED_KEY_GRACE });
    expect(keys.filter((k) => k.state === 'next')).toHaveLength(1);
    // Tokens the old key signed still verify until they expire.
    await jwtVerify(oldToken, createLocalJWKSet(rs.jwks()), { currentDate: new Date((T0 + 10) * 1000) });

    // Restarting with the same setting changes nothing more.
    expect(await activeAfterRestart(store, 'RS256', T0 + 20)).toBe(rs.signingKey().kid);
  });

  it('through the broker: the metadata names the new algorithm, ID-JAGs are signed with it, the old key stays published', async () => {
    const db = openSqlite(':memory:');
    const es = await startTestBroker({ db });
    const oldKid = es.services.keys.signingKey().kid;
    const rs = await startTestBroker({ db, settings: await testSettings((s) => (s.signing = { alg: 'RS256' })) });
    const metadata = (await (await rs.request('/.well-known/openid-configuration')).json()) as Record<string, unknown>;
    // The signing alg first; the other one serves clients with id_token_signed_response_alg (docs/provider.md).
    expect(metadata.id_token_signing_alg_values_supported).toEqual(['RS256', 'ES256']);
    const res = await postToken(rs, await exchangeParams(rs));
    const idJag = ((await res.json()) as { access_token: string }).access_token;
    expect(decodeProtectedHeader(idJag)).toMatchObject({ alg: 'RS256', kid: rs.services.keys.signingKey().kid });
    const jwks = (await (await rs.request('/jwks')).json()) as { keys: Array<{ kid: string; alg: string }> };
    expect(jwks.keys.find((k) => k.kid === oldKid)).toMatchObject({ alg: 'ES256' });
    expect(jwks.keys.filter((k) => k.kid !== oldKid).every((k) => k.alg === 'RS256')).toBe(true);
  });
});

async function activeAfterRestart(store: ReturnType<typeof createSqliteStore>, alg: 'ES256' | 'RS256', now: number) {
  const r = new KeyRing(store.keys, alg);
  await r.init(now);
  return r.signingKey().kid;
}

describe('the RS256 key of clients that ask for RS256 ID tokens rotates with the ring', () => {
  function withRsa() {
    const store = createSqliteStore(openSqlite(':memory:'));
    const make = (keys: KeyStore = store.keys) => new KeyRing(keys, 'ES256', undefined, { algs: ['RS256'], secrets: store.secrets });
    return { store, make };
  }
  const byAlg = async (store: ReturnType<typeof createSqliteStore>, alg: 'ES256' | 'RS256') => (await store.keys.list()).filter((k) => k.alg === alg);

  it('is a row of the key table, with an active and a next key, made once: a second node and a reload make none', async () => {
    const { store, make } = withRsa();
    const a = make();
    await a.init(T0);
    const rsa = await byAlg(store, 'RS256');
    expect(rsa.map((k) => k.state).sort()).toEqual(['active', 'next']);
    expect(a.signingKey('RS256').kid).toBe(rsa.find((k) => k.state === 'active')!.kid);
    // Another node's start, its reloads and its signing generate no key (an RSA key costs tens of ms).
    const generate = vi.spyOn(crypto.subtle, 'generateKey');
    try {
      const b = make();
      await b.init(T0 + 5);
      await b.reload(T0 + 10);
      await b.refresh(T0 + 10 + KEY_RELOAD_INTERVAL);
      for (let i = 0; i < 3; i++) await b.signingKey('RS256').sign({ sub: 's' }, 'JWT');
      expect(generate).not.toHaveBeenCalled();
      expect(await store.keys.list()).toHaveLength(4);
      expect(b.signingKey('RS256').kid).toBe(a.signingKey('RS256').kid);
    } finally {
      generate.mockRestore();
    }
  });

  it('rotation promotes both next keys in one step; the retired RSA key is published for the grace the EC key gets, then leaves the JWKS', async () => {
    const { store, make } = withRsa();
    const r = make();
    await r.init(T0);
    const oldRsa = r.signingKey('RS256').kid;
    const rsaNext = (await byAlg(store, 'RS256')).find((k) => k.state === 'next')!.kid;
    const oldIdToken = await r.signingKey('RS256').sign({ iss: 'https://b', sub: 's', aud: 'c', iat: T0 + NEXT_KEY_MIN_AGE, exp: T0 + NEXT_KEY_MIN_AGE + 300 }, 'JWT');

    const rotated = await r.rotate(T0 + NEXT_KEY_MIN_AGE);
    expect(r.signingKey('RS256').kid).toBe(rsaNext);
    expect(rotated.others).toEqual([expect.objectContaining({ alg: 'RS256', activated: rsaNext, retired: oldRsa })]);
    const retired = (await store.keys.list()).filter((k) => k.state === 'retired');
    expect(retired.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    expect(new Set(retired.map((k) => k.expiresAt))).toEqual(new Set([T0 + NEXT_KEY_MIN_AGE + RETIRED_KEY_GRACE]));

    const published = r.jwks().keys.filter((k) => k.kty === 'RSA').map((k) => k.kid);
    expect(published).toEqual(expect.arrayContaining([oldRsa, rsaNext]));
    await jwtVerify(oldIdToken, createLocalJWKSet(r.jwks()), { currentDate: new Date((T0 + NEXT_KEY_MIN_AGE + 60) * 1000) });

    await r.reload(T0 + NEXT_KEY_MIN_AGE + RETIRED_KEY_GRACE + 1);
    expect(r.jwks().keys.map((k) => k.kid)).not.toContain(oldRsa);
    expect(r.publicKey(oldRsa)).toBeUndefined();
  });

  it('a rotation that loses the compare-and-swap to another node rotates neither algorithm', async () => {
    const { store, make } = withRsa();
    const setup = make();
    await setup.init(T0);
    // Another node promotes the EC next key between this node's read and its write.
    const racing: KeyStore = {
      list: () => store.keys.list(),
      apply: async (change) => {
        const keys = await store.keys.list();
        const ecActive = keys.find((k) => k.alg === 'ES256' && k.state === 'active')!;
        const ecNext = keys.find((k) => k.alg === 'ES256' && k.state === 'next')!;
        const rsActive = keys.find((k) => k.alg === 'RS256' && k.state === 'active')!;
        expect(await store.keys.apply({ upsert: [{ ...ecActive, state: 'retired', expiresAt: T0 + 1 }, { ...ecNext, state: 'active' }], remove: [], expectActive: [ecActive.kid, rsActive.kid] })).toBe(true);
        return store.keys.apply(change);
      },
    };
    const loser = make(racing);
    await loser.init(T0);
    const rsaBefore = await byAlg(store, 'RS256');
    await expect(loser.rotate(T0 + NEXT_KEY_MIN_AGE)).rejects.toThrow(/concurrently/);
    expect(await byAlg(store, 'RS256')).toEqual(rsaBefore);
    expect(rsaBefore.map((k) => k.state).sort()).toEqual(['active', 'next']);
  });

  it('an existing deployment\'s RSA key in the broker secrets becomes the active RS256 key: it keeps its kid and signs until the first rotation', async () => {
    const { store, make } = withRsa();
    // What the previous version kept: one RS256 key in broker_secrets, made on first use.
    const legacy = new KeyRing(store.keys, 'ES256');
    await legacy.init(T0);
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = await exportJWK(privateKey);
    await store.secrets.getOrCreate('companion-signing-key:RS256', () => JSON.stringify({ kid, alg: 'RS256', state: 'active', privateJwk, publicJwk, createdAt: T0 - 100 }));
    expect(await byAlg(store, 'RS256')).toEqual([]);
    const r = make();
    await r.init(T0 + 10);
    expect(r.signingKey('RS256').kid).toBe(kid);
    expect((await byAlg(store, 'RS256')).find((k) => k.state === 'active')).toMatchObject({ kid, privateJwk });
    const token = await r.signingKey('RS256').sign({ sub: 's' }, 'JWT');
    await jwtVerify(token, createLocalJWKSet(r.jwks()));
    // Every node reads it from the key table from now on; the first rotation retires it like any other.
    const other = make();
    await other.init(T0 + 20);
    expect(other.signingKey('RS256').kid).toBe(kid);
    await r.rotate(T0 + 10 + NEXT_KEY_MIN_AGE);
    expect(r.signingKey('RS256').kid).not.toBe(kid);
    expect((await store.keys.list()).find((k) => k.kid === kid)).toMatchObject({ state: 'retired', expiresAt: T0 + 10 + NEXT_KEY_MIN_AGE + RETIRED_KEY_GRACE });

    // Once moved it is never taken again: with every RS256 row gone (no client asked for RS256 for a
    // while), a client asking again gets a fresh key, not the rotated-out one back.
    await store.keys.apply({ upsert: [], remove: (await byAlg(store, 'RS256')).map((k) => k.kid) });
    const later = make();
    await later.init(T0 + 10_000);
    expect(later.signingKey('RS256').kid).not.toBe(kid);
    expect((await store.keys.list()).map((k) => k.kid)).not.toContain(kid);
  });

  it('when no client asks for RS256 any more, the RSA key is retired (published until its tokens expire), not left signing', async () => {
    const { store, make } = withRsa();
    const r = make();
    await r.init(T0);
    const rsa = r.signingKey('RS256').kid;
    const plain = new KeyRing(store.keys, 'ES256');
    await plain.init(T0 + 10);
    expect((await store.keys.list()).find((k) => k.kid === rsa)).toMatchObject({ state: 'retired', expiresAt: T0 + 10 + RETIRED_KEY_GRACE });
    expect((await byAlg(store, 'RS256')).filter((k) => k.state !== 'retired')).toEqual([]);
    expect(plain.jwks().keys.map((k) => k.kid)).toContain(rsa);
    expect(() => plain.signingKey('RS256')).toThrow(/no RS256 signing key/);
  });
});
