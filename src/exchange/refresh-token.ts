import { InvalidGrant, InvalidScope } from '../oauth/errors.js';
import type { ScopeTranslation } from '../policy/scopes.js';
import type { RefusalReason } from '../oauth/reasons.js';
import { isRandomToken, randomToken } from '../provider/crypto.js';
import { REFRESH_TOKEN_REUSE_GRACE } from '../provider/limits.js';
import type { BrokerServices } from '../grants/services.js';
import type { RefreshTokenRecord } from '../store/ports.js';
import { loginFacts, personOfActiveSession, type Subject } from './subject.js';

/**
 * subject_token_type refresh_token: a refresh token the broker issued to an app that logs users in
 * at the broker (its OpenID Provider). Web standards only.
 *
 * The token is looked up, never redeemed: it is not rotated and not consumed. RFC 8693 token
 * exchange presents the subject token as evidence of who the request is for; it does not redeem
 * it as the refresh_token grant does (RFC 6749 §6). Rotating it here would silently invalidate the
 * token the app keeps for its own refresh grant, and the next refresh would then look like reuse
 * and revoke the app's whole family. The token stays bound by everything that binds it there:
 * issued to this client, unexpired, unrevoked, unrotated (or rotated within the last
 * REFRESH_TOKEN_REUSE_GRACE seconds by the client's own concurrent refresh), its session still active.
 */

export const REFRESH_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:refresh_token';

function refuse(reason: RefusalReason, detail?: string): InvalidGrant {
  return new InvalidGrant(reason, 'the subject token is invalid', detail);
}

/**
 * Not active: unknown, expired, revoked or rotated. The store's atomic rotation is what tells a
 * rotated token apart, and a rotated token presented anywhere means someone holds a copy of a
 * token already replaced: its family is revoked (RFC 9700 §4.14.2), exactly as the refresh grant
 * does. The successor offered to the rotation is a tombstone, expired on arrival; the store keeps
 * nothing of it unless the token had turned active in between (it cannot: tokens never become
 * active again), in which case the family is revoked too and the exchange still refused.
 */
async function refuseInactive(s: BrokerServices, hash: string, now: number): Promise<never> {
  const tombstone: RefreshTokenRecord = { familyId: `dead:${hash}`, clientId: '', sessionId: '', principalId: '', scopes: [], createdAt: now, expiresAt: now };
  const outcome = await s.store.refreshTokens.rotate(hash, { tokenHash: await s.tokenDigest(randomToken()), token: tombstone }, now, now - REFRESH_TOKEN_REUSE_GRACE);
  if (outcome.status === 'superseded') throw refuse('refresh_token_superseded', 'rotated moments ago by a concurrent request');
  if (outcome.status === 'reused') throw refuse('refresh_token_reused', 'a rotated refresh token was presented; its family is revoked');
  if (outcome.status === 'rotated') await s.store.refreshTokens.revokeFamily(outcome.previous.familyId, now);
  throw refuse('refresh_token_invalid', 'unknown, expired or revoked');
}

/** Step: the presented refresh token is active and was issued to the authenticated client. */
export async function verifyRefreshToken(presented: string, clientId: string, s: BrokerServices, now: number): Promise<RefreshTokenRecord> {
  // Anything randomToken() could not have produced is refused before it is hashed or looked up.
  if (!isRandomToken(presented)) throw refuse('token_malformed', 'not a broker refresh token');
  // Stored by hash only; the same function that stored it (provider/crypto.ts) finds it.
  const hash = await s.tokenDigest(presented);
  // A token the client's own refresh rotated moments ago is still the client's: within the grace
  // window it is accepted, so a refresh racing this exchange does not turn it into a replay.
  const record = await s.store.refreshTokens.active(hash, now, now - REFRESH_TOKEN_REUSE_GRACE);
  if (!record) return refuseInactive(s, hash, now);
  if (record.clientId !== clientId) throw refuse('refresh_token_client_mismatch', 'issued to another client');
  return record;
}

/**
 * Step: who the refresh token is about. Its session must still be active (a logout or a revoked
 * session mints nothing); the person is re-assembled from the CURRENT principal record, not from
 * what was true when the token was issued; the login facts come from the session.
 */
export async function subjectOfRefreshToken(record: RefreshTokenRecord, s: BrokerServices, now: number): Promise<Subject> {
  const { session, identity } = await personOfActiveSession(record.sessionId, record.principalId, s, now, 'the subject token is invalid');
  return { identity, login: loginFacts(session.authTime, session.acr, session.amr) };
}

/**
 * Step: the exchange stays within the authorization the refresh token was granted for (issue 6
 * §2). Its scopes are what the user delegated at /authorize, in the caller's vocabulary (the app's
 * `oidc.delegated_scopes`); every requested scope, the client's defaults included, must be one of
 * them. Refused whole, never narrowed: the client asked for more than it was given.
 */
export function requireWithinRefreshGrant(translated: readonly ScopeTranslation[], record: RefreshTokenRecord): void {
  const granted = new Set(record.scopes);
  const outside = [...new Set(translated.map((t) => t.from).filter((s) => !granted.has(s)))];
  if (outside.length > 0) throw new InvalidScope('scope_exceeds_subject_grant', 'a requested scope was not granted to the subject token', outside.join(' ').slice(0, 200));
}
