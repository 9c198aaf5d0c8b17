import { base64url, compactVerify, errors as joseErrors, jwtVerify, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { effectiveClaimMap, translateWithClaimMap } from '../migration/claims.js';
import type { NamespaceConfig } from '../config/schema.js';
import { identityOfPrincipal } from '../mapping/identity.js';
import type { Identity, Resolution } from '../mapping/resolve.js';
import type { ActiveKey } from '../minting/keys.js';
import { InvalidGrant } from '../oauth/errors.js';
import type { BrokerServices } from '../grants/services.js';
import { StoreConflict, type AuditRecord, type PrincipalRecord } from '../store/ports.js';
import { atHash } from './crypto.js';
import { InvalidToken } from './errors.js';
import { ACCESS_TOKEN_LIFETIME, ID_TOKEN_LIFETIME, MAX_PRESENTED_TOKEN_CHARS } from './limits.js';
import type { ProviderClient } from './types.js';
import { randomId } from '../random-id.js';

/** RFC 9068 §2.1. */
export const ACCESS_TOKEN_TYP = 'at+jwt';
export const ID_TOKEN_TYP = 'JWT';
/** The broker's own signatures: whatever alg its key ring holds. */
const OWN_ALGS = ['ES256', 'RS256'];

/** OIDC Core §5.4: the claims each scope releases, with the JSON type each must have. */
const SCOPE_CLAIMS: Record<string, Record<string, 'string' | 'boolean' | 'number'>> = {
  email: { email: 'string', email_verified: 'boolean' },
  profile: {
    name: 'string',
    family_name: 'string',
    given_name: 'string',
    middle_name: 'string',
    nickname: 'string',
    preferred_username: 'string',
    profile: 'string',
    picture: 'string',
    website: 'string',
    gender: 'string',
    birthdate: 'string',
    zoneinfo: 'string',
    locale: 'string',
    updated_at: 'number',
  },
};

export const SUPPORTED_SCOPES = ['openid', 'email', 'profile', 'offline_access'];
export const STANDARD_CLAIMS = Object.values(SCOPE_CLAIMS).flatMap((c) => Object.keys(c));

/** The person's claims a set of scopes releases, from the current principal record; wrongly typed values are dropped. Pure. */
export function scopedClaims(claims: Record<string, unknown>, scopes: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const scope of scopes) {
    const released = Object.hasOwn(SCOPE_CLAIMS, scope) ? SCOPE_CLAIMS[scope]! : {};
    for (const [name, type] of Object.entries(released)) {
      const value = Object.hasOwn(claims, name) ? claims[name] : undefined;
      if (typeof value === type) out[name] = value;
    }
  }
  return out;
}

/**
 * Whether a client is a migrated SAML app that receives the SAML attributes as claims. Said by
 * `saml_claims`, not by whether it has overrides: an app whose every attribute is in the default
 * table has none, and must still get them (issue 10 §3).
 */
export function receivesSamlClaims(client: ProviderClient | undefined): boolean {
  return client?.saml_claims ?? client?.claim_overrides !== undefined;
}

/**
 * The claims released to a client for a set of scopes. A migrated SAML app (`saml_claims`) gets
 * its contract: the attributes translated through the default table and its overrides, custom
 * claims included; every other client gets the standard claims its scopes release.
 */
export function releasedClaims(client: ProviderClient | undefined, principal: PrincipalRecord, scopes: readonly string[]): Record<string, unknown> {
  if (!receivesSamlClaims(client) || !principal.saml) return scopedClaims(principal.claims, scopes);
  const { claims } = translateWithClaimMap(principal.saml.attributes, effectiveClaimMap(client?.claim_overrides ?? {}));
  const custom = Object.fromEntries(Object.entries(claims).filter(([name]) => !STANDARD_CLAIMS.includes(name)));
  return { ...custom, ...scopedClaims(claims, scopes) };
}

/** The `sub` this client knows the person by: the one subject model, shared with the ID-JAGs of its namespace. */
export async function subjectFor(s: BrokerServices, client: ProviderClient, principal: PrincipalRecord, now: number): Promise<{ namespace: NamespaceConfig; identity: Identity; mapping: Resolution }> {
  const namespace = s.namespaces.get(client.subject_namespace);
  if (!namespace) throw new Error(`namespace ${client.subject_namespace} is not configured`);
  const identity = identityOfPrincipal(principal, s.trust);
  return { namespace, identity, mapping: await s.subjects.resolve(namespace, identity, now) };
}

