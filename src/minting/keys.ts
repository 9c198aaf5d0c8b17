import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { KEY_RELOAD_INTERVAL, NEXT_KEY_MIN_AGE, RETIRED_KEY_GRACE } from '../constants.js';
import type { KeyStore, SecretStore, StoredKey } from '../store/ports.js';
import { webJws, type JwsCrypto } from './jws.js';

export type SigningAlg = 'ES256' | 'RS256';

export interface ActiveKey {
  kid: string;
  alg: SigningAlg;
  key: CryptoKey;
  /** Compact JWS of `payload` with header {alg, typ, kid}, through the runtime's JWS implementation. */
  sign(payload: object, typ: string): Promise<string>;
}

/**
 * Keys of an algorithm other than `signing.alg` that some OIDC clients' ID tokens need
 * (`id_token_signed_response_alg`, docs/provider.md). The key table holds one active key only (its
 * unique index), so each lives in the broker secrets, one per algorithm, made by the first broker
 * that needs it (first writer wins) and shared by every node from then on. Published in the JWKS
 * beside the ring's keys; never rotated by the ring.
 */
export interface CompanionKeys {
  algs: readonly SigningAlg[];
  secrets: SecretStore;
}

interface Companion {
  active: ActiveKey;
  jwk: JWK;
  publicKey: CryptoKey;
}

/**
 * The broker's signing keys. Three states: `next` (published, not yet signing, so verifiers have
 * cached it before it is used), `active` (signing), `retired` (published until every token it
 * signed has expired). Keys live in the store so every node signs with the same key.
 */
export class KeyRing {
  private active?: ActiveKey;
  private published: JWK[] = [];
  private publicByKid = new Map<string, CryptoKey>();
  private loadedAt = 0;
  private companions = new Map<SigningAlg, Companion>();

  constructor(
    private readonly store: KeyStore,
    private readonly alg: SigningAlg,
    private readonly jws: JwsCrypto = webJws,
    private readonly companionKeys?: CompanionKeys,
  ) {}

  /**
   * Loads keys, creating the first active and next keys on first start. When `signing.alg` changed,
   * keys of the old algorithm stop signing at once: a new active and next key of the configured
   * algorithm replace them, the old active key is retired (published until its tokens expire) and
   * an old next key, which never signed, is removed. Verifiers meet the new kid as unknown and
   * refetch the JWKS, which already holds it.
   */
  async init(now: number): Promise<void> {
    let keys = await this.store.list();
    const current = keys.find((k) => k.state === 'active');
    if (!current || current.alg !== this.alg) {
      const active = await newKey(this.alg, 'active', now);
      const oldNext = keys.filter((k) => k.state === 'next' && k.alg !== this.alg);
      const next = keys.some((k) => k.state === 'next' && k.alg === this.alg) ? [] : [await newKey(this.alg, 'next', now)];
      const retire = current ? [{ ...current, state: 'retired' as const, expiresAt: now + RETIRED_KEY_GRACE }] : [];
      // A concurrent start that did the same first wins; this one then loads what it wrote.
      await this.store.apply({ upsert: [...retire, active, ...next], remove: oldNext.map((k) => k.kid), expectActive: current?.kid ?? null });
      keys = await this.store.list();
    }
    await this.loadCompanions(now);
    await this.load(keys, now);
  }

  /** The companion key of each algorithm asked for, read from the secrets or made there once. */
  private async loadCompanions(now: number): Promise<void> {
    const companions = new Map<SigningAlg, Companion>();
    for (const alg of new Set(this.companionKeys?.algs ?? [])) {
      if (alg === this.alg) continue;
      const stored = await companionKey(this.companionKeys!.secrets, alg, now);
      const key = (await importJWK(stored.privateJwk, alg)) as CryptoKey;
      companions.set(alg, {
        active: { kid: stored.kid, alg, key, sign: this.jws.signer(key, alg, stored.kid) },
        jwk: { ...stored.publicJwk, kid: stored.kid, alg, use: 'sig' },
        publicKey: (await importJWK(stored.publicJwk, alg)) as CryptoKey,
      });
    }
    this.companions = companions;
  }

