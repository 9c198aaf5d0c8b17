import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { ID_TOKEN_LIFETIME } from '../../src/provider/limits.js';
import { APP_LOGOUT, SECRET, codeFor, decodeJwt, lastAudit, location, providerState, redeem, startProvider, webApp, webAppRequest, type Browser, type ProviderBroker } from './harness.js';

async function signedIn(b: ProviderBroker) {
  const browser = b.browser();
  const params = await codeFor(browser, webAppRequest());
  const tokens = (await (await redeem(b, params.get('code')!)).json()) as Record<string, string>;
  return { browser, tokens };
}

function logoutPath(params: Record<string, string>) {
  return `/logout?${new URLSearchParams(params)}`;
}

async function isLoggedIn(browser: Browser): Promise<boolean> {
  const res = await browser.get(webAppRequest({ prompt: 'none' }));
  return location(res).searchParams.has('code');
}

function hiddenFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[m[1]!] = m[2]!.replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'");
  return fields;
}

describe('RP-initiated logout', () => {
  it('with a valid id_token_hint and a registered post_logout_redirect_uri: logs out at once, redirects with state', async () => {
    const b = await startProvider();
    const { browser, tokens } = await signedIn(b);
    const res = await browser.get(logoutPath({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: APP_LOGOUT, state: 'bye-1' }));
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`${APP_LOGOUT}?state=bye-1`);
    const cleared = res.headers.getSetCookie().find((c) => c.startsWith('__Host-xaa-session='))!;
    expect(cleared).toContain('Max-Age=0');
    expect(lastAudit(b)).toMatchObject({ event: 'logout', clientId: webApp.client_id, detail: expect.stringContaining(`sid=${decodeJwt(tokens.id_token!).sid}`) });

    const refresh = await b.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: webApp.client_id, client_secret: SECRET });
    expect(await refresh.json()).toMatchObject({ error: 'invalid_grant' });
    expect(b.db.prepare('SELECT count(*) FROM sessions WHERE revoked_at IS NULL').pluck().get()).toBe(0);
    expect(await isLoggedIn(browser)).toBe(false);
  });

  it('accepts an expired id_token_hint', async () => {
    const b = await startProvider();
    const { browser, tokens } = await signedIn(b);
    b.clock.now += ID_TOKEN_LIFETIME * 10;
    const res = await browser.get(logoutPath({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: APP_LOGOUT }));
    expect(res.headers.get('location')).toBe(APP_LOGOUT);
  });

  it('an unregistered post_logout_redirect_uri: refused on a page, nothing logged out, nowhere redirected', async () => {
    const b = await startProvider();
    const { browser, tokens } = await signedIn(b);
    const before = providerState(b);
    const res = await browser.get(logoutPath({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://evil.test/', state: 'x' }));
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'post_logout_redirect_uri_unregistered' });
    expect(providerState(b).tables).toEqual(before.tables);
    expect(await isLoggedIn(browser)).toBe(true);
  });

  it('a post_logout_redirect_uri with no way to tell the client is refused', async () => {
    const b = await startProvider();
    const { browser } = await signedIn(b);
    const res = await browser.get(logoutPath({ post_logout_redirect_uri: APP_LOGOUT }));
    expect(res.status).toBe(400);
    expect(lastAudit(b)).toMatchObject({ reason: 'post_logout_redirect_uri_unregistered', detail: 'no client identified' });
  });

  it('an id_token_hint the broker did not sign, or that is not an ID token, is refused', async () => {
    const b = await startProvider();
    const { browser, tokens } = await signedIn(b);
    const key = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])).privateKey;
    const forged = await new SignJWT(decodeJwt(tokens.id_token!)).setProtectedHeader({ alg: 'ES256', typ: 'JWT' }).sign(key);
    for (const hint of [forged, tokens.access_token!, 'garbage']) {
      const res = await browser.get(logoutPath({ id_token_hint: hint, post_logout_redirect_uri: APP_LOGOUT }));
      expect(res.status).toBe(400);
      expect(lastAudit(b)).toMatchObject({ reason: 'id_token_hint_invalid' });
    }
    expect(await isLoggedIn(browser)).toBe(true);
  });

  it('a client_id that differs from the hint\'s audience is refused', async () => {
    const b = await startProvider();
    const { browser, tokens } = await signedIn(b);
    const res = await browser.get(logoutPath({ id_token_hint: tokens.id_token!, client_id: 'spa' }));
    expect(res.status).toBe(400);
    expect(lastAudit(b)).toMatchObject({ reason: 'logout_client_mismatch' });
  });

  it('without a hint the user confirms on a form bound to the session (no cross-site logout)', async () => {
    const b = await startProvider();
    const { browser, tokens } = await signedIn(b);
    const page = await browser.get(logoutPath({ client_id: webApp.client_id, post_logout_redirect_uri: APP_LOGOUT, state: 's' }));
    expect(page.status).toBe(200);
    expect(await isLoggedIn(browser)).toBe(true);
    const fields = hiddenFields(await page.text());
    expect(fields.logout_token).toBeTruthy();

    // The form cannot be replayed by another browser, nor altered.
    const other = b.browser();
    await codeFor(other, webAppRequest());
    const foreign = await other.post('/logout', fields);
    expect(foreign.status).toBe(200); // just the confirmation again
    expect(await isLoggedIn(browser)).toBe(true);
    const altered = await browser.post('/logout', { ...fields, state: 'other' });
    expect(altered.status).toBe(200);
    expect(await isLoggedIn(browser)).toBe(true);

    const res = await browser.post('/logout', fields);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${APP_LOGOUT}?state=s`);
    expect(await isLoggedIn(browser)).toBe(false);
    const refresh = await b.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: webApp.client_id, client_secret: SECRET });
    expect(await refresh.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('a hint from an older session also asks for confirmation', async () => {
    const b = await startProvider();
    const { browser, tokens } = await signedIn(b);
    await browser.get(logoutPath({ id_token_hint: tokens.id_token! }));
    await codeFor(browser, webAppRequest());
    const res = await browser.get(logoutPath({ id_token_hint: tokens.id_token! }));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Sign out of the broker?');
    expect(await isLoggedIn(browser)).toBe(true);
  });

  it('a cross-site POST (no cookie) is re-posted from the broker, where the session is visible', async () => {
    const b = await startProvider();
    const { browser, tokens } = await signedIn(b);
    const crossSite = await b.fetch('/logout', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: APP_LOGOUT }).toString(),
    });
    expect(crossSite.status).toBe(200);
    const fields = hiddenFields(await crossSite.text());
    expect(fields.from_broker).toBe('1');
    const res = await browser.post('/logout', fields);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(APP_LOGOUT);
    expect(await isLoggedIn(browser)).toBe(false);
  });

  it('without any session: straight back to the app (or a plain page), nothing to revoke', async () => {
    const b = await startProvider();
    const { tokens } = await signedIn(b);
    const stranger = b.browser();
    const res = await stranger.get(logoutPath({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: APP_LOGOUT }));
    expect(res.headers.get('location')).toBe(APP_LOGOUT);
    const page = await stranger.get('/logout');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('You are signed out');
    expect(b.db.prepare('SELECT count(*) FROM sessions WHERE revoked_at IS NULL').pluck().get()).toBe(1);
  });
});
