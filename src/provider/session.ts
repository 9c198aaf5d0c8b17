import type { BrokerServices } from '../grants/services.js';
import type { PrincipalRecord, SessionRecord } from '../store/ports.js';
import type { UpstreamIdentity } from '../identity/types.js';
import { bindingCookie, readCookie, sessionCookie, type CookiePolicy } from './cookies.js';
import { hmac, isRandomToken, randomToken, sameString, sha256Base64url, sha256Hex } from './crypto.js';
import { FORM_LIFETIME, SESSION_LIFETIME } from './limits.js';
import { principalIdOf } from '../mapping/principal.js';

/**
 * The browser's broker session. The cookie holds 256 random bits; the store knows the session by
 * their SHA-256 only, and that digest is also the `sid` apps see, so neither the store nor an app
 * ever holds a value that would open the session.
 */
export interface BrowserSession {
  record: SessionRecord;
  /** The cookie value: the secret forms are bound to. Never logged, never stored. */
  secret: string;
}

export async function currentSession(request: Request, s: BrokerServices, cookies: CookiePolicy, now: number): Promise<BrowserSession | undefined> {
  const secret = readCookie(request.headers.get('cookie'), cookies.sessionName);
  if (!isRandomToken(secret)) return undefined;
  const record = await s.store.sessions.active(await sha256Base64url(secret), now);
  return record ? { record, secret } : undefined;
}

/** Ends a session and every refresh token issued in it. */
export async function endSession(s: BrokerServices, sessionId: string, now: number): Promise<void> {
  await s.store.sessions.revoke(sessionId, now);
  await s.store.refreshTokens.revokeSession(sessionId, now);
}

/** The principal as the upstream just described them: the latest evidence replaces the last. */
export async function recordPrincipal(s: BrokerServices, identity: UpstreamIdentity, now: number): Promise<PrincipalRecord> {
  const principal: PrincipalRecord = {
    id: await principalIdOf(identity.issuer, identity.subject),
    upstreamIssuer: identity.issuer,
    upstreamSubject: identity.subject,
    connectionId: identity.connectionId,
    claims: identity.claims,
    updatedAt: now,
  };
  if (identity.saml) principal.saml = identity.saml;
  await s.store.principals.upsert(principal);
  return principal;
}

/**
 * When a session started now for this login ends: SESSION_LIFETIME, or sooner where the upstream
 * bounds its own session (SAML SessionNotOnOrAfter). Pure.
 */
export function sessionExpiry(identity: UpstreamIdentity, now: number): number {
  return Math.min(now + SESSION_LIFETIME, identity.sessionNotOnOrAfter ?? Infinity);
}

/**
 * A new session for a completed login. The session this browser held before (if any) ends with
 * its refresh tokens: one browser, one session, so a logout later covers everything it obtained.
 * Whatever is issued in the session (refresh, access and ID tokens) ends no later than it does.
 */
export async function startSession(
  s: BrokerServices,
  cookies: CookiePolicy,
  input: { identity: UpstreamIdentity; principal: PrincipalRecord; replaced?: BrowserSession; now: number },
): Promise<{ session: BrowserSession; setCookie: string }> {
  const { identity, now } = input;
  if (input.replaced) await endSession(s, input.replaced.record.id, now);
  const secret = randomToken();
  const record: SessionRecord = {
    id: await sha256Base64url(secret),
    principalId: input.principal.id,
    connectionId: identity.connectionId,
    ...(identity.authTime !== undefined ? { authTime: identity.authTime } : {}),
    amr: identity.amr,
    createdAt: now,
    expiresAt: sessionExpiry(identity, now),
  };
  if (identity.acr !== undefined) record.acr = identity.acr;
  if (identity.sessionIndex !== undefined) record.upstreamSessionIndex = identity.sessionIndex;
  await s.store.sessions.create(record);
  // SAML Single Logout names the session by what the IdP asserted (provider/saml-logout.ts).
  if (identity.protocol === 'saml' && identity.saml) {
    await s.store.samlSessions.link({
      sessionId: record.id,
      connectionId: identity.connectionId,
      nameId: identity.saml.nameId,
      ...(identity.sessionIndex !== undefined ? { sessionIndex: identity.sessionIndex } : {}),
      createdAt: now,
      expiresAt: record.expiresAt,
    });
  }
  return { session: { record, secret }, setCookie: sessionCookie(cookies, secret, record.expiresAt - now) };
}

/**
 * The browser-binding cookie of upstream logins: reused while it lives (several tabs may log in at
 * once), created otherwise, and set again either way: a reused cookie's lifetime restarts, so a
 * login started just before it would have expired still finds it at the callback. Connections
 * receive its SHA-256 hex, never the value.
 */
export async function browserBinding(cookieHeader: string | null, cookies: CookiePolicy): Promise<{ hash: string; setCookie: string }> {
  const existing = readCookie(cookieHeader, cookies.bindingName);
  const value = isRandomToken(existing) ? existing : randomToken();
  return { hash: await sha256Hex(value), setCookie: bindingCookie(cookies, value) };
}

/** The binding a callback presents; empty when the cookie is missing (the connection then refuses). */
export async function presentedBinding(request: Request, cookies: CookiePolicy): Promise<string> {
  const value = readCookie(request.headers.get('cookie'), cookies.bindingName);
  return isRandomToken(value) ? sha256Hex(value) : '';
}

/**
 * A token for the provider's own forms (consent, logout confirmation): HMAC keyed by the session
 * cookie's secret over the purpose, the time and the exact payload the form carries. Only this
 * browser can produce it, only for this payload, and only for FORM_LIFETIME seconds.
 */
export async function formToken(session: BrowserSession, purpose: string, payload: string, now: number): Promise<string> {
  return `${now}.${await hmac(session.secret, `${purpose}\n${now}\n${payload}`)}`;
}

export async function checkFormToken(token: string | undefined, session: BrowserSession, purpose: string, payload: string, now: number): Promise<boolean> {
  const match = token === undefined ? null : /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match) return false;
  const issuedAt = Number(match[1]);
  if (issuedAt > now || now - issuedAt > FORM_LIFETIME) return false;
  return sameString(match[2]!, await hmac(session.secret, `${purpose}\n${issuedAt}\n${payload}`));
}
