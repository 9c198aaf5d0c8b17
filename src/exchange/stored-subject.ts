import type { GrantRequest } from '../grants/grant.js';
import type { BrokerServices } from '../grants/services.js';
import type { Identity } from '../mapping/resolve.js';
import { personOfActiveSession, type LoginFacts, type Subject } from './subject.js';

/**
 * A subject kept for later (an ID-JAG reference until it is redeemed, a deferral until it
 * completes): enough to decide again then. Web standards only.
 */
export interface StoredSubject {
  identity: Identity;
  login: LoginFacts;
  /** The broker session the subject token rode on (a broker ID token's `sid`, a refresh token's session), re-checked later. */
  sessionId?: string;
}

export function storedSubject(subject: Subject, sessionId: string | undefined): StoredSubject {
  return { identity: subject.identity, login: subject.login, ...(sessionId !== undefined ? { sessionId } : {}) };
}

/**
 * Step: the subject, as of now. A subject that rode on a broker session (a broker ID token, a
 * refresh token) needs that session still active and re-reads the person's current record; a
 * subject from an upstream token keeps what was verified when it was stored.
 */
export async function recheckSubject(stored: StoredSubject, request: GrantRequest, s: BrokerServices, description: string): Promise<Subject> {
  if (stored.sessionId === undefined) return { identity: stored.identity, login: stored.login };
  const { identity } = await personOfActiveSession(stored.sessionId, stored.identity.principalId, s, request.now, description);
  return { identity, login: stored.login };
}
