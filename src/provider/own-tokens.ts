import type { BrokerServices } from '../grants/services.js';
import type { RefreshTokenRecord } from '../store/ports.js';
import { isRandomToken, sha256Base64url } from './crypto.js';
import { InvalidToken } from './errors.js';
import { ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_REUSE_GRACE } from './limits.js';
import { USERINFO_PATH, endpointUrl } from './metadata.js';
import { ACCESS_TOKEN_TYP, ownJwsType, verifyAccessToken, type AccessTokenClaims } from './tokens.js';

/**
 * The tokens the provider issued, as /revoke (RFC 7009) and /introspect (RFC 7662) find them from
 * the token string alone, and the revocation list of access tokens.
 */

/** RFC 7009 §2.1 / RFC 7662 §2.1 `token_type_hint` values the broker knows. */
export const TOKEN_TYPE_HINTS = ['access_token', 'refresh_token'] as const;

export type OwnToken =
  /** A broker access token (RFC 9068), valid now; not yet checked against the revocation list. */
  | { type: 'access_token'; claims: AccessTokenClaims }
  /**
   * An active refresh token (unrotated, unrevoked, unexpired) and its stored hash; for /revoke, also
   * one the client's own concurrent refresh rotated within REFRESH_TOKEN_REUSE_GRACE (see findOwnToken).
   */
  | { type: 'refresh_token'; hash: string; record: RefreshTokenRecord }
  /** Signed by the broker, but of a kind it cannot revoke or introspect (an ID token, an ID-JAG). */
  | { type: 'unsupported'; typ: string }
  /** Not a token the broker knows as valid now: never issued, expired, rotated, revoked, or foreign. */
  | { type: 'unknown' };

async function asAccessToken(s: BrokerServices, token: string, now: number): Promise<OwnToken | undefined> {
  try {
    return { type: 'access_token', claims: await verifyAccessToken(token, s, endpointUrl(s.settings.issuer, USERINFO_PATH), now) };
  } catch (err) {
    if (err instanceof InvalidToken) return undefined;
    throw err;
  }
}

async function asRefreshToken(s: BrokerServices, token: string, now: number, rotatedAfter?: number): Promise<OwnToken | undefined> {
  // Anything randomToken() cannot have produced is not looked up (nor hashed).
  if (!isRandomToken(token)) return undefined;
  const hash = await s.tokenDigest(token);
  const record = await s.store.refreshTokens.active(hash, now, rotatedAfter);
  return record ? { type: 'refresh_token', hash, record } : undefined;
}

/**
 * Finds what `token` is. The hint is honoured but not trusted (RFC 7009 §2.1): it only says which
 * kind is looked for first, and the search goes on through the other kind when it fails.
 * `purpose: 'revoke'` also finds a refresh token rotated within the reuse grace window: the client's
 * own refresh, racing its revocation, must not leave the successor alive (the family is what goes).
 */
export async function findOwnToken(s: BrokerServices, token: string, hint: string | undefined, now: number, purpose: 'revoke' | 'introspect' = 'introspect'): Promise<OwnToken> {
  const rotatedAfter = purpose === 'revoke' ? now - REFRESH_TOKEN_REUSE_GRACE : undefined;
  const asRefresh = () => asRefreshToken(s, token, now, rotatedAfter);
  const asAccess = () => asAccessToken(s, token, now);
  for (const lookup of hint === 'refresh_token' ? [asRefresh, asAccess] : [asAccess, asRefresh]) {
    const found = await lookup();
    if (found) return found;
  }
  const typ = await ownJwsType(token, s);
  // An expired or otherwise invalid access token is unknown, not unsupported.
  if (typ !== undefined && typ !== ACCESS_TOKEN_TYP) return { type: 'unsupported', typ };
  return { type: 'unknown' };
}

/** The replay-store scope of revoked access tokens, by `jti`. */
const REVOKED_ACCESS_TOKENS = 'provider-access-token-revoked';

/** Puts an access token on the revocation list until it expires of itself (then nothing needs remembering). */
export async function revokeAccessToken(s: BrokerServices, token: AccessTokenClaims, now: number): Promise<void> {
  await s.store.replay.consume(REVOKED_ACCESS_TOKENS, token.jti, token.exp, now);
}

/** The replay-store scope of revoked grants, by the `grant_id` their access tokens carry. */
const REVOKED_GRANTS = 'provider-grant-revoked';

/**
 * The `grant_id` of the access tokens issued from one grant: an authorization code and the refresh
 * tokens rotated from it, whose family id is the code's stored hash. Hashed again, so the token
 * does not carry a store key.
 */
export function grantIdOf(familyId: string): Promise<string> {
  return sha256Base64url(`grant:${familyId}`);
}

/**
 * Invalidates every access token issued from a grant (RFC 6749 §4.1.2 on a replayed code, RFC 7009
 * §2.1 on a revoked refresh token): remembered for as long as one of them can live.
 */
export async function revokeGrantAccessTokens(s: BrokerServices, familyId: string, now: number): Promise<void> {
  await s.store.replay.consume(REVOKED_GRANTS, await grantIdOf(familyId), now + ACCESS_TOKEN_LIFETIME, now);
}

/** Whether an access token is on the revocation list, itself or through its grant: a read, so /userinfo writes nothing. */
export async function accessTokenRevoked(s: BrokerServices, token: AccessTokenClaims, now: number): Promise<boolean> {
  if (await s.store.replay.recorded(REVOKED_ACCESS_TOKENS, token.jti, now)) return true;
  return token.grant_id !== undefined && s.store.replay.recorded(REVOKED_GRANTS, token.grant_id, now);
}