/**
 * Writes the new binding (if any) with the audit record, atomically. If a concurrent request bound
 * the principal first, the mapping is resolved again: the issue stands only if it names the same
 * subject (as in the token exchange).
 */
export async function commitIssue(
  s: BrokerServices,
  input: { namespace: NamespaceConfig; identity: Identity; mapping: Extract<Resolution, { ok: true }>; audit: AuditRecord; now: number },
): Promise<void> {
  const { namespace, identity, mapping, audit } = input;
  if (!mapping.newBinding) return s.store.commitMint({ audit });
  try {
    await s.store.commitMint({ binding: mapping.newBinding, audit });
  } catch (err) {
    if (!(err instanceof StoreConflict)) throw err;
    const again = await s.subjects.resolve(namespace, identity, input.now);
    if (!again.ok) throw new InvalidGrant(again.reason, 'the subject cannot be named for this client', again.detail);
    if (again.newBinding || again.subject !== mapping.subject) throw new InvalidGrant('mapping_changed', 'the subject cannot be named for this client', 'binding changed concurrently');
    return s.store.commitMint({ audit: { ...audit, mapping: again.decidedBy } });
  }
  s.subjects.remember(namespace, identity, mapping.newBinding);
}

/**
 * A token tied to a session expires with it at the latest: a SAML login's SessionNotOnOrAfter (or
 * any session end) is not outlived by what was issued in the session. Pure.
 */
export function boundedExpiry(now: number, lifetime: number, sessionExpiresAt: number | undefined): number {
  return Math.min(now + lifetime, sessionExpiresAt ?? Infinity);
}

export interface IdTokenInput {
  issuer: string;
  subject: string;
  clientId: string;
  now: number;
  jti: string;
  /** Absent when the upstream did not say: then no auth_time claim (OIDC Core §2: never invented). */
  authTime?: number;
  acr?: string;
  amr: readonly string[];
  sid: string;
  /** When the session `sid` ends: the token expires then at the latest. */
  sessionExpiresAt?: number;
  nonce?: string;
  /** The access token issued beside it, for at_hash. */
  accessToken: string;
  /** Claims released by scope. */
  claims: Record<string, unknown>;
}

/** OIDC Core §2 ID token claims. Pure but for at_hash's digest. */
export async function buildIdTokenClaims(input: IdTokenInput): Promise<JWTPayload> {
  const claims: JWTPayload = {
    ...input.claims,
    iss: input.issuer,
    sub: input.subject,
    aud: input.clientId,
    exp: boundedExpiry(input.now, ID_TOKEN_LIFETIME, input.sessionExpiresAt),
    iat: input.now,
    jti: input.jti,
    sid: input.sid,
    at_hash: await atHash(input.accessToken),
  };
  if (input.authTime !== undefined) claims.auth_time = input.authTime;
  if (input.nonce !== undefined) claims.nonce = input.nonce;
  if (input.acr !== undefined) claims.acr = input.acr;
  if (input.amr.length > 0) claims.amr = [...input.amr];
  return claims;
}

export interface AccessTokenInput {
  issuer: string;
  subject: string;
  /** The userinfo endpoint: the only resource these tokens are for. */
  audience: string;
  clientId: string;
  scopes: readonly string[];
  sid: string;
  /** When the session `sid` ends: the token expires then at the latest. */
  sessionExpiresAt?: number;
  authTime?: number;
  acr?: string;
  amr: readonly string[];
  now: number;
  /** The grant (authorization code and the refresh tokens rotated from it) the token was issued from. */
  grantId: string;
}

/** RFC 9068 §2.2 claims. Pure but for the random jti. */
export function buildAccessTokenClaims(input: AccessTokenInput): JWTPayload {
  const claims: JWTPayload = {
    iss: input.issuer,
    sub: input.subject,
    aud: input.audience,
    exp: boundedExpiry(input.now, ACCESS_TOKEN_LIFETIME, input.sessionExpiresAt),
    iat: input.now,
    jti: randomId(),
    client_id: input.clientId,
    scope: input.scopes.join(' '),
    sid: input.sid,
    // Private claim: lets a revocation of the grant (a replayed code, a revoked refresh token) reach this token.
    grant_id: input.grantId,
  };
  if (input.authTime !== undefined) claims.auth_time = input.authTime;
  if (input.acr !== undefined) claims.acr = input.acr;
  if (input.amr.length > 0) claims.amr = [...input.amr];
  return claims;
}

