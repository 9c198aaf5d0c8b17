import { boundedCache } from '../clocked-cache.js';
import { base64url, compactVerify, createLocalJWKSet, decodeJwt, decodeProtectedHeader, type JSONWebKeySet, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import type { ClientConfig } from '../config/schema.js';
import {
  CLIENT_ASSERTION_MAX_LIFETIME,
  CLIENT_AUTH_FAILURE_WINDOW,
  CLIENT_AUTH_MAX_CONCURRENT_HASHES,
  CLIENT_AUTH_MAX_FAILURES,
  CLIENT_AUTH_MAX_QUEUED_HASHES,
  CLIENT_AUTH_SOURCES_MAX,
  CLIENT_SECRET_CACHE_IDLE_TTL,
  CLIENT_SECRET_CACHE_MAX,
  CLOCK_SKEW,
  MAX_TOKEN_BYTES,
} from '../constants.js';
import { InvalidClient, InvalidRequest, TemporarilyUnavailable } from '../oauth/errors.js';
import type { RefusalReason } from '../oauth/reasons.js';
import type { FormParams } from '../http/form.js';
import { sourceKey, UNKNOWN_SOURCE } from '../http/source.js';
import type { ReplayGuard } from '../store/ports.js';
import { constantTimeEqual, verifySecret } from './secrets.js';
import { QueueFull, WorkQueue } from './work-queue.js';

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Asymmetric algorithms only: an HMAC assertion would need a shared secret, `none` is no signature. */
export const ASSERTION_ALGS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA'];

export type AuthMethod = ClientConfig['token_endpoint_auth_method'];

export interface AuthenticatedClient {
  client: ClientConfig;
  method: AuthMethod;
}

/** What a client presented, before any check: exactly one method may be used (RFC 6749 §2.3). */
type Presented =
  | { method: 'client_secret_basic'; clientId: string; secret: string }
  | { method: 'client_secret_post'; clientId: string; secret: string }
  | { method: 'private_key_jwt'; assertion: string; clientId?: string }
  | { method: 'none'; clientId: string };

function fail(reason: RefusalReason, usedBasic: boolean, detail?: string): InvalidClient {
  const err = new InvalidClient(reason, 'client authentication failed', detail);
  err.usedBasic = usedBasic;
  return err;
}

/** Step 1: find out which method the request uses, refusing ambiguity. */
export function presentedCredentials(authorization: string | undefined, form: FormParams): Presented {
  const basic = authorization && /^basic /i.test(authorization) ? authorization.slice(6).trim() : undefined;
  const secret = form.get('client_secret');
  const assertion = form.get('client_assertion');
  const used = [basic !== undefined, secret !== undefined, assertion !== undefined].filter(Boolean).length;
  if (used > 1) throw new InvalidRequest('client_auth_multiple', 'more than one client authentication method was used');
  const bodyClientId = form.get('client_id');

  if (basic !== undefined) {
    const creds = decodeBasic(basic);
    if (!creds) throw fail('client_auth_missing', true, 'malformed Basic credentials');
    if (bodyClientId !== undefined && bodyClientId !== creds.clientId) throw fail('client_id_mismatch', true, 'client_id differs from Basic credentials');
    return { method: 'client_secret_basic', ...creds };
  }
  if (secret !== undefined) {
    if (bodyClientId === undefined) throw fail('client_auth_missing', false, 'client_secret without client_id');
    return { method: 'client_secret_post', clientId: bodyClientId, secret };
  }
  if (assertion !== undefined) {
    if (form.get('client_assertion_type') !== JWT_BEARER_ASSERTION_TYPE) {
      throw new InvalidRequest('invalid_parameter', `client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}`);
    }
    return { method: 'private_key_jwt', assertion, ...(bodyClientId !== undefined ? { clientId: bodyClientId } : {}) };
  }
  if (bodyClientId !== undefined) return { method: 'none', clientId: bodyClientId };
  throw fail('client_auth_missing', false, 'no client authentication');
}

/** RFC 6749 §2.3.1: both parts are form-urlencoded before being joined with ":". */
function decodeBasic(value: string): { clientId: string; secret: string } | undefined {
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  try {
    const unescape = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { clientId: unescape(decoded.slice(0, colon)), secret: unescape(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

export interface ClientAuthDeps {
  clients: ReadonlyMap<string, ClientConfig>;
  /** Values accepted as every client assertion's `aud`: the broker's issuer identifier (RFC 7523bis). */
  assertionAudiences: readonly string[];
  /** Also accepted for a client configured `assertion_audience: issuer_or_token_endpoint`: the token endpoint URL. */
  compatibilityAudiences?: readonly string[];
  replay: ReplayGuard;
  /** Keyed MAC of presented secrets for the verified-secret cache; WebCrypto HMAC by default (Node: runtime/node-crypto.ts). */
  secretMac?: SecretMac;
}

/**
 * HMAC-SHA-256 under a random key that never leaves the process: how a verified secret is
 * remembered without keeping the secret. One per authenticator.
 */
export interface SecretMac {
  mac(secret: string): Uint8Array | Promise<Uint8Array>;
}

/** The portable SecretMac: WebCrypto HMAC under a non-extractable random key. */
export function webSecretMac(): SecretMac {
  let key: Promise<CryptoKey> | undefined;
  const encoder = new TextEncoder();
  return {
    async mac(secret) {
      key ??= crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign']) as Promise<CryptoKey>;
      return new Uint8Array(await crypto.subtle.sign('HMAC', await key, encoder.encode(secret)));
    },
  };
}

/** A verified secret, remembered as its HMAC under the process key; `lastUsed` drives the sliding expiry. */
interface VerifiedSecret {
  mac: Uint8Array;
  lastUsed: number;
}

/** Failed secret checks charged to one source in its current window. */
interface SourceBudget {
  used: number;
  windowStart: number;
}

/**
 * Authenticates the client at the token endpoint.
 *
 * PBKDF2 is deliberately slow, which makes it a lever for denial of service. The work is bounded
 * without ever refusing a correct secret because of what others sent:
 * - a verified secret is remembered in memory as an HMAC under a random per-process key (the
 *   secret itself is never kept), with a sliding idle expiry, so steady use costs one PBKDF2;
 * - concurrent checks of the same (client, presented secret) share one PBKDF2 run;
 * - failed checks are charged to the request's source (IPv4 address or IPv6 /64), never to the
 *   client: a source over its budget is refused without hashing, and only that source;
 * - at most a few PBKDF2 run at once; the rest queue in order.
 */
export class ClientAuthenticator {
  private readonly verifiedSecrets = boundedCache<string, VerifiedSecret>({ max: CLIENT_SECRET_CACHE_MAX });
  private readonly keySets = new Map<string, ReturnType<typeof createLocalJWKSet>>();
  private readonly budgets = boundedCache<string, SourceBudget>({ max: CLIENT_AUTH_SOURCES_MAX });
  /** PBKDF2 runs under way, by (client, stored hash, HMAC of the presented secret). */
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private readonly hashing = new WorkQueue(CLIENT_AUTH_MAX_CONCURRENT_HASHES, CLIENT_AUTH_MAX_QUEUED_HASHES);
  private readonly secretMac: SecretMac;

  constructor(private readonly deps: ClientAuthDeps) {
    this.secretMac = deps.secretMac ?? webSecretMac();
  }

  /**
   * `source` is the request's source (see http/source.ts); failed secret checks are charged to it.
   * `basicForPostClients`: on endpoints whose body is JSON (no form to carry client_secret), a
   * client registered for client_secret_post may send the same secret with HTTP Basic, as RFC 6749
   * §2.3.1 requires servers to allow; the token endpoint keeps the registered method strict.
   */
  async authenticate(authorization: string | undefined, form: FormParams, now: number, source: string = UNKNOWN_SOURCE, options: { basicForPostClients?: boolean } = {}): Promise<AuthenticatedClient> {
    const presented = presentedCredentials(authorization, form);
    // `return await`: workerd reports a refusal returned un-awaited as an unhandled rejection.
    switch (presented.method) {
      case 'client_secret_basic':
      case 'client_secret_post':
        return await this.checkSecret(presented, now, sourceKey(source), options.basicForPostClients === true);
      case 'private_key_jwt':
        return await this.checkAssertion(presented.assertion, presented.clientId, now);
      case 'none': {
        const client = this.deps.clients.get(presented.clientId);
        if (!client) throw fail('client_unknown', false);
        if (client.token_endpoint_auth_method !== 'none') throw fail('client_auth_missing', false, 'confidential client sent no credentials');
        return { client, method: 'none' };
      }
    }
  }

  private async checkSecret(
    p: { method: 'client_secret_basic' | 'client_secret_post'; clientId: string; secret: string },
    now: number,
    source: string,
    basicForPostClients = false,
  ): Promise<AuthenticatedClient> {
    const usedBasic = p.method === 'client_secret_basic';
    const client = this.deps.clients.get(p.clientId);
    if (!client) throw fail('client_unknown', usedBasic);
    const basicStandsIn = usedBasic && basicForPostClients && client.token_endpoint_auth_method === 'client_secret_post';
    if (client.token_endpoint_auth_method !== p.method && !basicStandsIn) throw fail('client_auth_method_mismatch', usedBasic, `registered for ${client.token_endpoint_auth_method}`);
    const stored = client.client_secret_hash!;
    // Keyed by the stored hash too, so a changed registration never matches an old secret.
    const cacheKey = `${client.client_id}\n${stored}`;
    const mac = await this.macOf(p.secret);
    if (this.isVerified(cacheKey, mac, now)) return { client, method: p.method };

    const flightKey = `${cacheKey}\n${base64url.encode(mac)}`;
    let flight = this.inFlight.get(flightKey);
    if (!flight) {
      // Charged up front, so a burst from one source cannot start more runs than its budget; refunded on success.
      if (!this.charge(source, now)) throw fail('client_auth_throttled', usedBasic, `source ${source}`);
      flight = this.hashing.run(() => verifySecret(p.secret, stored));
      this.inFlight.set(flightKey, flight);
      const started = flight;
      void started.then(
        (ok) => {
          if (ok) this.refund(source);
          this.inFlight.delete(flightKey);
        },
        () => {
          this.refund(source);
          this.inFlight.delete(flightKey);
        },
      );
    }
    let ok: boolean;
    try {
      ok = await flight;
    } catch (err) {
      if (err instanceof QueueFull) throw new TemporarilyUnavailable('client_auth_busy', 'the server is busy; retry shortly');
      throw err;
    }
    if (!ok) throw fail('client_secret_mismatch', usedBasic);
    this.verifiedSecrets.set(cacheKey, { mac, lastUsed: now });
    return { client, method: p.method };
  }

  private isVerified(cacheKey: string, mac: Uint8Array, now: number): boolean {
    const known = this.verifiedSecrets.get(cacheKey);
    if (!known || !constantTimeEqual(known.mac, mac)) return false;
    if (now - known.lastUsed > CLIENT_SECRET_CACHE_IDLE_TTL) {
      this.verifiedSecrets.delete(cacheKey);
      return false;
    }
    known.lastUsed = Math.max(known.lastUsed, now);
    return true;
  }

  /** Takes one unit of the source's failure budget; false when it is spent for this window. */
  private charge(source: string, now: number): boolean {
    let budget = this.budgets.get(source);
    if (!budget || now - budget.windowStart >= CLIENT_AUTH_FAILURE_WINDOW) {
      budget = { used: 0, windowStart: now };
      this.budgets.set(source, budget);
    }
    if (budget.used >= CLIENT_AUTH_MAX_FAILURES) return false;
    budget.used++;
    return true;
  }

  private refund(source: string) {
    const budget = this.budgets.get(source);
    if (budget && budget.used > 0) budget.used--;
  }

  /** HMAC-SHA256 of the presented secret under a key that never leaves this process. */
  private async macOf(secret: string): Promise<Uint8Array> {
    return this.secretMac.mac(secret);
  }

  private async checkAssertion(assertion: string, bodyClientId: string | undefined, now: number): Promise<AuthenticatedClient> {
    if (assertion.length > MAX_TOKEN_BYTES) throw fail('client_assertion_invalid', false, 'assertion too large');
    let unverified: JWTPayload;
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(assertion);
      unverified = decodeJwt(assertion);
    } catch {
      throw fail('client_assertion_invalid', false, 'malformed assertion');
    }
    // No header extension is understood here, so none may be critical (RFC 7515 §4.1.11).
    if (header.crit !== undefined) throw fail('crit_unsupported', false);
    const clientId = typeof unverified.sub === 'string' ? unverified.sub : undefined;
    const client = clientId ? this.deps.clients.get(clientId) : undefined;
    if (!client) throw fail('client_unknown', false);
    // RFC 7521 §4.2: a client_id sent with an assertion must identify the same client.
    if (bodyClientId !== undefined && bodyClientId !== client.client_id) throw fail('client_id_mismatch', false, 'client_id differs from the assertion subject');
    if (client.token_endpoint_auth_method !== 'private_key_jwt') throw fail('client_auth_method_mismatch', false, `registered for ${client.token_endpoint_auth_method}`);

    let payload: JWTPayload;
    let typ: unknown;
    try {
      const { payload: bytes, protectedHeader } = await compactVerify(assertion, this.keySetOf(client), { algorithms: ASSERTION_ALGS });
      payload = JSON.parse(new TextDecoder().decode(bytes)) as JWTPayload;
      typ = protectedHeader.typ;
    } catch {
      throw fail('client_assertion_invalid', false, 'signature verification failed');
    }
    const typProblem = checkClientAssertionTyp(typ);
    if (typProblem) throw fail('client_assertion_invalid', false, typProblem);
    const audiences = client.assertion_audience === 'issuer_or_token_endpoint' ? [...this.deps.assertionAudiences, ...(this.deps.compatibilityAudiences ?? [])] : this.deps.assertionAudiences;
    const problem = checkClientAssertionClaims(payload, client.client_id, audiences, now);
    if (problem) throw fail('client_assertion_invalid', false, problem);
    const fresh = await this.deps.replay.consume(`client_assertion:${client.client_id}`, payload.jti!, payload.exp! + CLOCK_SKEW, now);
    if (!fresh) throw fail('client_assertion_replayed', false);
    return { client, method: 'private_key_jwt' };
  }

  private keySetOf(client: ClientConfig) {
    let set = this.keySets.get(client.client_id);
    if (!set) {
      set = createLocalJWKSet(client.jwks as JSONWebKeySet);
      this.keySets.set(client.client_id, set);
    }
    return set;
  }
}

/** The `typ` values of a client assertion (RFC 7523bis explicit typing; `JWT` from before it). */
const ASSERTION_TYP = new Set(['client-authentication+jwt', 'jwt']);

/**
 * RFC 7523bis: a `typ`, where present, must be that of a client authentication JWT; an access
 * token, ID-JAG, DPoP proof or any other typed JWT signed with the client's key is not one. Pure.
 */
export function checkClientAssertionTyp(typ: unknown): string | undefined {
  if (typ === undefined) return undefined;
  if (typeof typ !== 'string') return 'typ is not a string';
  if (!ASSERTION_TYP.has(typ.toLowerCase().replace(/^application\//, ''))) return `typ ${typ.slice(0, 50)} is not a client assertion`;
  return undefined;
}

/**
 * RFC 7523 §3 rules for a client assertion, as amended by RFC 7523bis after the 2025
 * audience-injection findings: `aud` is ONE string, one of `audiences` (the broker's issuer, and
 * the token endpoint URL only for clients configured for it). Returns the broken rule, or undefined.
 */
export function checkClientAssertionClaims(p: JWTPayload, clientId: string, audiences: readonly string[], now: number): string | undefined {
  if (p.iss !== clientId) return 'iss must be the client_id';
  if (p.sub !== clientId) return 'sub must be the client_id';
  if (typeof p.aud !== 'string') return 'aud must be a single string, the issuer identifier';
  if (!audiences.includes(p.aud)) return 'aud must be the issuer identifier';
  if (typeof p.exp !== 'number') return 'exp is required';
  if (p.exp + CLOCK_SKEW <= now) return 'expired';
  if (typeof p.jti !== 'string' || p.jti.length === 0 || p.jti.length > 256) return 'jti is required';
  if (typeof p.nbf === 'number' && p.nbf - CLOCK_SKEW > now) return 'not yet valid';
  if (typeof p.iat === 'number' && p.iat - CLOCK_SKEW > now) return 'iat in the future';
  if (p.exp - (typeof p.iat === 'number' ? p.iat : now) > CLIENT_ASSERTION_MAX_LIFETIME) return 'lifetime too long';
  return undefined;
}
