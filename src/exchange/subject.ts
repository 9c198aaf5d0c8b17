import type { BrokerServices } from '../grants/services.js';
import { identityOfPrincipal } from '../mapping/identity.js';
import type { Identity } from '../mapping/resolve.js';
import { authenticationTooOld } from '../policy/question.js';
import { InsufficientUserAuthentication, InvalidGrant } from '../oauth/errors.js';
import type { SessionRecord } from '../store/ports.js';
export { identityOfPrincipal };

/**
 * What every kind of subject token comes down to once verified: who the person is (the principal,
 * as the mapping sees them) and how they logged in (for policy and the claims an ID-JAG carries).
 * Web standards only.
 */

/** How the person authenticated: policy context, and `auth_time`/`acr`/`amr` in the ID-JAG. */
export interface LoginFacts {
  /** Absent when the subject token does not say: unknown, never invented (no max age is then met). */
  authTime?: number;
  acr?: string;
  /** Absent when the subject token says nothing about methods (then the ID-JAG carries no `amr`). */
  amr?: string[];
}

export interface Subject {
  identity: Identity;
  login: LoginFacts;
  /**
   * An identifier the subject token may be used under only once (a SAML assertion ID), recorded
   * just before the ID-JAG is signed: a refused exchange does not burn the token.
   */
  singleUse?: { scope: string; id: string; until: number };
}


/** Login facts from a session record (refresh tokens) or an upstream login (SAML): an empty amr says nothing. */
export function loginFacts(authTime: number | undefined, acr: string | undefined, amr: readonly string[]): LoginFacts {
  return { ...(authTime !== undefined ? { authTime } : {}), ...(acr !== undefined ? { acr } : {}), ...(amr.length > 0 ? { amr: [...amr] } : {}) };
}

/** Login facts an ID token asserts, each only when it has the right type. */
export function loginFactsOfClaims(claims: Readonly<Record<string, unknown>>): LoginFacts {
  const facts: LoginFacts = {};
  if (typeof claims.auth_time === 'number') facts.authTime = claims.auth_time;
  if (typeof claims.acr === 'string') facts.acr = claims.acr;
  if (Array.isArray(claims.amr)) facts.amr = claims.amr.filter((a): a is string => typeof a === 'string');
  return facts;
}

/**
 * Step: a destination's `max_auth_age` (seconds). A login older than that, or whose time is unknown,
 * is refused with insufficient_user_authentication and the RFC 9470 `max_age` hint: the client sends
 * the user to log in again and retries. Pure; the clock is passed in.
 */
export function requireRecentAuthentication(login: LoginFacts, maxAuthAge: number | undefined, now: number): void {
  const tooOld = authenticationTooOld(login.authTime, maxAuthAge, now);
  if (tooOld !== undefined) throw new InsufficientUserAuthentication('authentication_too_old', 'the user must authenticate again', { max_age: maxAuthAge! }, tooOld);
}

/**
 * Step: the person behind a broker session that must still be active and still name them (a
 * refresh token, a reference issued from one), re-read from their current principal record.
 * `description` is what the caller's refusals say on the wire.
 */
export async function personOfActiveSession(
  sessionId: string,
  principalId: string,
  s: BrokerServices,
  now: number,
  description: string,
): Promise<{ session: SessionRecord; identity: Identity }> {
  const session = await s.store.sessions.active(sessionId, now);
  if (!session) throw new InvalidGrant('session_ended', description);
  if (session.principalId !== principalId) throw new InvalidGrant('principal_missing', description, 'the session names another principal');
  const principal = await s.store.principals.get(principalId);
  if (!principal) throw new InvalidGrant('principal_missing', description, 'no principal record for the session');
  return { session, identity: identityOfPrincipal(principal, s.trust) };
}
