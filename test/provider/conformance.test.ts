/**
 * The OP against the letter of the specifications (OIDC Core 1.0, RFC 6749, RFC 7009, RFC 9700):
 * one test per rule found broken by the conformance audit, black-box through the app.
 */
import { describe, expect, it } from 'vitest';
import { aliceIdentity } from './fake-upstream.js';
import { APP_CALLBACK, BROKER, CONSENT_CALLBACK, SECRET, authorizePath, codeFor, decodeJwt, lastAudit, refusedAnonymously, location, postForm, redeem, signedIn, startProvider, webApp, webAppRequest, type ProviderBroker } from './harness.js';

const asWebApp = { client_id: webApp.client_id, client_secret: SECRET };
const userinfo = (b: ProviderBroker, accessToken: string) => b.fetch('/userinfo', { headers: { authorization: `Bearer ${accessToken}` } });
const introspect = (b: ProviderBroker, token: string) => postForm(b, '/introspect', { token, ...asWebApp });

describe('RFC 6749 §3.1: unrecognised parameters are ignored', () => {
  it('a repeated parameter the OP does not recognise (RFC 8707 allows several `resource`) does not fail the request', async () => {
    const b = await startProvider();
    const params = await codeFor(b.browser(), `${webAppRequest()}&resource=https%3A%2F%2Fa.test%2F&resource=https%3A%2F%2Fb.test%2F`);
    expect(params.get('error')).toBeNull();
    expect(params.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.get('state')).toBe('state-1');
    expect(params.get('iss')).toBe(BROKER);
  });

  it('a repeated parameter the OP does recognise is still invalid_request', async () => {
    const b = await startProvider();
    const res = await b.browser().get(`${webAppRequest()}&nonce=again`);
    const to = location(res);
    expect(to.origin + to.pathname).toBe(APP_CALLBACK);
    expect(to.searchParams.get('error')).toBe('invalid_request');
  });
});

describe('RFC 6749 §4.1.2: a replayed code revokes what it was redeemed for', () => {
  it('the access token issued from the code is refused at /userinfo and inactive at /introspect once the code is replayed', async () => {
    const b = await startProvider();
    const code = (await codeFor(b.browser(), webAppRequest({ scope: 'openid email' }))).get('code')!;
    const first = (await (await redeem(b, code)).json()) as Record<string, string>;
    expect((await userinfo(b, first.access_token!)).status).toBe(200);

    expect((await redeem(b, code)).status).toBe(400);
    const res = await userinfo(b, first.access_token!);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(await (await introspect(b, first.access_token!)).json()).toEqual({ active: false });
  });

  it('tokens of another grant of the same login are untouched', async () => {
    const b = await startProvider();
    const browser = b.browser();
    const other = (await (await redeem(b, (await codeFor(browser, webAppRequest())).get('code')!)).json()) as Record<string, string>;
    const replayed = location(await browser.get(webAppRequest())).searchParams.get('code')!;
    expect((await redeem(b, replayed)).status).toBe(200);
    expect((await redeem(b, replayed)).status).toBe(400);
    expect((await userinfo(b, other.access_token!)).status).toBe(200);
  });
});

describe('RFC 7009 §2.1: revoking a refresh token invalidates the access tokens of the same grant', () => {
  it('the access tokens issued with the refresh token, and with its rotations, are refused afterwards', async () => {
    const b = await startProvider();
    const first = await signedIn(b);
    const rotated = (await (await b.token({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, ...asWebApp })).json()) as Record<string, string>;
    const res = await postForm(b, '/revoke', { token: rotated.refresh_token!, token_type_hint: 'refresh_token', ...asWebApp });
    expect(res.status).toBe(200);
    for (const accessToken of [first.access_token!, rotated.access_token!]) {
      expect((await userinfo(b, accessToken)).status).toBe(401);
      expect(await (await introspect(b, accessToken)).json()).toEqual({ active: false });
    }
  });
});

