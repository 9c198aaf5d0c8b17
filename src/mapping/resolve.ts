import { base64url } from 'jose';
import type { LRUCache } from 'lru-cache';
import { systemClock, type Clock } from '../clock.js';
import { clockedCache } from '../clocked-cache.js';
import type { NamespaceConfig } from '../config/schema.js';
import { MAPPING_CACHE_MAX, MAPPING_CACHE_MAX_BYTES, MAPPING_CACHE_TTL_MS } from '../constants.js';
import type { RefusalReason } from '../oauth/reasons.js';
import type { MappingStore, SecretStore, SubjectBinding } from '../store/ports.js';
import { subjectFromSaml } from '../migration/subject.js';
import type { UpstreamIdentity } from '../identity/types.js';

export interface Identity {
  principalId: string;
  upstreamIssuer: string;
  upstreamSubject: string;
  /** What the upstream is believed to say about the person (its authority applied). */
  claims: Record<string, unknown>;
  /** The upstream's configured tenant (never a claim). */
  tenant?: string;
  /** The SAML evidence of the login this request rides on, when there was one. */
  saml?: UpstreamIdentity['saml'];
}

export type Resolution =
  | {
      ok: true;
      subject: string;
      /** `namespace/strategy@version`, for the audit record. */
      decidedBy: string;
      /** A binding to write with the mint (first time this principal is named in this namespace). */
      newBinding?: SubjectBinding;
    }
  | { ok: false; reason: RefusalReason; detail?: string };

/**
 * Resolves the subject a destination knows a person by. A missing or ambiguous mapping is a
 * refusal, never a fallback; and once a principal is bound in a namespace, a different value
 * from upstream is refused until an operator remaps (`cli remap`), never silently re-bound.
 */
export class SubjectResolver {
  /** Pairwise HMAC keys by namespace, created in the store at start-up (never during a request). */
  private readonly pairwiseKeys = new Map<string, CryptoKey>();
  /** Resolutions for MAPPING_CACHE_TTL_MS by the broker's clock: what an operator changes in the store directly is seen within it. */
  private readonly cache: LRUCache<string, Extract<Resolution, { ok: true }>>;

  /** The store's mapping generation the cache was filled at. */
  private generation: number | undefined;
  /** The generation each new binding was resolved at (see `remember`). */
  private readonly resolvedAt = new WeakMap<SubjectBinding, number>();

  constructor(
    private readonly store: MappingStore,
    private readonly secrets: SecretStore,
    clock: Clock = systemClock,
  ) {
    this.cache = clockedCache(clock, {
      max: MAPPING_CACHE_MAX,
      ttl: MAPPING_CACHE_TTL_MS,
      maxSize: MAPPING_CACHE_MAX_BYTES,
      sizeCalculation: (r, key) => (key.length + r.subject.length + r.decidedBy.length) * 2 + 64,
    });
  }

  /** Loads (creating on first start) the secret of every pairwise namespace. */
  async prepare(namespaces: Iterable<NamespaceConfig>): Promise<void> {
    for (const ns of namespaces) {
      if (ns.strategy !== 'pairwise') continue;
      const secret = await this.secrets.getOrCreate(`pairwise:${ns.namespace}`, () => base64url.encode(crypto.getRandomValues(new Uint8Array(32))));
      this.pairwiseKeys.set(ns.namespace, await hmacKey(secret));
    }
  }

  async resolve(ns: NamespaceConfig, who: Identity, now: number): Promise<Resolution> {
    const generation = await this.syncGeneration();
    const key = cacheKey(ns, who);
    const hit = this.cache.get(key);
    if (hit) return hit;
    const result = await this.resolveUncached(ns, who, now);
    if (result.ok && result.newBinding) this.resolvedAt.set(result.newBinding, generation);
    // A resolution that still has a binding to write is not cached: it must be committed first.
    if (result.ok && !result.newBinding) this.cacheAt(generation, key, result);
    return result;
  }

  /** After a mint committed a new binding, later requests may reuse it from the cache. */
  remember(ns: NamespaceConfig, who: Identity, binding: SubjectBinding) {
    const generation = this.resolvedAt.get(binding);
    if (generation !== undefined) this.cacheAt(generation, cacheKey(ns, who), { ok: true, subject: binding.subject, decidedBy: describe(binding) });
  }

  /**
   * Caches what was read at `generation` only while the cache is still of that generation: a
   * concurrent request that saw a newer one (another instance remapped meanwhile) has cleared the
   * cache, and a result read before that write must not be put back into it.
   */
  private cacheAt(generation: number, key: string, result: Extract<Resolution, { ok: true }>) {
    if (this.generation === generation) this.cache.set(key, result);
  }

  forget() {
    this.cache.clear();
  }

  /**
   * Another instance (a second Node process, another Workers isolate, the CLI) may have remapped,
   * imported or deprovisioned: every such write raises the store's mapping generation, and one
   * primary-key read per resolution tells whether what this cache holds is from before it. Read
   * before any mapping row, so a result cached under a generation never predates it.
   */
  private async syncGeneration(): Promise<number> {
    const generation = await this.store.generation();
    if (generation !== this.generation) {
      this.cache.clear();
      this.generation = generation;
    }
    return generation;
  }