  /**
   * Promotes next → active, demotes active → retired, adds a fresh next, drops expired retired keys.
   * Refused while the next key is younger than NEXT_KEY_MIN_AGE (a destination could still hold a
   * JWKS without it); without a next key of the configured algorithm, one is published and the
   * rotation refused until it is old enough.
   */
  async rotate(now: number): Promise<{ activated: string; retired?: string; next: string }> {
    const keys = await this.store.list();
    const current = keys.find((k) => k.state === 'active');
    const existing = keys.find((k) => k.state === 'next' && k.alg === this.alg);
    if (!existing) {
      const published = await newKey(this.alg, 'next', now);
      const stale = keys.filter((k) => k.state === 'next').map((k) => k.kid);
      if (!(await this.store.apply({ upsert: [published], remove: stale, expectActive: current?.kid ?? null }))) throw new Error('another rotation happened concurrently; reload and retry');
      await this.load(await this.store.list(), now);
      throw tooEarly(published, now);
    }
    if (now - existing.createdAt < NEXT_KEY_MIN_AGE) throw tooEarly(existing, now);
    const next = existing;
    const fresh = await newKey(this.alg, 'next', now);
    const upsert: StoredKey[] = [{ ...next, state: 'active' }, fresh];
    if (current) upsert.push({ ...current, state: 'retired', expiresAt: now + RETIRED_KEY_GRACE });
    const remove = keys.filter((k) => k.state === 'retired' && (k.expiresAt ?? 0) <= now).map((k) => k.kid);
    const ok = await this.store.apply({ upsert, remove, expectActive: current?.kid ?? null });
    if (!ok) throw new Error('another rotation happened concurrently; reload and retry');
    await this.load(await this.store.list(), now);
    return { activated: next.kid, ...(current ? { retired: current.kid } : {}), next: fresh.kid };
  }

  /** Re-reads the store (another node may have rotated). */
  async reload(now: number): Promise<void> {
    await this.load(await this.store.list(), now);
  }

  /**
   * Re-reads the store when the last read is older than KEY_RELOAD_INTERVAL. The first request to
   * notice does the reload; requests meanwhile keep signing with the current keys, which stay
   * valid (RETIRED_KEY_GRACE covers the interval). No promise is shared between requests: on
   * workerd a request may not wait on I/O another request started.
   */
  async refresh(now: number): Promise<void> {
    if (now - this.loadedAt < KEY_RELOAD_INTERVAL) return;
    this.loadedAt = now;
    await this.reload(now);
  }

  /** The active key; for another algorithm than `signing.alg`, its companion key (ID tokens of clients that ask for it). */
  signingKey(alg: SigningAlg = this.alg): ActiveKey {
    if (!this.active) throw new Error('KeyRing not initialised');
    if (alg === this.alg) return this.active;
    const companion = this.companions.get(alg);
    if (!companion) throw new Error(`no ${alg} signing key: no client was configured for ${alg}`);
    return companion.active;
  }

  /** The public JWKS: next, active and unexpired retired keys. */
  jwks(): { keys: JWK[] } {
    return { keys: this.published };
  }

  /** A published public key by kid, for verifying the broker's own tokens. */
  publicKey(kid: string): CryptoKey | undefined {
    return this.publicByKid.get(kid);
  }

  private async load(keys: StoredKey[], now: number) {
    const live = keys.filter((k) => k.state !== 'retired' || (k.expiresAt ?? 0) > now);
    const activeRow = live.find((k) => k.state === 'active');
    if (!activeRow) throw new Error('no active signing key in the store');
    const key = (await importJWK(activeRow.privateJwk, activeRow.alg)) as CryptoKey;
    this.active = { kid: activeRow.kid, alg: activeRow.alg, key, sign: this.jws.signer(key, activeRow.alg, activeRow.kid) };
    const companions = [...this.companions.values()];
    this.published = [...live.map((k) => ({ ...k.publicJwk, kid: k.kid, alg: k.alg, use: 'sig' })), ...companions.map((c) => c.jwk)];
    const publicByKid = new Map<string, CryptoKey>();
    for (const k of live) publicByKid.set(k.kid, (await importJWK(k.publicJwk, k.alg)) as CryptoKey);
    for (const c of companions) publicByKid.set(c.active.kid, c.publicKey);
    this.publicByKid = publicByKid;
    this.loadedAt = now;
  }
}

function tooEarly(next: StoredKey, now: number): Error {
  const from = next.createdAt + NEXT_KEY_MIN_AGE;
  return new Error(
    `the next key ${next.kid} was published at ${new Date(next.createdAt * 1000).toISOString()}; it may be activated from ${new Date(from * 1000).toISOString()} ` +
      `(in ${from - now} s: JWKS max-age + destination refetch cooldown + key reload interval)`,
  );
}

/** Thrown by a `create` that must not run: SecretStore.getOrCreate calls it before it writes. */
const READ_ONLY = Symbol('read only');

/**
 * The companion key of `alg`. Read first, without making one: an RSA key takes tens of
 * milliseconds to generate, too much to spend (and throw away) on every start of a Worker.
 */
async function companionKey(secrets: SecretStore, alg: SigningAlg, now: number): Promise<StoredKey> {
  const name = `companion-signing-key:${alg}`;
  try {
    return JSON.parse(await secrets.getOrCreate(name, () => { throw READ_ONLY; })) as StoredKey;
  } catch (err) {
    if (err !== READ_ONLY) throw err;
  }
  const made = await newKey(alg, 'active', now);
  return JSON.parse(await secrets.getOrCreate(name, () => JSON.stringify(made))) as StoredKey;
}

async function newKey(alg: SigningAlg, state: StoredKey['state'], now: number): Promise<StoredKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, alg, state, privateJwk: await exportJWK(privateKey), publicJwk, createdAt: now };
}
