import { describe, expect, it } from 'vitest';
import { ACCESS_TOKEN_LIFETIME, CODE_LIFETIME, SESSION_LIFETIME } from '../../src/provider/limits.js';
import {
  APP_CALLBACK,
  BROKER,
  SPA_CALLBACK,
  authorizePath,
  codeFor,
  decodeJwt,
  lastAudit,
  location,
  loginThroughUpstream,
  pkcePair,
  redeem,
  spa,
  startProvider,
  verifyBrokerJwt,
  webApp,
  webAppRequest,
} from './harness.js';

describe('authorization code flow, confidential client', () => {
  it('logs in upstream, issues a code with state and iss, and redeems it for ID, access and refresh tokens', async () => {
    const b = await startProvider();
    const browser = b.browser();

    const start = await browser.get(webAppRequest());
    const upstream = location(start);
    expect(upstream.href.startsWith('https://idp.test/authorize')).toBe(true);
    expect(b.oidc.started).toHaveLength(1);
    expect(b.oidc.started[0]!.browserBinding).toMatch(/^[0-9a-f]{64}$/);
    expect(b.oidc.started[0]!.continuation!.length).toBeLessThanOrEqual(4096);

    const back = await browser.get(`/login/oidc/corp/callback?state=${upstream.searchParams.get('state')}&code=x`);
    const redirect = location(back);
    expect(redirect.origin + redirect.pathname).toBe(APP_CALLBACK);
    expect(redirect.searchParams.get('state')).toBe('state-1');
    expect(redirect.searchParams.get('iss')).toBe(BROKER);
    const code = redirect.searchParams.get('code')!;
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(lastAudit(b)).toMatchObject({ event: 'login', upstreamIssuer: 'https://idp.test' });

    // The code is stored hashed, never in clear.
    const stored = b.db.prepare('SELECT code_hash, record FROM authorization_codes').all() as { code_hash: string; record: string }[];
    expect(stored).toHaveLength(1);
    expect(stored[0]!.code_hash).not.toBe(code);
    expect(stored[0]!.record).not.toContain(code);
    expect(JSON.parse(stored[0]!.record).expiresAt - b.clock.now).toBe(CODE_LIFETIME);

    const res = await redeem(b, code);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: ACCESS_TOKEN_LIFETIME, scope: 'openid email offline_access' });
    expect(typeof body.refresh_token).toBe('string');

    const id = await verifyBrokerJwt(b, body.id_token as string, webApp.client_id, 'JWT');
    const session = b.db.prepare('SELECT id, expires_at FROM sessions').get() as { id: string; expires_at: number };
    expect(session.expires_at - b.clock.now).toBe(SESSION_LIFETIME);
    expect(id).toMatchObject({
      iss: BROKER,
      aud: webApp.client_id,
      nonce: 'nonce-1',
      auth_time: b.clock.now,
      acr: 'urn:example:mfa',
      amr: ['pwd', 'mfa'],
      sid: session.id,
      email: 'alice@example.com',
      email_verified: true,
    });
    expect(id.exp! - id.iat!).toBe(300);
    expect(id.sub).toMatch(/^[A-Za-z0-9_-]{43}$/); // pairwise in analytics-users
    expect(id).not.toHaveProperty('secret_internal');
    expect(id).not.toHaveProperty('name'); // profile was not requested

    const at = await verifyBrokerJwt(b, body.access_token as string, `${BROKER}/userinfo`, 'at+jwt');
    expect(at).toMatchObject({ sub: id.sub, client_id: webApp.client_id, scope: 'openid email offline_access' });
    expect(at.exp! - at.iat!).toBe(ACCESS_TOKEN_LIFETIME);

    expect(lastAudit(b)).toMatchObject({ event: 'token', grantType: 'authorization_code', clientId: webApp.client_id, jti: id.jti, mapping: expect.stringContaining('analytics-users/pairwise') });

    const userinfo = await b.fetch('/userinfo', { headers: { authorization: `Bearer ${body.access_token}` } });
    expect(userinfo.status).toBe(200);
    expect(await userinfo.json()).toEqual({ sub: id.sub, email: 'alice@example.com', email_verified: true });
  });

  it('reuses the broker session: a second app request logs in no one upstream', async () => {
    const b = await startProvider();
    const browser = b.browser();
    await codeFor(browser, webAppRequest());
    const again = await browser.get(webAppRequest({ state: 'state-2' }));
    expect(location(again).searchParams.get('state')).toBe('state-2');
    expect(location(again).searchParams.get('code')).toBeTruthy();
    expect(b.oidc.started).toHaveLength(1);
  });

  it('accepts the authorization request as a POST form too', async () => {
    const b = await startProvider();
    const browser = b.browser();
    await codeFor(browser, webAppRequest());
    const params = Object.fromEntries(new URL(`${BROKER}${webAppRequest({ state: 'posted' })}`).searchParams);
    const res = await browser.post('/authorize', params);
    expect(res.status).toBe(302);
    expect(location(res).searchParams.get('state')).toBe('posted');
  });

  it('keeps a registered redirect_uri query intact and appends the response', async () => {
    const withQuery = 'https://app.test/cb?tenant=a%20b';
    const b = await startProvider({ clients: [{ ...webApp, redirect_uris: [withQuery] }] });
    const res = await loginThroughUpstream(b.browser(), webAppRequest({ redirect_uri: withQuery }));
    expect(res.headers.get('location')!.startsWith(`${withQuery}&code=`)).toBe(true);
  });

  it('issues no refresh token without offline_access', async () => {
    const b = await startProvider();
    const params = await codeFor(b.browser(), webAppRequest({ scope: 'openid profile' }));
    const body = (await (await redeem(b, params.get('code')!)).json()) as Record<string, unknown>;
    expect(body.refresh_token).toBeUndefined();
    expect(decodeJwt(body.id_token as string)).toMatchObject({ name: 'Alice Example', given_name: 'Alice' });
    expect(b.db.prepare('SELECT count(*) FROM refresh_tokens').pluck().get()).toBe(0);
  });
});