  private async resolveUncached(ns: NamespaceConfig, who: Identity, now: number): Promise<Resolution> {
    switch (ns.strategy) {
      case 'table': {
        const row = await this.store.tableRow(ns.namespace, who.upstreamIssuer, who.upstreamSubject);
        if (!row) return { ok: false, reason: 'mapping_missing', detail: `${ns.namespace}: no table row` };
        return { ok: true, subject: row.subject, decidedBy: `${ns.namespace}/table` };
      }
      case 'claim': {
        if (!accepts(ns, who)) return notAccepted(ns, who);
        const value = who.claims[ns.claim];
        if (Array.isArray(value)) return { ok: false, reason: 'mapping_ambiguous', detail: `${ns.namespace}: claim ${ns.claim} has several values` };
        if (typeof value !== 'string' || value.length === 0 || value.length > 255) {
          return { ok: false, reason: 'mapping_claim_missing', detail: `${ns.namespace}: claim ${ns.claim}` };
        }
        return this.bindOnce(ns, who, value, 'claim', now);
      }
      case 'saml_subject': {
        if (!accepts(ns, who)) return notAccepted(ns, who);
        // Without SAML evidence (e.g. an ID token the broker issued earlier) only an existing binding can answer.
        if (!who.saml) {
          const existing = await this.store.bindingOf(ns.namespace, who.principalId);
          return existing ? { ok: true, subject: existing.subject, decidedBy: describe(existing) } : { ok: false, reason: 'mapping_missing', detail: `${ns.namespace}: no SAML evidence and no binding` };
        }
        const derived = subjectFromSaml(who.saml, ns.subject_source);
        if (!derived.ok) return { ok: false, reason: 'mapping_claim_missing', detail: `${ns.namespace}: ${derived.reason} (${derived.detail})` };
        return this.bindOnce(ns, who, derived.subject, 'saml_subject', now);
      }
      case 'pairwise': {
        const existing = await this.store.bindingOf(ns.namespace, who.principalId);
        if (existing) return { ok: true, subject: existing.subject, decidedBy: describe(existing) };
        const key = this.pairwiseKeys.get(ns.namespace);
        if (!key) throw new Error(`pairwise namespace ${ns.namespace} was not prepared`);
        const subject = await pairwise(key, ns.sector ?? ns.namespace, who.principalId);
        return this.bindOnce(ns, who, subject, 'pairwise', now);
      }
    }
  }

  private async bindOnce(ns: NamespaceConfig, who: Identity, subject: string, source: string, now: number): Promise<Resolution> {
    const existing = await this.store.bindingOf(ns.namespace, who.principalId);
    if (existing) {
      if (existing.subject !== subject) return { ok: false, reason: 'mapping_changed', detail: `${ns.namespace}: upstream value changed since binding v${existing.version}` };
      return { ok: true, subject, decidedBy: describe(existing) };
    }
    const holder = await this.store.bindingOfSubject(ns.namespace, subject);
    // The person's own first binding, committed by a concurrent request (another instance) between the two reads.
    if (holder?.principalId === who.principalId) return { ok: true, subject, decidedBy: describe(holder) };
    if (holder) return { ok: false, reason: 'mapping_ambiguous', detail: `${ns.namespace}: subject already bound to another principal` };
    const binding: SubjectBinding = { namespace: ns.namespace, principalId: who.principalId, subject, source, version: 1, createdAt: now, upstreamIssuer: who.upstreamIssuer };
    return { ok: true, subject, decidedBy: describe(binding), newBinding: binding };
  }
}

/** A namespace keyed on an upstream-asserted value believes only the upstreams it lists. */
function accepts(ns: Extract<NamespaceConfig, { strategy: 'claim' | 'saml_subject' }>, who: Identity): boolean {
  return ns.upstreams === undefined || ns.upstreams.includes(who.upstreamIssuer);
}

function notAccepted(ns: NamespaceConfig, who: Identity): Resolution {
  return { ok: false, reason: 'mapping_upstream_not_accepted', detail: `${ns.namespace}: values asserted by ${who.upstreamIssuer.slice(0, 200)} are not accepted` };
}

function cacheKey(ns: NamespaceConfig, who: Identity): string {
  // The claim value is part of the key so a changed upstream value is seen at once, not after a TTL.
  const claim =
    ns.strategy === 'claim' ? JSON.stringify(who.claims[ns.claim] ?? null) : ns.strategy === 'saml_subject' ? JSON.stringify(who.saml ?? null) : '';
  return `${ns.namespace}\n${who.principalId}\n${who.upstreamIssuer}\n${who.upstreamSubject}\n${claim}`;
}

function describe(b: SubjectBinding): string {
  return `${b.namespace}/${b.source}@v${b.version}`;
}

/** HMAC-SHA256(secret, sector | principal), base64url: unlinkable across sectors, stable within one. */
export async function pairwise(secret: CryptoKey | string, sector: string, principalId: string): Promise<string> {
  const key = typeof secret === 'string' ? await hmacKey(secret) : secret;
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${sector}\n${principalId}`));
  return base64url.encode(new Uint8Array(mac));
}

function hmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', new Uint8Array(base64url.decode(secret)), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}
