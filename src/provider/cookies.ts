import { HOST_PREFIX, LOGIN_BINDING_COOKIE, LOGIN_TRANSACTION_LIFETIME, SESSION_COOKIE } from './limits.js';

/**
 * The provider's two cookies. On an https issuer both carry the `__Host-` prefix (Secure, Path=/,
 * no Domain: no sibling host can set or read them). On an http loopback issuer (local development)
 * browsers would drop Secure cookies, so the plain names are used without it.
 *
 * - The session cookie: HttpOnly, SameSite=Lax (sent on top-level navigations from an app, which
 *   is what /authorize and /logout are; never on cross-site subrequests or POSTs).
 * - The login-binding cookie: short-lived, binds an upstream login transaction to this browser.
 *   SameSite=None on https, since a SAML IdP returns the browser with a cross-site POST to the ACS;
 *   Lax on http loopback, where SameSite=None is not allowed without Secure.
 */
export interface CookiePolicy {
  secure: boolean;
  sessionName: string;
  bindingName: string;
}

export function cookiePolicy(issuer: string): CookiePolicy {
  const secure = new URL(issuer).protocol === 'https:';
  const prefix = secure ? HOST_PREFIX : '';
  return { secure, sessionName: `${prefix}${SESSION_COOKIE}`, bindingName: `${prefix}${LOGIN_BINDING_COOKIE}` };
}

function serialise(name: string, value: string, attributes: string[]): string {
  return [`${name}=${value}`, 'Path=/', ...attributes].join('; ');
}

/** The session cookie lives as long as the session (SESSION_LIFETIME or the upstream's shorter bound). */
export function sessionCookie(policy: CookiePolicy, value: string, maxAge: number): string {
  return serialise(policy.sessionName, value, [`Max-Age=${maxAge}`, ...(policy.secure ? ['Secure'] : []), 'HttpOnly', 'SameSite=Lax']);
}

export function clearedSessionCookie(policy: CookiePolicy): string {
  return serialise(policy.sessionName, '', ['Max-Age=0', ...(policy.secure ? ['Secure'] : []), 'HttpOnly', 'SameSite=Lax']);
}

export function bindingCookie(policy: CookiePolicy, value: string): string {
  const site = policy.secure ? ['Secure', 'HttpOnly', 'SameSite=None'] : ['HttpOnly', 'SameSite=Lax'];
  return serialise(policy.bindingName, value, [`Max-Age=${LOGIN_TRANSACTION_LIFETIME}`, ...site]);
}

/** The value of one cookie in a Cookie header; undefined when absent or given twice (ambiguous). */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  const values = header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`${name}=`))
    .map((part) => part.slice(name.length + 1));
  return values.length === 1 ? values[0] : undefined;
}
