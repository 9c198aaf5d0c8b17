import type { LRUCache } from 'lru-cache';
import { systemClock, type Clock } from '../clock.js';
import { boundedCache, clockedCache } from '../clocked-cache.js';
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, type JWTPayload, type JWTVerifyGetKey, type ProtectedHeaderParameters } from 'jose';
import { CLOCK_SKEW, MAX_TOKEN_BYTES, SUBJECT_TOKEN_CACHE_MAX, SUBJECT_TOKEN_CACHE_MAX_BYTES } from '../constants.js';
import { InvalidGrant, TemporarilyUnavailable } from '../oauth/errors.js';
import type { RefusalReason } from '../oauth/reasons.js';
import { ID_JAG_TYP } from '../minting/id-jag.js';
import { webJws, type JwsCrypto } from '../minting/jws.js';

/** The claims the broker reads from an ID token used as a subject token. */
export interface VerifiedIdToken {
  issuer: string;
  subject: string;
  audience: string[];
  expiresAt: number;
  claims: JWTPayload & Record<string, unknown>;
}

/** How an issuer types its ID tokens (JWS `typ`), from its trusted-issuer configuration. */
export interface IdTokenTyping {
  /** `typ` values this issuer puts on ID tokens; a token with any other `typ` is not an ID token. */
  accepted: readonly string[];
  /** The issuer always types its ID tokens: an untyped token is not one. */
  required: boolean;
}

export interface TrustedIssuer {
  issuer: string;
  algorithms: string[];
  keys: JWTVerifyGetKey;
  typing?: IdTokenTyping;
}

type Check<T> = { ok: true; value: T } | { ok: false; reason: RefusalReason; detail?: string };

/** Token types that are never ID tokens; an ID-JAG presented as a subject token is the main case. */
const REFUSED_TYP = new Set([ID_JAG_TYP, 'at+jwt', 'logout+jwt', 'secevent+jwt']);

