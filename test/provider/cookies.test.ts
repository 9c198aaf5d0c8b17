import { describe, expect, it } from 'vitest';
import { LOGIN_TRANSACTION_LIFETIME, SESSION_LIFETIME } from '../../src/provider/limits.js';
import { location, startProvider, webAppRequest } from './harness.js';

function cookieNamed(res: Response, name: string): string {
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
  expect(cookie, `Set-Cookie ${name}`).toBeDefined();
  return cookie!;
}

function attributes(cookie: string): string[] {
  return cookie.split('; ').slice(1);
}

describe('cookies on an https issuer', () => {
  it('binding cookie: __Host-, Secure, HttpOnly, SameSite=None (the SAML ACS is a cross-site POST), short-lived', async () => {
    const b = await startProvider();
    const browser = b.browser();
    const start = await browser.get(webAppRequest());
    const binding = cookieNamed(start, '__Host-xaa-login');
    expect(attributes(binding).sort()).toEqual(['HttpOnly', `Max-Age=${LOGIN_TRANSACTION_LIFETIME}`, 'Path=/', 'SameSite=None', 'Secure'].sort());
    const value = binding.split(';')[0]!.split('=')[1]!;
    expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The connection receives its SHA-256, never the value.
    const expected = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value))).toString('hex');
    expect(b.oidc.started[0]!.browserBinding).toBe(expected);

    // A second login in another tab reuses it rather than breaking the first, and refreshes its
    // lifetime: a login started near the cookie's end must not lose its binding mid-way.
    const again = await browser.get(webAppRequest({ state: 'tab-2' }));
    const refreshed = cookieNamed(again, '__Host-xaa-login');
    expect(refreshed.split(';')[0]!.split('=')[1]).toBe(value);
    expect(attributes(refreshed).sort()).toEqual(['HttpOnly', `Max-Age=${LOGIN_TRANSACTION_LIFETIME}`, 'Path=/', 'SameSite=None', 'Secure'].sort());
    expect(b.oidc.started[1]!.browserBinding).toBe(expected);

    const back = await browser.get(`/login/oidc/corp/callback?state=${location(start).searchParams.get('state')}`);
    const session = cookieNamed(back, '__Host-xaa-session');
    expect(attributes(session).sort()).toEqual(['HttpOnly', `Max-Age=${SESSION_LIFETIME}`, 'Path=/', 'SameSite=Lax', 'Secure'].sort());
    const secret = session.split(';')[0]!.split('=')[1]!;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The store knows the session by a digest only.
    const ids = b.db.prepare('SELECT id, record FROM sessions').all() as { id: string; record: string }[];
    expect(ids).toHaveLength(1);
    expect(ids[0]!.id).not.toBe(secret);
    expect(ids[0]!.record).not.toContain(secret);
  });

  it('ignores a session cookie that is not one the broker issued, or that is sent twice', async () => {
    const b = await startProvider();
    const browser = b.browser();
    await browser.get(webAppRequest());
    for (const cookie of ['__Host-xaa-session=forged', `__Host-xaa-session=${'A'.repeat(43)}`]) {
      const res = await b.fetch(webAppRequest({ prompt: 'none' }), { headers: { cookie } });
      expect(location(res).searchParams.get('error')).toBe('login_required');
    }
  });
});

describe('cookies on an http loopback issuer (development)', () => {
  it('plain names, no Secure, SameSite=Lax for both', async () => {
    const b = await startProvider({ issuer: 'http://localhost:8787' });
    const browser = b.browser();
    const start = await browser.get(webAppRequest());
    const binding = cookieNamed(start, 'xaa-login');
    expect(attributes(binding).sort()).toEqual(['HttpOnly', `Max-Age=${LOGIN_TRANSACTION_LIFETIME}`, 'Path=/', 'SameSite=Lax'].sort());
    const back = await browser.get(`/login/oidc/corp/callback?state=${location(start).searchParams.get('state')}`);
    const session = cookieNamed(back, 'xaa-session');
    expect(attributes(session).sort()).toEqual(['HttpOnly', `Max-Age=${SESSION_LIFETIME}`, 'Path=/', 'SameSite=Lax'].sort());
    expect(location(back).searchParams.get('iss')).toBe('http://localhost:8787');
  });
});
