import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { KEY_RELOAD_INTERVAL, NEXT_KEY_MIN_AGE, RETIRED_KEY_GRACE } from '../constants.js';
import type { KeyChange, KeyStore, SecretStore, StoredKey } from '../store/ports.js';
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
 * (`id_token_signed_response_alg`, docs/provider.md). They are rows of the key table like the
 * ring's own (one active key per algorithm), in the same three states, and rotate with them in one
 * step. `secrets` is where an earlier version kept one such key per algorithm
 * (`companion-signing-key:<alg>`): read once, to move it into the key table.
 */
export interface CompanionKeys {
  algs: readonly SigningAlg[];
  secrets: SecretStore;
}

/** What a rotation did for one algorithm. */
export interface Rotation {
  alg: SigningAlg;
  activated: string;
  retired?: string;
  next: string;
}

/**
 * The broker's signing keys. Three states: `next` (published, not yet signing, so verifiers have
 * cached it before it is used), `active` (signing), `retired` (published until every token it
 * signed has expired). Keys live in the store so every node signs with the same key. There is one
 * active key per configured algorithm: `signing.alg`'s, which signs everything, and those of the
 * algorithms clients ask for their ID tokens; a rotation moves all of them at once.
 */
export class KeyRing {
  private active = new Map<SigningAlg, ActiveKey>();
  private published: JWK[] = [];
  private publicByKid = new Map<string, CryptoKey>();
  /** Imported keys by kid, kept across reloads: a reload imports only keys it has not seen. */
  private signers = new Map<string, ActiveKey>();
  private publicKeys = new Map<string, CryptoKey>();
  private loadedAt = 0;
  /** `signing.alg` first, then the others clients ask for. */
  private readonly algs: readonly SigningAlg[];

  constructor(
    private readonly store: KeyStore,
    private readonly alg: SigningAlg,
    private readonly jws: JwsCrypto = webJws,
    private readonly companionKeys?: CompanionKeys,
  ) {
    this.algs = [...new Set([alg, ...(companionKeys?.algs ?? [])])];
  }

  /**
   * Loads keys, creating an active and a next key of each configured algorithm that has none (on
   * first start, or when a client first asks for an algorithm). Keys of an algorithm no longer
   * configured (`signing.alg` changed, no client asks for it any more) stop signing at once: the
   * active one is retired (published until its tokens expire) and a next one, which never signed,
   * removed. Verifiers meet a new kid as unknown and refetch the JWKS, which already holds it.
   */
  async init(now: number): Promise<void> {
    let keys = await this.store.list();
    const start = await this.startChange(keys, now);
    if (start) {
      // A concurrent start that did the same first wins; this one then loads what it wrote.
      if ((await this.store.apply(start.change)) && start.moved) await markMoved(this.companionKeys!.secrets, start.moved);
      keys = await this.store.list();
    }
    await this.load(keys, now);
  }

  /** What a start must write to the key table, if anything; `moved`: an earlier version's key it takes over. */
  private async startChange(keys: StoredKey[], now: number): Promise<{ change: KeyChange; moved?: StoredKey } | undefined> {
    const upsert: StoredKey[] = [];
    const remove: string[] = [];
    let moved: StoredKey | undefined;
    for (const k of keys) {
      if (this.algs.includes(k.alg)) continue;
      if (k.state === 'active') upsert.push({ ...k, state: 'retired', expiresAt: now + RETIRED_KEY_GRACE });
      if (k.state === 'next') remove.push(k.kid);
    }
    for (const alg of this.algs) {
      if (!keys.some((k) => k.alg === alg && k.state === 'active')) {
        const earlier = this.companionKeys ? await earlierCompanionKey(this.companionKeys.secrets, alg) : undefined;
        if (earlier) moved = earlier;
        upsert.push(earlier ?? (await newKey(alg, 'active', now)));
      }
      if (!keys.some((k) => k.alg === alg && k.state === 'next')) upsert.push(await newKey(alg, 'next', now));
    }
    if (upsert.length === 0 && remove.length === 0) return undefined;
    return { change: { upsert, remove, ...expected(keys) }, ...(moved ? { moved } : {}) };
  }