describe('authorization code flow, public client (PKCE)', () => {
  it('redeems with the right code_verifier and no secret', async () => {
    const b = await startProvider();
    const { verifier, challenge } = await pkcePair();
    const params = await codeFor(
      b.browser(),
      authorizePath({ client_id: 'spa', redirect_uri: SPA_CALLBACK, response_type: 'code', scope: 'openid offline_access', state: 's', code_challenge: challenge, code_challenge_method: 'S256' }),
    );
    const res = await b.token({ grant_type: 'authorization_code', code: params.get('code')!, redirect_uri: SPA_CALLBACK, client_id: 'spa', code_verifier: verifier });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    const id = decodeJwt(body.id_token as string);
    expect(id.sub).toBe('todo-user-1001'); // the todo-users table
    expect(id.aud).toBe('spa');
    expect(id).not.toHaveProperty('nonce');
    expect(typeof body.refresh_token).toBe('string');
  });

  it('refuses a wrong verifier, and a missing one (invalid_grant), consuming the code', async () => {
    const b = await startProvider();
    const { challenge } = await pkcePair();
    const request = authorizePath({ client_id: 'spa', redirect_uri: SPA_CALLBACK, response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' });
    const browser = b.browser();
    const first = await codeFor(browser, request);
    const wrong = await b.token({ grant_type: 'authorization_code', code: first.get('code')!, redirect_uri: SPA_CALLBACK, client_id: 'spa', code_verifier: (await pkcePair()).verifier });
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_grant' });
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'pkce_mismatch' });

    const second = location(await browser.get(request)).searchParams;
    const missing = await b.token({ grant_type: 'authorization_code', code: second.get('code')!, redirect_uri: SPA_CALLBACK, client_id: 'spa' });
    expect(await missing.json()).toMatchObject({ error: 'invalid_grant' });
    expect(lastAudit(b)).toMatchObject({ reason: 'pkce_verifier_missing' });
  });

  it('refuses a code_verifier when no challenge was sent (no PKCE downgrade)', async () => {
    const b = await startProvider();
    const params = await codeFor(b.browser(), webAppRequest());
    const res = await redeem(b, params.get('code')!, { code_verifier: (await pkcePair()).verifier });
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    expect(lastAudit(b)).toMatchObject({ reason: 'pkce_verifier_unexpected' });
  });

  it('verifies PKCE for a confidential client that used it', async () => {
    const b = await startProvider();
    const { verifier, challenge } = await pkcePair();
    const params = await codeFor(b.browser(), webAppRequest({ code_challenge: challenge, code_challenge_method: 'S256' }));
    expect((await redeem(b, params.get('code')!, { code_verifier: verifier })).status).toBe(200);
  });
});

