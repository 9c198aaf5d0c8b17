import {
  DEFAULT_CLOCK_TOLERANCE,
  DEFAULT_ID_JAG_ALGORITHMS,
  DEFAULT_ID_JAG_MAX_LIFETIME,
  ID_JAG_TYP,
} from './limits.js';
import type { IdJagRejectionReason } from './reasons.js';

/** An RFC 9493 subject identifier (`sub_id`), e.g. `{ format: 'saml-nameid', … }`. */
export interface SubjectIdentifier {
  format: string;
  [member: string]: unknown;
}

/**
 * One RFC 9396 authorization details object: a `type` plus members that type defines. The kit
 * checks only this shape; what the members mean is for the destination to decide.
 */
export interface AuthorizationDetail {
  type: string;
  [member: string]: unknown;
}

/** The claims of an ID-JAG that passed every check. `aud` is normalised to a string. */
export interface IdJagClaims {
  iss: string;
  /** The user, in this destination's own subject namespace. */
  sub: string;
  aud: string;
  /** The client's identifier at this destination. */
  client_id: string;
  jti: string;
  iat: number;
  exp: number;
  nbf?: number;
  scope?: string;
  resource?: string | string[];
  tenant?: string;
  auth_time?: number;
  acr?: string;
  amr?: string[];
  email?: string;
  aud_tenant?: string;
  aud_sub?: string;
  sub_id?: SubjectIdentifier;
  /**
   * The key the ID-JAG is bound to (RFC 7800, RFC 9449 §6.1): redeemable only with a DPoP proof
   * made with it ({@link IdJagVerificationContext.dpop}).
   */
  cnf?: { jkt: string };
  /**
   * RFC 9396 authorization details the broker granted. The kit checks their shape only; draft
   * -03 §4.4.1 requires the destination to process each one, and RFC 9396 §5 to refuse any
   * type it does not understand.
   */
  authorization_details?: AuthorizationDetail[];
}

/** What this destination requires of an ID-JAG. */
export interface IdJagExpectations {
  /** This authorization server's issuer identifier: the only `aud` it accepts. */
  audience: string;
  /** The client authenticated at this token endpoint; `client_id` must equal it. */
  clientId: string;
  /** Broker issuer identifiers allowed to sign ID-JAGs, compared exactly. */
  issuers: readonly string[];
  /** JWS algorithm allow-list. `none` and HS* are refused even when listed. */
  algorithms?: readonly string[];
  /** Seconds of clock skew tolerated on `exp`, `nbf` and `iat`. Default 60. */
  clockTolerance?: number;
  /** Longest accepted `exp - iat`, in seconds. Default 300. */
  maxLifetime?: number;
}

export type IdJagRejection = { ok: false; reason: IdJagRejectionReason; detail?: string };
export type IdJagValidationResult = { ok: true; claims: IdJagClaims } | IdJagRejection;

type JsonObject = Readonly<Record<string, unknown>>;

const REQUIRED_STRINGS = ['iss', 'sub', 'client_id', 'jti'] as const;
const REQUIRED_DATES = ['iat', 'exp'] as const;
const OPTIONAL_STRINGS = ['scope', 'tenant', 'acr', 'email', 'aud_tenant', 'aud_sub'] as const;

function reject(reason: IdJagRejectionReason, detail?: string): IdJagRejection {
  return detail === undefined ? { ok: false, reason } : { ok: false, reason, detail };
}

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `none` and MAC algorithms are never acceptable: a MAC would need a secret shared with the
 * broker, and a misconfigured allow-list must not be able to open that door.
 */
export function isForbiddenAlgorithm(alg: string): boolean {
  return alg.toLowerCase() === 'none' || alg.toUpperCase().startsWith('HS');
}

/** Media type comparison is case-insensitive and `application/` may be omitted (RFC 7515 §4.1.9). */
export function isIdJagTyp(typ: unknown): boolean {
  if (typeof typ !== 'string') return false;
  const normalised = typ.toLowerCase();
  return normalised === ID_JAG_TYP || normalised === `application/${ID_JAG_TYP}`;
}

function checkHeader(header: JsonObject, algorithms: readonly string[]): IdJagRejection | undefined {
  const { alg, typ, crit } = header;
  if (typeof alg !== 'string' || isForbiddenAlgorithm(alg) || !algorithms.includes(alg)) {
    return reject('alg_not_allowed', typeof alg === 'string' ? alg : undefined);
  }
  if (!isIdJagTyp(typ)) return reject('typ_invalid');
  // No header extension is understood here, so none may be critical (RFC 7515 §4.1.11).
  if (crit !== undefined) return reject('crit_unsupported');
  return undefined;
}

function checkRequiredClaims(payload: JsonObject): IdJagRejection | undefined {
  for (const name of [...REQUIRED_STRINGS, 'aud', ...REQUIRED_DATES]) {
    if (payload[name] === undefined) return reject('claim_missing', name);
  }
  for (const name of REQUIRED_STRINGS) {
    const value = payload[name];
    if (typeof value !== 'string' || value === '') return reject('claim_invalid', name);
  }
  for (const name of REQUIRED_DATES) {
    if (!isNumericDate(payload[name])) return reject('claim_invalid', name);
  }
  return undefined;
}

/** `aud` must name this server alone: a grant addressed to several parties is not ours to redeem. */
function checkAudience(aud: unknown, audience: string): IdJagRejection | undefined {
  if (typeof aud === 'string') return aud === audience ? undefined : reject('aud_mismatch');
  if (!isStringArray(aud) || aud.length === 0) return reject('claim_invalid', 'aud');
  if (aud.length > 1) return reject('aud_multiple');
  return aud[0] === audience ? undefined : reject('aud_mismatch');
}

