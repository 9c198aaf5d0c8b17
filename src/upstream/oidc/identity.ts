import type { UpstreamIdentity } from '../../identity/types.js';

type Claims = Record<string, unknown>;

/**
 * Claims that describe this one login or this one token, not the person. Userinfo may not supply
 * them (OIDC Core §5.3.2 leaves userinfo unsigned and unbound to the authentication event), and
 * the per-login values are dropped from what the broker keeps.
 */
const LOGIN_BOUND_CLAIMS = ['iss', 'aud', 'exp', 'iat', 'nbf', 'jti', 'azp', 'auth_time', 'acr', 'amr', 'sid', 'nonce', 'at_hash', 'c_hash'];
const DROPPED_CLAIMS = ['nonce', 'at_hash', 'c_hash'];

function without(claims: Claims, names: readonly string[]): Claims {
  return Object.fromEntries(Object.entries(claims).filter(([name]) => !names.includes(name)));
}

/**
 * The claims kept for the person: userinfo's, overlaid by the ID token's. On a conflict the signed
 * ID token wins.
 */
export function mergeClaims(idToken: Claims, userinfo: Claims | undefined): Claims {
  const fromUserinfo = userinfo ? without(userinfo, LOGIN_BOUND_CLAIMS) : {};
  return { ...fromUserinfo, ...without(idToken, DROPPED_CLAIMS) };
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/**
 * Builds the identity from ID token claims that openid-client has validated (signature, `iss`,
 * `aud`, `exp`, `iat`, `nonce`, `auth_time` against max_age). Pure.
 */
export function toUpstreamIdentity(connectionId: string, idToken: Claims & { iss: string; sub: string; iat: number }, userinfo?: Claims): UpstreamIdentity {
  const identity: UpstreamIdentity = {
    connectionId,
    protocol: 'oidc',
    issuer: idToken.iss,
    subject: idToken.sub,
    claims: mergeClaims(idToken, userinfo),
    amr: stringArray(idToken.amr),
  };
  // Never invented: without auth_time the login's time is unknown (not iat, which dates the token).
  if (typeof idToken.auth_time === 'number') identity.authTime = idToken.auth_time;
  if (typeof idToken.acr === 'string') identity.acr = idToken.acr;
  if (typeof idToken.sid === 'string') identity.sessionIndex = idToken.sid;
  return identity;
}
