import {
  SignJWT,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  type CryptoKey,
  type JSONWebKeySet,
  type JWTPayload,
} from 'jose';
import type { IdJagClaims } from '../../src/destination/index.js';

/** RFC 9068 access tokens live briefly; the client redeems a fresh ID-JAG for another. */
export const ACCESS_TOKEN_LIFETIME = 300;

const ALG = 'ES256';
const TYP = 'at+jwt';

/** This AS's own signing key. It signs access tokens only; ID-JAGs come from the broker. */
/** A private claim of this AS's access tokens: the issuer of the ID-JAG whose `sub` it carries. */
const SUBJECT_ISSUER = 'subject_issuer';

export interface AccessTokenKey {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  kid: string;
  jwks: JSONWebKeySet;
}

export async function generateAccessTokenKey(): Promise<AccessTokenKey> {
  const { privateKey, publicKey } = await generateKeyPair(ALG);
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { privateKey, publicKey, kid, jwks: { keys: [{ ...jwk, kid, alg: ALG, use: 'sig' }] } };
}

export interface AccessTokenInput {
  issuer: string;
  audience: string;
  grant: IdJagClaims;
  scope: string;
  now: Date;
  /** The thumbprint of the DPoP key the client proved at the token endpoint: the token is bound to it (`cnf.jkt`). */
  jkt?: string;
}

/**
 * Mints an RFC 9068 JWT access token. Authentication context from the ID-JAG is carried over
 * (§2.2.1) so the API can demand a step-up without asking the broker.
 */
export async function mintAccessToken(key: AccessTokenKey, input: AccessTokenInput): Promise<string> {
  const { grant } = input;
  const iat = Math.floor(input.now.getTime() / 1000);
  const context: JWTPayload = {};
  if (grant.auth_time !== undefined) context.auth_time = grant.auth_time;
  if (grant.acr !== undefined) context.acr = grant.acr;
  if (grant.amr !== undefined) context.amr = grant.amr;
  // `sub` is unique only within the broker that named it: the account is (subject_issuer, sub).
  // RFC 9449 §6.1: a DPoP-bound token names its key; the API demands a proof made with it.
  if (input.jkt !== undefined) context.cnf = { jkt: input.jkt };
  return new SignJWT({ ...context, client_id: grant.client_id, scope: input.scope, [SUBJECT_ISSUER]: grant.iss })
    .setProtectedHeader({ alg: ALG, typ: TYP, kid: key.kid })
    .setIssuer(input.issuer)
    .setSubject(grant.sub)
    .setAudience(input.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ACCESS_TOKEN_LIFETIME)
    .setJti(crypto.randomUUID())
    .sign(key.privateKey);
}

export interface AccessTokenClaims {
  sub: string;
  /** The broker that named `sub` (the ID-JAG's `iss`): with `sub`, the account. */
  subjectIssuer: string;
  client_id: string;
  scopes: string[];
  /** Present when the token is DPoP-bound: the thumbprint of its key. */
  jkt?: string;
}

/** Verifies an access token this AS minted; throws on anything else. */
export async function verifyAccessToken(
  key: AccessTokenKey,
  token: string,
  expected: { issuer: string; audience: string; now: Date },
): Promise<AccessTokenClaims> {
  const { payload } = await jwtVerify(token, key.publicKey, {
    issuer: expected.issuer,
    audience: expected.audience,
    typ: TYP,
    algorithms: [ALG],
    currentDate: expected.now,
    requiredClaims: ['sub', 'exp', 'iat', 'jti', 'client_id', 'scope', SUBJECT_ISSUER],
  });
  const { sub, client_id, scope, [SUBJECT_ISSUER]: subjectIssuer, cnf } = payload;
  if (typeof sub !== 'string' || typeof client_id !== 'string' || typeof scope !== 'string' || typeof subjectIssuer !== 'string') {
    throw new TypeError('access token claims have unexpected types');
  }
  const claims: AccessTokenClaims = { sub, subjectIssuer, client_id, scopes: scope.split(' ').filter(Boolean) };
  if (cnf === undefined) return claims;
  const jkt = (cnf as { jkt?: unknown } | null)?.jkt;
  if (typeof jkt !== 'string') throw new TypeError('access token cnf has an unexpected shape');
  return { ...claims, jkt };
}