/** `typ` compared as a media type (RFC 8725 §3.11): case-insensitive, `application/` optional. */
const mediaType = (typ: string) => typ.toLowerCase().replace(/^application\//, '');

/** Header rules, pure. With the issuer's typing, a `typ` it does not use for ID tokens is refused. */
export function checkHeader(header: ProtectedHeaderParameters, algorithms: readonly string[], typing?: IdTokenTyping): Check<void> {
  if (header.typ !== undefined && typeof header.typ !== 'string') return { ok: false, reason: 'token_malformed', detail: 'typ is not a string' };
  const typ = header.typ === undefined ? undefined : mediaType(header.typ);
  if (typ === ID_JAG_TYP) return { ok: false, reason: 'subject_token_is_id_jag' };
  if (typ && REFUSED_TYP.has(typ)) return { ok: false, reason: 'subject_token_not_id_token', detail: `typ ${typ} is not an ID token` };
  if (typing) {
    if (typ === undefined && typing.required) return { ok: false, reason: 'subject_token_not_id_token', detail: 'typ is required by this issuer' };
    if (typ !== undefined && !typing.accepted.some((t) => mediaType(t) === typ)) return { ok: false, reason: 'subject_token_not_id_token', detail: `typ ${typ.slice(0, 50)} is not this issuer's ID token typ` };
  }
  if (!header.alg || !algorithms.includes(header.alg)) return { ok: false, reason: 'alg_not_allowed', detail: String(header.alg) };
  // No header extension is understood here, so none may be critical (RFC 7515 §4.1.11).
  if (header.crit !== undefined) return { ok: false, reason: 'crit_unsupported' };
  return { ok: true, value: undefined };
}

/** Claims only access tokens carry (RFC 9068 §2.2.3 `scope`, Entra `scp`). */
const ACCESS_TOKEN_CLAIMS = ['scp', 'scope'];
/** Claims naming the client a token was issued to (RFC 9068 `client_id`, Entra `appid`, Okta `cid`). */
const CLIENT_CLAIMS = ['client_id', 'appid', 'cid'];
/** Payload markers some IdPs put on their non-ID tokens (Keycloak's `typ`, Cognito's `token_use`). */
const NON_ID_PAYLOAD_TYP = new Set(['bearer', 'refresh', 'offline', 'at+jwt']);

/**
 * Evidence that a verified JWT is an ID token and not an access token of the same issuer with this
 * client in `aud` (issue 6 §2): no access-token claims, and any client claim names this client.
 */
function checkIdTokenEvidence(claims: Record<string, unknown>, audiences: readonly string[]): Check<void> {
  const not = (detail: string): Check<void> => ({ ok: false, reason: 'subject_token_not_id_token', detail });
  for (const name of ACCESS_TOKEN_CLAIMS) if (Object.hasOwn(claims, name)) return not(`${name} is an access token claim`);
  for (const name of CLIENT_CLAIMS) {
    if (!Object.hasOwn(claims, name)) continue;
    const value = claims[name];
    if (typeof value !== 'string' || !audiences.includes(value)) return not(`${name} names another client than the audience`);
  }
  if (claims.token_use !== undefined && claims.token_use !== 'id') return not('token_use is not id');
  if (typeof claims.typ === 'string' && NON_ID_PAYLOAD_TYP.has(claims.typ.toLowerCase())) return not(`typ claim ${claims.typ.slice(0, 20)}`);
  return { ok: true, value: undefined };
}

/**
 * OIDC Core §3.1.3.7 rules for an ID token presented as a subject token, as a pure function: the
 * signature is already checked; the clock and the accepted audiences are passed in.
 */
export function checkIdTokenClaims(
  claims: JWTPayload,
  expect: { issuer: string; audiences: readonly string[]; now: number; skew?: number },
): Check<VerifiedIdToken> {
  const skew = expect.skew ?? CLOCK_SKEW;
  if (claims.iss !== expect.issuer) return { ok: false, reason: 'issuer_untrusted' };
  if (typeof claims.sub !== 'string' || claims.sub.length === 0) return { ok: false, reason: 'claim_missing', detail: 'sub' };
  if (typeof claims.exp !== 'number') return { ok: false, reason: 'claim_missing', detail: 'exp' };
  if (typeof claims.iat !== 'number') return { ok: false, reason: 'claim_missing', detail: 'iat' };
  if (Array.isArray(claims.aud) && claims.aud.some((a) => typeof a !== 'string')) return { ok: false, reason: 'token_malformed', detail: 'aud has a non-string entry' };
  const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? (claims.aud as string[]) : [];
  if (aud.length === 0) return { ok: false, reason: 'claim_missing', detail: 'aud' };
  if (claims.exp + skew <= expect.now) return { ok: false, reason: 'expired' };
  if (typeof claims.nbf === 'number' && claims.nbf - skew > expect.now) return { ok: false, reason: 'not_yet_valid' };
  if (claims.iat - skew > expect.now) return { ok: false, reason: 'iat_in_future' };
  // The ID token must have been issued to the client now presenting it (ID-JAG draft -03 §4.3.3).
  if (!aud.some((a) => expect.audiences.includes(a))) return { ok: false, reason: 'aud_mismatch' };
  // With several audiences, azp must name this client (OIDC Core §3.1.3.7 steps 4-5); and an azp
  // naming another party means the token was issued to that party (OIDC Core §2), whatever aud says.
  if (aud.length > 1 && typeof claims.azp !== 'string') return { ok: false, reason: 'aud_mismatch', detail: 'azp' };
  if (claims.azp !== undefined && (typeof claims.azp !== 'string' || !expect.audiences.includes(claims.azp))) return { ok: false, reason: 'aud_mismatch', detail: 'azp' };
  const evidence = checkIdTokenEvidence(claims, expect.audiences);
  if (!evidence.ok) return evidence;
  return {
    ok: true,
    value: { issuer: claims.iss, subject: claims.sub, audience: aud, expiresAt: claims.exp, claims: claims as VerifiedIdToken['claims'] },
  };
}

function refuse(reason: RefusalReason, detail?: string): InvalidGrant {
  return new InvalidGrant(reason, 'the subject token is invalid', detail);
}

/**
 * Verifies ID tokens from the broker itself or a trusted upstream. Signature-verified payloads are
 * cached until they expire (signature work is the costly part); claim rules are re-checked on
 * every use because they depend on the clock and the presenting client.
 *
 * A token is cached on its second verification, not its first (a "doorkeeper", as in TinyLFU):
 * most ID tokens are exchanged once, and caching each on first sight filled the cache with entries
 * never read again, which outlived the young generation and became old-space garbage (the cold
 * path's memory, docs/benchmark.md). The first sight leaves only a fingerprint of its signature.
 */
export class IdTokenVerifier {
  private readonly verified: LRUCache<string, { issuer: string; claims: JWTPayload; size: number }>;
  /** Fingerprints of tokens verified once (see fingerprint below). */
  private readonly seenOnce: LRUCache<number, true>;

  constructor(
    private readonly issuers: ReadonlyMap<string, TrustedIssuer>,
    /** The runtime's JWS implementation (minting/jws.ts); jose over WebCrypto by default. */
    private readonly jws: JwsCrypto = webJws,
    /** The broker's clock: an entry leaves the cache when its token expires by this clock. */
    clock: Clock = systemClock,
  ) {
    this.verified = clockedCache(clock, {
      max: SUBJECT_TOKEN_CACHE_MAX,
      maxSize: SUBJECT_TOKEN_CACHE_MAX_BYTES,
      sizeCalculation: (entry, key) => key.length * 2 + entry.size,
    });
    this.seenOnce = boundedCache({ max: SUBJECT_TOKEN_CACHE_MAX });
  }

  async verify(token: string, audiences: (issuer: string) => readonly string[], now: number): Promise<VerifiedIdToken> {
    const { issuer, claims } = this.verified.get(token) ?? (await this.verifySignature(token, now));
    const result = checkIdTokenClaims(claims, { issuer, audiences: audiences(issuer), now });
    if (!result.ok) throw refuse(result.reason, result.detail);
    return result.value;
  }

  private async verifySignature(token: string, now: number) {
    if (token.length > MAX_TOKEN_BYTES) throw refuse('token_too_large');
    const parts = token.split('.');
    if (parts.length !== 3) throw refuse('token_malformed', parts.length === 5 ? 'encrypted tokens are not accepted' : 'not a JWS');
    let header: ProtectedHeaderParameters;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      throw refuse('token_malformed');
    }
    const trusted = typeof unverified.iss === 'string' ? this.issuers.get(unverified.iss) : undefined;
    if (!trusted) throw refuse('issuer_untrusted', typeof unverified.iss === 'string' ? unverified.iss.slice(0, 200) : undefined);
    const headerCheck = checkHeader(header, trusted.algorithms, trusted.typing);
    if (!headerCheck.ok) throw refuse(headerCheck.reason, headerCheck.detail);

    try {
      // The verified payload segment is the one decodeJwt parsed above: its claims are `unverified`.
      await verifyWithAnyMatchingKey(token, trusted, this.jws);
    } catch (err) {
      const [reason, detail] = joseFailure(err);
      if (reason === 'jwks_unavailable') throw new TemporarilyUnavailable(reason, "the subject token issuer's keys are unavailable; try again later", detail);
      throw refuse(reason, detail);
    }
    const claims = unverified;
    // The decoded claims weigh about what their text does (the payload is at most MAX_TOKEN_BYTES).
    const entry = { issuer: trusted.issuer, claims, size: parts[1]!.length * 2 };
    const ttl = typeof claims.exp === 'number' ? (claims.exp + CLOCK_SKEW - now) * 1000 : 0;
    if (ttl > 0) {
      const seen = fingerprint(parts[2]!);
      if (this.seenOnce.has(seen)) {
        this.seenOnce.delete(seen);
        this.verified.set(token, entry, { ttl });
      } else {
        this.seenOnce.set(seen, true);
      }
    }
    return entry;
  }
}