describe('the code at the token endpoint', () => {
  it('is single use: a second redemption fails and revokes the refresh tokens the code produced', async () => {
    const b = await startProvider();
    const params = await codeFor(b.browser(), webAppRequest());
    const code = params.get('code')!;
    const first = (await (await redeem(b, code)).json()) as Record<string, string>;

    const second = await redeem(b, code);
    expect(second.status).toBe(400);
    expect(await second.json()).toMatchObject({ error: 'invalid_grant' });
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'code_reused' });

    const refresh = await b.token({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, client_id: webApp.client_id, client_secret: 'wiki-secret-value' });
    expect(await refresh.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('refuses a redirect_uri other than the one the code was issued for', async () => {
    const b = await startProvider();
    const params = await codeFor(b.browser(), webAppRequest());
    const res = await redeem(b, params.get('code')!, { redirect_uri: 'https://app.test/other' });
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    expect(lastAudit(b)).toMatchObject({ reason: 'redirect_uri_mismatch' });
  });

  it('refuses a code issued to another client, and a client that may not use the grant', async () => {
    const b = await startProvider({ clients: [webApp, { ...webApp, client_id: 'basic-agent', token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code'], scopes: ['openid'] }] });
    const basic = { authorization: `Basic ${btoa('basic-agent:basic-secret-value')}` };
    const params = await codeFor(b.browser(), webAppRequest());
    const res = await b.token({ grant_type: 'authorization_code', code: params.get('code')!, redirect_uri: APP_CALLBACK }, basic);
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    expect(lastAudit(b)).toMatchObject({ reason: 'code_client_mismatch', clientId: 'basic-agent' });

    const refresh = await b.token({ grant_type: 'refresh_token', refresh_token: 'A'.repeat(43) }, basic);
    expect(await refresh.json()).toMatchObject({ error: 'unauthorized_client' });
    expect(lastAudit(b)).toMatchObject({ reason: 'grant_type_not_allowed' });

    // A client the token endpoint knows but the provider does not (an ID-JAG-only agent).
    const b2 = await startProvider({ clients: [spa] });
    const p2 = await codeFor(b2.browser(), authorizePath({ client_id: 'spa', redirect_uri: SPA_CALLBACK, response_type: 'code', scope: 'openid', code_challenge: (await pkcePair()).challenge, code_challenge_method: 'S256' }));
    const stranger = await b2.token({ grant_type: 'authorization_code', code: p2.get('code')!, redirect_uri: SPA_CALLBACK, client_id: 'wiki-agent', client_secret: 'wiki-secret-value' });
    expect(await stranger.json()).toMatchObject({ error: 'unauthorized_client' });
    expect(lastAudit(b2)).toMatchObject({ reason: 'not_a_provider_client' });
  });

  it('expires after 60 seconds', async () => {
    const b = await startProvider();
    const params = await codeFor(b.browser(), webAppRequest());
    b.clock.now += CODE_LIFETIME + 1;
    const res = await redeem(b, params.get('code')!);
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    expect(lastAudit(b)).toMatchObject({ reason: 'code_unknown' });
  });

  it('refuses an unknown code without touching the store', async () => {
    const b = await startProvider();
    const res = await redeem(b, 'A'.repeat(43));
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
  });
});