describe('OIDC Core §3.1.2.1: id_token_hint', () => {
  const bob = (now: number) => ({ ...aliceIdentity('corp', now), subject: 'bob', claims: { sub: 'bob', email: 'bob@example.com', email_verified: true } });

  it('prompt=none with the hint of the person logged in answers with a code', async () => {
    const b = await startProvider();
    const browser = b.browser();
    const tokens = (await (await redeem(b, (await codeFor(browser, webAppRequest())).get('code')!)).json()) as Record<string, string>;
    b.clock.now += 3600; // an expired ID token is still a hint
    const to = location(await browser.get(webAppRequest({ prompt: 'none', id_token_hint: tokens.id_token! })));
    expect(to.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('prompt=none with the hint of someone else than the person logged in → login_required, no code', async () => {
    const b = await startProvider();
    const alice = (await (await redeem(b, (await codeFor(b.browser(), webAppRequest())).get('code')!)).json()) as Record<string, string>;
    b.oidc.identity = bob;
    const browser = b.browser();
    await codeFor(browser, webAppRequest());
    const to = location(await browser.get(webAppRequest({ prompt: 'none', id_token_hint: alice.id_token!, state: 'silent' })));
    expect(to.origin + to.pathname).toBe(APP_CALLBACK);
    expect(to.searchParams.get('error')).toBe('login_required');
    expect(to.searchParams.get('state')).toBe('silent');
    expect(to.searchParams.get('iss')).toBe(BROKER);
    expect(to.searchParams.has('code')).toBe(false);
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'id_token_hint_mismatch' });

    // Without prompt=none, the person the hint names may log in: the browser goes upstream.
    const interactive = location(await browser.get(webAppRequest({ id_token_hint: alice.id_token! })));
    expect(interactive.origin + interactive.pathname).toBe('https://idp.test/authorize');
  });

  it('a hint that is not an ID token the broker issued to this client → invalid_request', async () => {
    const b = await startProvider();
    const browser = b.browser();
    const tokens = (await (await redeem(b, (await codeFor(browser, webAppRequest())).get('code')!)).json()) as Record<string, string>;
    for (const hint of ['not-a-jwt', tokens.access_token!]) {
      const to = location(await browser.get(webAppRequest({ prompt: 'none', id_token_hint: hint })));
      expect(to.searchParams.get('error')).toBe('invalid_request');
      expect(to.searchParams.has('code')).toBe(false);
      expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'id_token_hint_invalid' });
    }
  });
});

describe('OIDC Core §15.1: parameters every OP must accept without an error', () => {
  it('display, ui_locales, claims_locales and acr_values are accepted (and may be ignored): the code is issued', async () => {
    const b = await startProvider();
    const browser = b.browser();
    await codeFor(browser, webAppRequest());
    const to = location(await browser.get(webAppRequest({ display: 'popup', ui_locales: 'fr-CA fr en', claims_locales: 'de', acr_values: 'urn:example:mfa urn:example:pwd', state: 'mti' })));
    expect(to.origin + to.pathname).toBe(APP_CALLBACK);
    expect(to.searchParams.get('error')).toBeNull();
    expect(to.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(to.searchParams.get('state')).toBe('mti');
  });
});

describe('RFC 6749 §4.1.2.1, §5.2: error_description uses only %x20-21 / %x23-5B / %x5D-7E (no quote, no backslash)', () => {
  const LEGAL = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/;

  it('in an authorization error redirect', async () => {
    const b = await startProvider();
    const to = location(await b.browser().get(`${webAppRequest()}&nonce=again`));
    expect(to.searchParams.get('error')).toBe('invalid_request');
    expect(to.searchParams.get('error_description')).toMatch(LEGAL);
  });

  it('in a token endpoint error response', async () => {
    const b = await startProvider();
    const form = new URLSearchParams({ grant_type: 'authorization_code', redirect_uri: APP_CALLBACK, ...asWebApp }).toString();
    // A parameter missing, then one repeated.
    for (const sent of [form, `${form}&code=a&code=b`]) {
      const res = await b.fetch('/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: sent });
      expect(res.status).toBe(400);
      const body = (await res.json()) as Record<string, string>;
      expect(body.error).toBe('invalid_request');
      expect(body.error_description).toMatch(LEGAL);
    }
  });
});

describe('OIDC Core §3.1.2.1 max_age: the ID token then MUST carry auth_time', () => {
  it('a session young enough answers, and the ID token says when that login was', async () => {
    const b = await startProvider();
    const browser = b.browser();
    const loggedInAt = b.clock.now;
    await codeFor(browser, webAppRequest());
    b.clock.now += 120;
    const code = location(await browser.get(webAppRequest({ max_age: '300' }))).searchParams.get('code')!;
    const tokens = (await (await redeem(b, code)).json()) as Record<string, string>;
    expect(decodeJwt(tokens.id_token!).auth_time).toBe(loggedInAt);
  });
});

describe('OIDC Core §3.1.2.1 scope: values the OP does not understand SHOULD be ignored', () => {
  it('a scope the broker knows nothing of is dropped, the rest granted, and the token response says what was granted', async () => {
    const b = await startProvider();
    const params = await codeFor(b.browser(), webAppRequest({ scope: 'openid phone email address' }));
    expect(params.get('error')).toBeNull();
    const tokens = (await (await redeem(b, params.get('code')!)).json()) as Record<string, string>;
    expect(tokens.scope).toBe('openid email');
  });

  it('a scope the broker understands but this client may not have is still invalid_scope (no silent narrowing)', async () => {
    const b = await startProvider();
    const path = authorizePath({ client_id: 'basic-agent', redirect_uri: CONSENT_CALLBACK, response_type: 'code', scope: 'openid offline_access', state: 's' });
    const to = location(await refusedAnonymously(b, 'scope_not_permitted_for_client', () => b.browser().get(path)));
    expect(to.origin + to.pathname).toBe(CONSENT_CALLBACK);
    expect(to.searchParams.get('error')).toBe('invalid_scope');
  });
});