/**
 * A 53-bit fingerprint of a token's signature segment (two FNV-1a-style passes with different
 * multipliers), for the doorkeeper. A number, not the segment: a substring of the token would keep
 * the whole request body alive (V8 slices share their parent). Not a security boundary: a collision
 * only admits a token to the verified cache on its first repeat instead of its second; the cache
 * itself is keyed by the token.
 */
function fingerprint(segment: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return (a >>> 0) * 0x200000 + (b >>> 11);
}

/**
 * compactVerify, except that a token without `kid` checked against a key set holding several
 * candidate keys (an IdP mid-rotation) is tried against each of them, as jose suggests.
 */
async function verifyWithAnyMatchingKey(token: string, trusted: TrustedIssuer, jws: JwsCrypto) {
  try {
    return await jws.compactVerify(token, trusted.keys, { algorithms: trusted.algorithms });
  } catch (err) {
    if (!(err instanceof joseErrors.JWKSMultipleMatchingKeys)) throw err;
    for await (const key of err as unknown as AsyncIterable<CryptoKey>) {
      try {
        return await jws.compactVerify(token, key, { algorithms: trusted.algorithms });
      } catch (inner) {
        if (!(inner instanceof joseErrors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    throw new joseErrors.JWSSignatureVerificationFailed();
  }
}

function joseFailure(err: unknown): [RefusalReason, string?] {
  if (err instanceof joseErrors.JWKSNoMatchingKey) return ['key_unknown'];
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return ['signature_invalid'];
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return ['alg_not_allowed'];
  if (err instanceof joseErrors.JWSInvalid) return ['token_malformed'];
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid) return ['jwks_unavailable', err.code];
  if (err instanceof joseErrors.JOSEError && !/key set/i.test(err.message)) return ['signature_invalid', err.code];
  // Network failures, non-200 answers and the size cap all mean the keys could not be had.
  return ['jwks_unavailable'];
}
