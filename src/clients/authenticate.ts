import { LRUCache } from 'lru-cache';
import { compactVerify, createLocalJWKSet, decodeJwt, decodeProtectedHeader, type JSONWebKeySet, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import type { ClientConfig } from '../config/schema.js';
import {
  CLIENT_ASSERTION_MAX_LIFETIME,
  CLIENT_AUTH_FAILURE_WINDOW_MS,
  CLIENT_AUTH_MAX_FAILURES,
  CLIENT_SECRET_CACHE_MAX,
  CLIENT_SECRET_CACHE_TTL_MS,
  CLOCK_SKEW,
  MAX_TOKEN_BYTES,
} from '../constants.js';
import { InvalidClient, InvalidRequest } from '../oauth/errors.js';
import type { RefusalReason } from '../oauth/reasons.js';
import type { FormParams } from '../http/form.js';
import type { ReplayStore } from '../store/ports.js';
import { constantTimeEqual, verifySecret } from './secrets.js';

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
  /** Values accepted as a client assertion's `aud`: the token endpoint URL and the issuer. */
  assertionAudiences: readonly string[];
  replay: ReplayStore;
}

/**
 * Authenticates the client at the token endpoint. PBKDF2 is deliberately slow, so after a secret
 * verifies, its bytes are kept in memory (never logged or stored) for a few minutes and the next
 * request is compared against them in constant time. Anything else, a wrong secret included,
 * pays the full PBKDF2 check.
 */
export class ClientAuthenticator {
  private readonly verifiedSecrets = new LRUCache<string, Uint8Array>({ max: CLIENT_SECRET_CACHE_MAX, ttl: CLIENT_SECRET_CACHE_TTL_MS });
  private readonly keySets = new Map<string, ReturnType<typeof createLocalJWKSet>>();
  /** Failed secret checks per client within the current window. */
  private readonly failures = new LRUCache<string, number>({ max: CLIENT_SECRET_CACHE_MAX, ttl: CLIENT_AUTH_FAILURE_WINDOW_MS });

  private recentFailures(clientId: string): number {
    return this.failures.get(clientId) ?? 0;
  }

  constructor(private readonly deps: ClientAuthDeps) {}

  async authenticate(authorization: string | undefined, form: FormParams, now: number): Promise<AuthenticatedClient> {
    const presented = presentedCredentials(authorization, form);
    switch (presented.method) {
      case 'client_secret_basic':
      case 'client_secret_post':
        return this.checkSecret(presented);
      case 'private_key_jwt':
        return this.checkAssertion(presented.assertion, presented.clientId, now);
      case 'none': {
        const client = this.deps.clients.get(presented.clientId);
        if (!client) throw fail('client_unknown', false);
        if (client.token_endpoint_auth_method !== 'none') throw fail('client_auth_missing', false, 'confidential client sent no credentials');
        return { client, method: 'none' };
      }
    }
  }

  private async checkSecret(p: { method: 'client_secret_basic' | 'client_secret_post'; clientId: string; secret: string }): Promise<AuthenticatedClient> {
    const usedBasic = p.method === 'client_secret_basic';
    const client = this.deps.clients.get(p.clientId);
    if (!client) throw fail('client_unknown', usedBasic);
    if (client.token_endpoint_auth_method !== p.method) throw fail('client_auth_method_mismatch', usedBasic, `registered for ${client.token_endpoint_auth_method}`);
    const stored = client.client_secret_hash!;
    // Keyed by the stored hash too, so a changed registration never matches an old secret.
    const cacheKey = `${client.client_id}\n${stored}`;
    const presented = new TextEncoder().encode(p.secret);
    const known = this.verifiedSecrets.get(cacheKey);
    if (!known || !constantTimeEqual(known, presented)) {
      // PBKDF2 is costly by design; repeated failures for one client stop paying it for a while.
      if (this.recentFailures(client.client_id) >= CLIENT_AUTH_MAX_FAILURES) throw fail('client_auth_throttled', usedBasic);
      if (!(await verifySecret(p.secret, stored))) {
        this.failures.set(client.client_id, this.recentFailures(client.client_id) + 1, { noUpdateTTL: this.failures.has(client.client_id) });
        throw fail('client_secret_mismatch', usedBasic);
      }
      this.failures.delete(client.client_id);
      this.verifiedSecrets.set(cacheKey, presented);
    }
    return { client, method: p.method };
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
    try {
      const { payload: bytes } = await compactVerify(assertion, this.keySetOf(client), { algorithms: ASSERTION_ALGS });
      payload = JSON.parse(new TextDecoder().decode(bytes)) as JWTPayload;
    } catch {
      throw fail('client_assertion_invalid', false, 'signature verification failed');
    }
    const problem = checkClientAssertionClaims(payload, client.client_id, this.deps.assertionAudiences, now);
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

/** RFC 7523 §3 rules for a client assertion, as a pure function. Returns the broken rule, or undefined. */
export function checkClientAssertionClaims(p: JWTPayload, clientId: string, audiences: readonly string[], now: number): string | undefined {
  if (p.iss !== clientId) return 'iss must be the client_id';
  if (p.sub !== clientId) return 'sub must be the client_id';
  const aud = typeof p.aud === 'string' ? [p.aud] : Array.isArray(p.aud) ? p.aud : [];
  if (!aud.some((a) => audiences.includes(a))) return 'aud must name the token endpoint or the issuer';
  if (typeof p.exp !== 'number') return 'exp is required';
  if (p.exp + CLOCK_SKEW <= now) return 'expired';
  if (typeof p.jti !== 'string' || p.jti.length === 0 || p.jti.length > 256) return 'jti is required';
  if (typeof p.nbf === 'number' && p.nbf - CLOCK_SKEW > now) return 'not yet valid';
  if (typeof p.iat === 'number' && p.iat - CLOCK_SKEW > now) return 'iat in the future';
  if (p.exp - (typeof p.iat === 'number' ? p.iat : now) > CLIENT_ASSERTION_MAX_LIFETIME) return 'lifetime too long';
  return undefined;
}