function checkTimes(
  payload: JsonObject & { iat: number; exp: number },
  now: number,
  tolerance: number,
  maxLifetime: number,
): IdJagRejection | undefined {
  const { iat, exp, nbf } = payload;
  if (exp <= now - tolerance) return reject('expired');
  if (nbf !== undefined) {
    if (!isNumericDate(nbf)) return reject('claim_invalid', 'nbf');
    if (nbf > now + tolerance) return reject('not_yet_valid');
  }
  if (iat > now + tolerance) return reject('iat_in_future');
  if (exp <= iat) return reject('claim_invalid', 'exp');
  if (exp - iat > maxLifetime) return reject('lifetime_too_long');
  return undefined;
}

/**
 * ID-JAG draft, "Sender Constraining Tokens": a `cnf` with a `jkt` binds the ID-JAG to a DPoP
 * key, checked against the request's proof by the verifier. Any other confirmation method (a
 * `jwk`, mTLS's `x5t#S256`) is a binding this kit cannot check: refused, never treated as bearer.
 */
function checkKeyBinding(payload: JsonObject): IdJagRejection | undefined {
  const { cnf } = payload;
  if (cnf === undefined) return undefined;
  if (!isObject(cnf)) return reject('claim_invalid', 'cnf');
  if (cnf.jkt === undefined) return reject('key_binding_unsupported', 'cnf');
  if (typeof cnf.jkt !== 'string' || cnf.jkt === '') return reject('claim_invalid', 'cnf');
  return undefined;
}

/** RFC 9396 §2: a JSON array of objects, each with a string `type`. */
function isAuthorizationDetails(value: unknown): value is AuthorizationDetail[] {
  return (
    Array.isArray(value) && value.every((detail) => isObject(detail) && typeof detail.type === 'string' && detail.type !== '')
  );
}

function checkOptionalClaims(payload: JsonObject): IdJagRejection | undefined {
  for (const name of OPTIONAL_STRINGS) {
    if (payload[name] !== undefined && typeof payload[name] !== 'string') return reject('claim_invalid', name);
  }
  const { resource, auth_time, amr, sub_id, authorization_details } = payload;
  if (resource !== undefined && typeof resource !== 'string' && !(isStringArray(resource) && resource.length > 0)) {
    return reject('claim_invalid', 'resource');
  }
  if (auth_time !== undefined && !isNumericDate(auth_time)) return reject('claim_invalid', 'auth_time');
  if (amr !== undefined && !isStringArray(amr)) return reject('claim_invalid', 'amr');
  if (sub_id !== undefined && !(isObject(sub_id) && typeof sub_id.format === 'string')) {
    return reject('claim_invalid', 'sub_id');
  }
  if (authorization_details !== undefined && !isAuthorizationDetails(authorization_details)) {
    return reject('claim_invalid', 'authorization_details');
  }
  return undefined;
}

const OPTIONAL_CLAIMS = [
  'nbf',
  'scope',
  'resource',
  'tenant',
  'auth_time',
  'acr',
  'amr',
  'email',
  'aud_tenant',
  'aud_sub',
  'sub_id',
  'authorization_details',
] as const;

/** Copies only the claims this kit vouches for; everything else in the payload stays behind. */
function pickClaims(payload: JsonObject, audience: string): IdJagClaims {
  const claims: Record<string, unknown> = {
    iss: payload.iss,
    sub: payload.sub,
    aud: audience,
    client_id: payload.client_id,
    jti: payload.jti,
    iat: payload.iat,
    exp: payload.exp,
  };
  for (const name of OPTIONAL_CLAIMS) {
    if (payload[name] !== undefined) claims[name] = structuredClone(payload[name]);
  }
  // Only the member this kit checks (checkKeyBinding): the thumbprint.
  if (isObject(payload.cnf)) claims.cnf = { jkt: payload.cnf.jkt };
  return claims as unknown as IdJagClaims;
}

/**
 * Applies every ID-JAG rule to an already signature-verified header and payload. Pure: the
 * clock is an argument and nothing is read or written, so a destination that verifies
 * signatures with another library can still use exactly these rules.
 *
 * Replay (`jti` single use) is deliberately not checked here; it needs state. See
 * {@link createIdJagVerifier}.
 */
export function validateIdJagClaims(
  header: JsonObject,
  payload: JsonObject,
  expectations: IdJagExpectations,
  now: Date,
): IdJagValidationResult {
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const rejection =
    checkHeader(header, expectations.algorithms ?? DEFAULT_ID_JAG_ALGORITHMS) ??
    checkRequiredClaims(payload) ??
    (expectations.issuers.includes(payload.iss as string) ? undefined : reject('issuer_untrusted')) ??
    checkAudience(payload.aud, expectations.audience) ??
    (payload.client_id === expectations.clientId ? undefined : reject('client_id_mismatch')) ??
    checkTimes(
      payload as JsonObject & { iat: number; exp: number },
      nowSeconds,
      expectations.clockTolerance ?? DEFAULT_CLOCK_TOLERANCE,
      expectations.maxLifetime ?? DEFAULT_ID_JAG_MAX_LIFETIME,
    ) ??
    checkKeyBinding(payload) ??
    checkOptionalClaims(payload);
  return rejection ?? { ok: true, claims: pickClaims(payload, expectations.audience) };
}