  /**
   * Promotes next → active and demotes active → retired for every configured algorithm at once,
   * adds fresh next keys and drops expired retired keys: one change, applied only if no other node
   * changed any active key meanwhile, so both algorithms rotate or neither does. Refused while a
   * next key is younger than NEXT_KEY_MIN_AGE (a verifier could still hold a JWKS without it);
   * without a next key of some configured algorithm, one is published and the rotation refused
   * until it is old enough.
   */
  async rotate(now: number): Promise<Rotation & { others: Rotation[] }> {
    const keys = await this.store.list();
    const expect = expected(keys);
    const missing = this.algs.filter((alg) => !keys.some((k) => k.state === 'next' && k.alg === alg));
    if (missing.length > 0) {
      const published = await Promise.all(missing.map((alg) => newKey(alg, 'next', now)));
      const stale = keys.filter((k) => k.state === 'next' && !this.algs.includes(k.alg)).map((k) => k.kid);
      if (!(await this.store.apply({ upsert: published, remove: stale, ...expect }))) throw concurrentRotation();
      await this.load(await this.store.list(), now);
      throw tooEarly(published[0]!, now);
    }
    const nexts = this.algs.map((alg) => keys.find((k) => k.state === 'next' && k.alg === alg)!);
    const young = nexts.find((k) => now - k.createdAt < NEXT_KEY_MIN_AGE);
    if (young) throw tooEarly(young, now);
    const upsert: StoredKey[] = [];
    const rotations: Rotation[] = [];
    for (const next of nexts) {
      const current = keys.find((k) => k.state === 'active' && k.alg === next.alg);
      const fresh = await newKey(next.alg, 'next', now);
      upsert.push({ ...next, state: 'active' }, fresh);
      if (current) upsert.push({ ...current, state: 'retired', expiresAt: now + RETIRED_KEY_GRACE });
      rotations.push({ alg: next.alg, activated: next.kid, ...(current ? { retired: current.kid } : {}), next: fresh.kid });
    }
    const remove = keys.filter((k) => k.state === 'retired' && (k.expiresAt ?? 0) <= now).map((k) => k.kid);
    if (!(await this.store.apply({ upsert, remove, ...expect }))) throw concurrentRotation();
    await this.load(await this.store.list(), now);
    const [own, ...others] = rotations;
    return { ...own!, others };
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

  /** The active key of `signing.alg`, or of another algorithm a client asked for (its ID tokens). */
  signingKey(alg: SigningAlg = this.alg): ActiveKey {
    const key = this.active.get(alg);
    if (key) return key;
    if (this.active.size === 0) throw new Error('KeyRing not initialised');
    throw new Error(`no ${alg} signing key: no client was configured for ${alg}`);
  }

  /** The public JWKS: next, active and unexpired retired keys of every algorithm. */
  jwks(): { keys: JWK[] } {
    return { keys: this.published };
  }

  /** A published public key by kid, for verifying the broker's own tokens. */
  publicKey(kid: string): CryptoKey | undefined {
    return this.publicByKid.get(kid);
  }

  private async load(keys: StoredKey[], now: number) {
    const live = keys.filter((k) => k.state !== 'retired' || (k.expiresAt ?? 0) > now);
    // Only the configured algorithms sign; an active key of another (a node configured otherwise) is published only.
    const active = new Map<SigningAlg, ActiveKey>();
    for (const row of live) if (row.state === 'active' && this.algs.includes(row.alg)) active.set(row.alg, await this.signer(row));
    if (!active.has(this.alg)) throw new Error('no active signing key in the store');
    const publicByKid = new Map<string, CryptoKey>();
    for (const k of live) publicByKid.set(k.kid, this.publicKeys.get(k.kid) ?? ((await importJWK(k.publicJwk, k.alg)) as CryptoKey));
    // The configured algorithm's keys first, as before there were others.
    const ordered = [...live.filter((k) => k.alg === this.alg), ...live.filter((k) => k.alg !== this.alg)];
    this.active = active;
    this.published = ordered.map((k) => ({ ...k.publicJwk, kid: k.kid, alg: k.alg, use: 'sig' }));
    this.publicByKid = publicByKid;
    this.publicKeys = publicByKid;
    this.signers = new Map([...active.values()].map((a) => [a.kid, a]));
    this.loadedAt = now;
  }

  /** The signing key of an active row, imported once per kid. */
  private async signer(row: StoredKey): Promise<ActiveKey> {
    const cached = this.signers.get(row.kid);
    if (cached) return cached;
    const key = (await importJWK(row.privateJwk, row.alg)) as CryptoKey;
    return { kid: row.kid, alg: row.alg, key, sign: this.jws.signer(key, row.alg, row.kid) };
  }
}

/**
 * What a change computed from `keys` expects to still hold when applied: the same active and next
 * kids. The active ones make two rotations (or starts) one winner; the next ones make two nodes
 * publishing a missing next key at once publish one, not two (the extra one would linger in the JWKS).
 */
function expected(keys: StoredKey[]): Pick<KeyChange, 'expectActive' | 'expectNext'> {
  const kids = (state: StoredKey['state']) => keys.filter((k) => k.state === state).map((k) => k.kid);
  return { expectActive: kids('active'), expectNext: kids('next') };
}

function concurrentRotation(): Error {
  return new Error('another rotation happened concurrently; reload and retry');
}

function tooEarly(next: StoredKey, now: number): Error {
  const from = next.createdAt + NEXT_KEY_MIN_AGE;
  return new Error(
    `the next key ${next.kid} was published at ${new Date(next.createdAt * 1000).toISOString()}; it may be activated from ${new Date(from * 1000).toISOString()} ` +
      `(in ${from - now} s: JWKS max-age + destination refetch cooldown + key reload interval)`,
  );
}

const earlierName = (alg: SigningAlg) => `companion-signing-key:${alg}`;
const movedName = (alg: SigningAlg) => `companion-signing-key:${alg}:moved`;

/**
 * The key an earlier version kept in the broker secrets for `alg` (tokens it signed are still
 * outstanding, and verifiers have it cached), to become that algorithm's active row, with its kid:
 * once only. After it has moved (`…:moved` names its kid) it is never taken again, so a key
 * rotated out of the table is not brought back when a client asks for the algorithm again later.
 */
async function earlierCompanionKey(secrets: SecretStore, alg: SigningAlg): Promise<StoredKey | undefined> {
  const stored = await secrets.get(earlierName(alg));
  if (stored === undefined || (await secrets.get(movedName(alg))) !== undefined) return undefined;
  const key = JSON.parse(stored) as StoredKey;
  if (key.alg !== alg) return undefined;
  return { kid: key.kid, alg, state: 'active', privateJwk: key.privateJwk, publicJwk: key.publicJwk, createdAt: key.createdAt };
}

async function markMoved(secrets: SecretStore, key: StoredKey): Promise<void> {
  await secrets.getOrCreate(movedName(key.alg), () => key.kid);
}

async function newKey(alg: SigningAlg, state: StoredKey['state'], now: number): Promise<StoredKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, alg, state, privateJwk: await exportJWK(privateKey), publicJwk, createdAt: now };
}