export function signJwt(claims: JWTPayload, key: ActiveKey, typ: string): Promise<string> {
  return key.sign(claims, typ);
}

function ownKeys(s: BrokerServices) {
  return (header: JWTHeaderParameters | { kid?: string }) => {
    const key = header.kid ? s.keys.publicKey(header.kid) : undefined;
    if (!key) throw new joseErrors.JWKSNoMatchingKey();
    return key;
  };
}

export interface AccessTokenClaims {
  sub: string;
  client_id: string;
  scope: string;
  sid: string;
  jti: string;
  iat: number;
  exp: number;
  /** Absent from tokens issued before grants were named in them. */
  grant_id?: string;
}

/** RFC 9068 §4 validation of a broker access token for /userinfo: signature, typ, iss, aud, exp. */
export async function verifyAccessToken(token: string, s: BrokerServices, audience: string, now: number): Promise<AccessTokenClaims> {
  if (token.length > MAX_PRESENTED_TOKEN_CHARS) throw new InvalidToken('access_token_invalid', 'the access token is invalid', 'too large');
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, ownKeys(s), {
      issuer: s.settings.issuer,
      audience,
      typ: ACCESS_TOKEN_TYP,
      algorithms: OWN_ALGS,
      currentDate: new Date(now * 1000),
      requiredClaims: ['sub', 'exp', 'iat', 'jti', 'client_id', 'scope', 'sid'],
    }));
  } catch (err) {
    const expired = err instanceof joseErrors.JWTExpired;
    throw new InvalidToken('access_token_invalid', expired ? 'the access token expired' : 'the access token is invalid', err instanceof Error ? err.name : 'unknown');
  }
  const { sub, client_id, scope, sid, jti, iat, exp, grant_id } = payload as Record<string, unknown>;
  if (typeof sub !== 'string' || typeof client_id !== 'string' || typeof scope !== 'string' || typeof sid !== 'string' || typeof jti !== 'string' || typeof iat !== 'number' || typeof exp !== 'number' || (grant_id !== undefined && typeof grant_id !== 'string')) {
    throw new InvalidToken('access_token_invalid', 'the access token is invalid', 'claim types');
  }
  return { sub, client_id, scope, sid, jti, iat, exp, ...(grant_id !== undefined ? { grant_id } : {}) };
}

/**
 * The `typ` of a JWS the broker signed with one of its published keys, whatever it is (ID token,
 * access token, ID-JAG) and whether or not it expired; undefined for anything else.
 */
export async function ownJwsType(token: string, s: BrokerServices): Promise<string | undefined> {
  if (token.length > MAX_PRESENTED_TOKEN_CHARS) return undefined;
  try {
    const { protectedHeader } = await compactVerify(token, ownKeys(s), { algorithms: OWN_ALGS });
    return typeof protectedHeader.typ === 'string' ? protectedHeader.typ : '';
  } catch {
    return undefined;
  }
}

export interface IdTokenHint {
  clientIds: string[];
  sub: string;
  sid?: string;
}

/**
 * An id_token_hint (RP-initiated logout §2): signed by the broker, `typ: JWT` (so neither an access
 * token nor an ID-JAG passes), issued by it. It may have expired: only the signature and the
 * issuer are checked. Undefined when any of that fails.
 */
export async function verifyIdTokenHint(token: string, s: BrokerServices): Promise<IdTokenHint | undefined> {
  if (token.length > MAX_PRESENTED_TOKEN_CHARS) return undefined;
  try {
    const { payload, protectedHeader } = await compactVerify(token, ownKeys(s), { algorithms: OWN_ALGS });
    if (protectedHeader.typ !== ID_TOKEN_TYP) return undefined;
    const claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    if (claims.iss !== s.settings.issuer || typeof claims.sub !== 'string') return undefined;
    const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud.filter((a): a is string => typeof a === 'string') : [];
    if (aud.length === 0) return undefined;
    return { clientIds: aud, sub: claims.sub, ...(typeof claims.sid === 'string' ? { sid: claims.sid } : {}) };
  } catch {
    return undefined;
  }
}
