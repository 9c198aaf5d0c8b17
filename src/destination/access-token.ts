import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { MAX_TOKEN_BYTES } from '../constants.js';
import { clockedRemoteJwks } from '../http/remote-jwks.js';
import { DEFAULT_CLOCK_TOLERANCE, DEFAULT_ID_JAG_ALGORITHMS } from './limits.js';
import { webUrl } from './protected-resource.js';
import { isForbiddenAlgorithm } from './validate.js';

/**
 * The resource server's side of the destination: it accepts only RFC 9068 JWT access tokens that
 * its own AS minted for *this* resource. An MCP server behind a destination AS uses it so that a
 * token minted for another resource, by another AS, or a JWT of another kind (an ID-JAG, an ID
 * token) opens nothing (MCP Enterprise-Managed Authorization §5.1, §7.5.4).
 */

/** RFC 9068 §2.1. */
const AT_JWT_TYP = 'at+jwt';

/** RFC 9068 §2.2: what every JWT access token carries. `iss`, `aud` and `exp` are checked by value. */
const REQUIRED_CLAIMS = ['sub', 'client_id', 'iat', 'jti', 'exp'];

export interface AccessTokenVerifierOptions {
  /** The issuer identifier of the AS that mints this resource's tokens; `iss` must equal it. */
  issuer: string;
  /** This resource's identifier (as in its RFC 9728 metadata); `aud` must be or include it. */
  resource: string;
  /** The AS's key set, inline or its `jwks_uri` (cached and refetched as for ID-JAGs, timed by `now`). */
  jwks: JSONWebKeySet | URL;
  /** Default: the kit's asymmetric allow-list. `none` and `HS*` are refused at construction. */
  algorithms?: readonly string[];
  /** Seconds of skew on `exp` and `nbf`; default {@link DEFAULT_CLOCK_TOLERANCE}. */
  clockTolerance?: number;
  now?: () => Date;
  fetch?: typeof fetch;
}

/** Who a valid token speaks for and what it grants. */
export interface VerifiedAccessToken {
  iss: string;
  sub: string;
  client_id: string;
  /** The `scope` claim split on spaces; empty when the token carries none. */
  scopes: string[];
  exp: number;
  /** Every claim, for what the resource reads beyond these (e.g. `acr`, `auth_time`). */
  claims: JWTPayload;
}

/** Why a token was refused: for logs; the wire says `invalid_token` whatever it is. */
export type AccessTokenRejectionReason =
  | 'too_large'
  | 'malformed'
  | 'typ_invalid'
  | 'alg_not_allowed'
  | 'key_unknown'
  | 'jwks_unavailable'
  | 'signature_invalid'
  | 'issuer_mismatch'
  | 'aud_mismatch'
  | 'claim_missing'
  | 'claim_invalid'
  | 'expired'
  | 'not_yet_valid'
  /** The token is sender-constrained (`cnf`, e.g. DPoP's `jkt`): it is not a bearer token (RFC 9449 §7.1). */
  | 'sender_constrained';

export type AccessTokenVerdict = { ok: true; token: VerifiedAccessToken } | { ok: false; reason: AccessTokenRejectionReason; detail?: string };

export type AccessTokenVerifier = (token: string) => Promise<AccessTokenVerdict>;

/** jose's claim name for each failed check, to the reason it means here. */
const CLAIM_REASONS: Record<string, AccessTokenRejectionReason> = { iss: 'issuer_mismatch', aud: 'aud_mismatch', typ: 'typ_invalid', nbf: 'not_yet_valid', exp: 'expired' };

function refusal(error: unknown): AccessTokenVerdict {
  const no = (reason: AccessTokenRejectionReason, detail?: string): AccessTokenVerdict => (detail === undefined ? { ok: false, reason } : { ok: false, reason, detail });
  if (error instanceof errors.JWTExpired) return no('expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return no('claim_missing', error.claim);
    return no(CLAIM_REASONS[error.claim] ?? 'claim_invalid', error.claim);
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) return no('alg_not_allowed');
  if (error instanceof errors.JWKSNoMatchingKey) return no('key_unknown');
  if (error instanceof errors.JWSSignatureVerificationFailed) return no('signature_invalid');
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) return no('jwks_unavailable');
  if (error instanceof errors.JOSEError) return no('malformed', error.code);
  // A key set that could not be fetched at all (network, size cap): the token may be fine.
  return no('jwks_unavailable');
}

/**
 * Builds the check a protected resource runs on every bearer token: size, signature with the AS's
 * keys and the algorithm allow-list, `typ` `at+jwt`, `iss` = the AS, `aud` names this resource,
 * `exp`/`nbf` with skew, the RFC 9068 claims present, and no `cnf` (a sender-constrained token is
 * not a bearer token; see the reference AS for DPoP-bound ones). Resolves to a verdict; never throws
 * for a bad token.
 *
 * @throws {TypeError} at construction, for a resource that is not an `https` (or loopback
 *   `http`) URL or an allow-list holding `none` or an `HS*` algorithm.
 */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  webUrl(options.resource, 'resource');
  const algorithms = [...(options.algorithms ?? DEFAULT_ID_JAG_ALGORITHMS)];
  const forbidden = algorithms.filter(isForbiddenAlgorithm);
  if (forbidden.length > 0) throw new TypeError(`access tokens must be signed asymmetrically; remove ${forbidden.join(', ')}`);
  const now = options.now ?? (() => new Date());
  const clockTolerance = options.clockTolerance ?? DEFAULT_CLOCK_TOLERANCE;
  const getKey: JWTVerifyGetKey =
    options.jwks instanceof URL ? clockedRemoteJwks(options.jwks, { clock: () => now().getTime() / 1000, fetch: options.fetch }) : createLocalJWKSet(options.jwks);

  return async function verifyAccessToken(token) {
    // Refused before any parsing; a token is ASCII, so characters are bytes.
    if (token.length > MAX_TOKEN_BYTES) return { ok: false, reason: 'too_large' };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        algorithms,
        typ: AT_JWT_TYP,
        issuer: options.issuer,
        audience: options.resource,
        requiredClaims: REQUIRED_CLAIMS,
        clockTolerance,
        currentDate: now(),
      }));
    } catch (error) {
      return refusal(error);
    }
    // This check is for bearer tokens: a bound token presented as one proves nothing of its holder.
    if (payload.cnf !== undefined) return { ok: false, reason: 'sender_constrained' };
    const { iss, sub, client_id: clientId, scope, exp } = payload;
    if (typeof sub !== 'string' || typeof clientId !== 'string' || (scope !== undefined && typeof scope !== 'string')) {
      return { ok: false, reason: 'claim_invalid' };
    }
    return { ok: true, token: { iss: iss!, sub, client_id: clientId, scopes: (scope ?? '').split(' ').filter(Boolean), exp: exp!, claims: payload } };
  };
}
