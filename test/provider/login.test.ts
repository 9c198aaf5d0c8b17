import { describe, expect, it } from 'vitest';
import { FakeLoginFailure, FakeOidcUpstream, FakeSamlUpstream, SAML_SSO, aliceIdentity } from './fake-upstream.js';
import { APP_CALLBACK, BROKER, codeFor, decodeJwt, lastAudit, lastRefusal, location, loginThroughUpstream, providerState, redeem, startProvider, webAppRequest } from './harness.js';

describe('prompt and max_age', () => {
  it('prompt=none with a session answers without any upstream login', async () => {
    const b = await startProvider();
    const browser = b.browser();
    await codeFor(browser, webAppRequest());
    const res = await browser.get(webAppRequest({ prompt: 'none', state: 'silent' }));
    const to = location(res);
    expect(to.searchParams.get('code')).toBeTruthy();
    expect(to.searchParams.get('state')).toBe('silent');
    expect(b.oidc.started).toHaveLength(1);
  });

  it('prompt=login sends the browser upstream again (asking the upstream to re-authenticate) and replaces the session', async () => {
    const b = await startProvider();
    const browser = b.browser();
    const first = await codeFor(browser, webAppRequest());
    const firstTokens = (await (await redeem(b, first.get('code')!)).json()) as Record<string, string>;
    b.clock.now += 100;
    const res = await loginThroughUpstream(browser, webAppRequest({ prompt: 'login' }));
    expect(b.oidc.started).toHaveLength(2);
    expect(b.oidc.started[1]!.prompt).toBe('login');
    const second = location(res).searchParams;
    const tokens = (await (await redeem(b, second.get('code')!)).json()) as Record<string, string>;
    const id = decodeJwt(tokens.id_token!);
    expect(id.auth_time).toBe(b.clock.now);
    expect(id.sid).not.toBe(decodeJwt(firstTokens.id_token!).sid);
    // One browser, one session: the replaced session's refresh tokens ended with it.
    const old = await b.token({ grant_type: 'refresh_token', refresh_token: firstTokens.refresh_token!, client_id: 'wiki-agent', client_secret: 'wiki-secret-value' });
    expect(await old.json()).toMatchObject({ error: 'invalid_grant' });
    expect(lastAudit(b)).toMatchObject({ reason: 'refresh_token_invalid' });
  });

  it('max_age: a session older than it means a new login (max_age passed upstream); a younger one does not', async () => {
    const b = await startProvider();
    const browser = b.browser();
    await codeFor(browser, webAppRequest());
    b.clock.now += 120;
    const fresh = await browser.get(webAppRequest({ max_age: '300' }));
    expect(location(fresh).searchParams.get('code')).toBeTruthy();
    expect(b.oidc.started).toHaveLength(1);

    const stale = await browser.get(webAppRequest({ max_age: '60' }));
    expect(location(stale).origin).toBe('https://idp.test');
    expect(b.oidc.started[1]!.maxAge).toBe(60);
  });

  it('max_age=0 asks the upstream to re-authenticate', async () => {
    const b = await startProvider();
    const browser = b.browser();
    await codeFor(browser, webAppRequest());
    b.clock.now += 1;
    const res = await loginThroughUpstream(browser, webAppRequest({ max_age: '0' }));
    expect(b.oidc.started[1]).toMatchObject({ prompt: 'login', maxAge: 0 });
    const id = decodeJwt(((await (await redeem(b, location(res).searchParams.get('code')!)).json()) as Record<string, string>).id_token!);
    expect(id.auth_time).toBe(b.clock.now);
  });

  it('prompt=none with max_age exceeded → login_required', async () => {
    const b = await startProvider();
    const browser = b.browser();
    await codeFor(browser, webAppRequest());
    b.clock.now += 120;
    const res = await browser.get(webAppRequest({ prompt: 'none', max_age: '60' }));
    expect(location(res).searchParams.get('error')).toBe('login_required');
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'login_required', detail: 'max_age exceeded' });
  });

  it('login_hint reaches the upstream', async () => {
    const b = await startProvider();
    await b.browser().get(webAppRequest({ login_hint: 'alice@example.com' }));
    expect(b.oidc.started[0]!.loginHint).toBe('alice@example.com');
  });
});

describe('IdP discovery', () => {
  const twoConnections = (clock: () => number) => [
    new FakeOidcUpstream('corp', clock, { displayName: 'Corp <SSO>', emailDomains: ['example.com'] }),
    new FakeOidcUpstream('labs', clock, { displayName: 'Labs', emailDomains: ['labs.test'] }),
  ];

  it('login_hint chooses the connection by email domain', async () => {
    const b = await startProvider({ connections: twoConnections });
    const labs = b.registry.get('labs') as FakeOidcUpstream;
    const res = await b.browser().get(webAppRequest({ login_hint: 'carol@labs.test' }));
    expect(location(res).origin).toBe('https://idp.test');
    expect(labs.started).toHaveLength(1);
  });

  it('without a hint the user chooses; each choice restarts /authorize with `connection`', async () => {
    const b = await startProvider({ connections: twoConnections });
    const browser = b.browser();
    const before = providerState(b);
    const res = await browser.get(webAppRequest());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const html = await res.text();
    expect(html).toContain('Corp &lt;SSO&gt;');
    expect(providerState(b)).toEqual(before);
    const links = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replaceAll('&amp;', '&'));
    expect(links).toHaveLength(2);
    const labsLink = links.find((l) => l.includes('connection=labs'))!;
    expect(labsLink.startsWith('/authorize?')).toBe(true);
    const next = await browser.get(labsLink);
    expect(location(next).origin).toBe('https://idp.test');
    expect((b.registry.get('labs') as FakeOidcUpstream).started).toHaveLength(1);
  });

  it('prompt=select_account shows the chooser even with a session', async () => {
    const b = await startProvider({ connections: twoConnections });
    const browser = b.browser();
    const corp = b.registry.get('corp') as FakeOidcUpstream;
    const start = await browser.get(webAppRequest({ connection: 'corp' }));
    await browser.get(`/login/oidc/corp/callback?state=${location(start).searchParams.get('state')}`);
    const res = await browser.get(webAppRequest({ prompt: 'select_account' }));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('connection=corp');
    expect(corp.started).toHaveLength(1);
  });

  it('a session from another connection does not answer a request naming a connection', async () => {
    const b = await startProvider({ connections: twoConnections });
    const browser = b.browser();
    const start = await browser.get(webAppRequest({ connection: 'corp' }));
    await browser.get(`/login/oidc/corp/callback?state=${location(start).searchParams.get('state')}`);
    const res = await browser.get(webAppRequest({ connection: 'labs', prompt: 'none' }));
    expect(location(res).searchParams.get('error')).toBe('login_required');
  });
});

describe('upstream login failures', () => {
  it('the upstream refused the login (access_denied): the app is told at its redirect URI with its state and iss (OIDC Core §3.1.2.6), counted in the refusal summary, nothing stored', async () => {
    const b = await startProvider();
    const browser = b.browser();
    const start = await browser.get(webAppRequest());
    const state = location(start).searchParams.get('state')!;
    const before = providerState(b);
    const res = await browser.get(`/login/oidc/corp/callback?state=${state}&error=access_denied`);
    expect(res.status).toBe(302);
    const answer = location(res);
    expect(answer.origin + answer.pathname).toBe(APP_CALLBACK);
    expect(Object.fromEntries(answer.searchParams)).toEqual({ error: 'access_denied', error_description: 'the identity provider did not complete the sign-in', state: 'state-1', iss: b.issuer });
    // No user was established: the refusal is counted, not written one record each (docs/operations.md).
    expect(providerState(b).auditCount).toBe(before.auditCount);
    const audit = await lastRefusal(b);
    expect(audit).toMatchObject({ event: 'refusal_summary', endpoint: '/login/oidc/:id/callback', reason: 'upstream_refused', count: 1 });
    const after = providerState(b);
    expect(after.tables).toEqual(before.tables);
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  it.each([
    ['login_required', 'login_required'],
    ['interaction_required', 'interaction_required'],
    ['consent_required', 'consent_required'],
    ['account_selection_required', 'account_selection_required'],
    ['temporarily_unavailable', 'temporarily_unavailable'],
    ['invalid_request', 'server_error'],
    ['made_up_code', 'server_error'],
  ])('the upstream answered %s: the app gets %s', async (upstream, expected) => {
    const b = await startProvider();
    const browser = b.browser();
    const state = location(await browser.get(webAppRequest())).searchParams.get('state')!;
    const res = await browser.get(`/login/oidc/corp/callback?state=${state}&error=${upstream}`);
    expect(location(res).searchParams.get('error')).toBe(expected);
    expect(location(res).searchParams.get('state')).toBe('state-1');
  });

  it('a refusal that is not the upstream\'s own answer (the ID token failed a check) stays a plain page with a correlation id', async () => {
    const b = await startProvider();
    const browser = b.browser();
    const state = location(await browser.get(webAppRequest())).searchParams.get('state')!;
    b.oidc.identity = () => {
      throw new FakeLoginFailure('corp', 'nonce_mismatch');
    };
    const res = await browser.get(`/login/oidc/corp/callback?state=${state}&code=upstream-code`);
    expect(res.status).toBe(400);
    const html = await res.text();
    const audit = await lastRefusal(b);
    expect(audit).toMatchObject({ event: 'refusal_summary', reason: 'login_failed', detail: 'connection=corp reason=nonce_mismatch' });
    expect(html).toContain(audit.requestId as string);
    expect(html).not.toContain('nonce_mismatch');
  });

  it('a callback from another browser (no binding cookie) is refused', async () => {
    const b = await startProvider();
    const start = await b.browser().get(webAppRequest());
    const res = await b.browser().get(`/login/oidc/corp/callback?state=${location(start).searchParams.get('state')}`);
    expect(res.status).toBe(400);
    expect(await lastRefusal(b)).toMatchObject({ event: 'refusal_summary', reason: 'login_failed', detail: 'connection=corp reason=browser_mismatch' });
    expect(b.db.prepare('SELECT count(*) FROM sessions').pluck().get()).toBe(0);
  });

  it('a continuation the broker did not produce fails the login, storing nothing', async () => {
    const b = await startProvider();
    const browser = b.browser();
    const start = await browser.get(webAppRequest());
    const state = location(start).searchParams.get('state')!;
    b.oidc.transactions.get(state)!.continuation = '{"v":2}';
    const before = providerState(b);
    const res = await browser.get(`/login/oidc/corp/callback?state=${state}`);
    expect(res.status).toBe(400);
    // The upstream login itself succeeded: a user is involved, so this is a record of its own.
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'continuation_invalid' });
    expect(providerState(b).tables).toEqual(before.tables);
  });

  it('a callback for an unknown connection, or the wrong protocol', async () => {
    const b = await startProvider();
    expect((await b.browser().get('/login/oidc/nope/callback?state=x')).status).toBe(404);
    expect(await lastRefusal(b)).toMatchObject({ event: 'refusal_summary', reason: 'connection_unknown', detail: 'connection=nope' });
    expect((await b.browser().post('/login/saml/corp/acs', { SAMLResponse: 'ok' })).status).toBe(404);
    expect((await b.fetch('/login/saml/corp/metadata')).status).toBe(404);
  });

  it('an identity the client cannot name is refused to the client (access_denied), after the login itself succeeded', async () => {
    const b = await startProvider();
    b.oidc.identity = (now) => ({ ...aliceIdentity('corp', now), subject: 'mallory' });
    const res = await loginThroughUpstream(b.browser(), `/authorize?${new URLSearchParams({ client_id: 'spa', redirect_uri: 'https://spa.test/cb', response_type: 'code', scope: 'openid', state: 'k', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' })}`);
    const to = location(res);
    expect(to.searchParams.get('error')).toBe('access_denied');
    expect(to.searchParams.get('state')).toBe('k');
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'mapping_missing', clientId: 'spa' });
    expect(b.db.prepare('SELECT count(*) FROM authorization_codes').pluck().get()).toBe(0);
  });
});

describe('SAML upstream routes', () => {
  const withSaml = (clock: () => number) => [new FakeSamlUpstream('legacy', clock)];

  it('SP-initiated: redirect to the IdP, ACS post resumes the authorization (303)', async () => {
    const b = await startProvider({ connections: withSaml });
    const browser = b.browser();
    const start = await browser.get(webAppRequest());
    const to = location(start);
    expect(to.origin + to.pathname).toBe(SAML_SSO);
    const res = await browser.post('/login/saml/legacy/acs', { SAMLResponse: 'ok', RelayState: to.searchParams.get('RelayState')! });
    expect(res.status).toBe(303);
    const back = location(res);
    expect(back.origin + back.pathname).toBe(APP_CALLBACK);
    expect(back.searchParams.get('iss')).toBe(BROKER);
    const tokens = (await (await redeem(b, back.searchParams.get('code')!)).json()) as Record<string, string>;
    expect(decodeJwt(tokens.id_token!)).toMatchObject({ amr: ['pwd'] });
    const principal = JSON.parse(b.db.prepare('SELECT record FROM principals').pluck().get() as string);
    expect(principal).toMatchObject({ upstreamIssuer: 'https://saml-idp.test/metadata', upstreamSubject: 'alice-persistent-id', connectionId: 'legacy', saml: { assertionId: '_a1' } });
  });

  it('prompt=login and max_age become ForceAuthn at the SAML IdP; a plain request does not', async () => {
    const b = await startProvider({ connections: withSaml });
    const saml = b.registry.get('legacy') as FakeSamlUpstream;
    await b.browser().get(webAppRequest());
    expect(saml.lastStart?.forceAuthn).toBeUndefined();
    await b.browser().get(webAppRequest({ prompt: 'login' }));
    expect(saml.lastStart?.forceAuthn).toBe(true);
    await b.browser().get(webAppRequest({ max_age: '60' }));
    expect(saml.lastStart?.forceAuthn).toBe(true);
  });

  it('a SAML re-login ends the session it started from, even though the ACS POST carries no (Lax) session cookie', async () => {
    const b = await startProvider({ connections: withSaml });
    const browser = b.browser();
    const login = async (extra: Record<string, string> = {}) => {
      const to = location(await browser.get(webAppRequest(extra)));
      return browser.post('/login/saml/legacy/acs', { SAMLResponse: 'ok', RelayState: to.searchParams.get('RelayState')! });
    };
    expect((await login()).status).toBe(303);
    const first = b.db.prepare('SELECT id FROM sessions').pluck().get() as string;
    // The browser starts a new login with its session, but the IdP's cross-site POST drops the Lax cookie.
    const to = location(await browser.get(webAppRequest({ prompt: 'login' })));
    for (const name of [...browser.cookies.keys()]) if (name.includes('session')) browser.cookies.delete(name);
    expect((await browser.post('/login/saml/legacy/acs', { SAMLResponse: 'ok', RelayState: to.searchParams.get('RelayState')! })).status).toBe(303);
    const rows = b.db.prepare('SELECT id, revoked_at FROM sessions ORDER BY created_at, rowid').all() as Array<{ id: string; revoked_at: number | null }>;
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.id === first)!.revoked_at).not.toBeNull();
    expect(rows.find((r) => r.id !== first)!.revoked_at).toBeNull();
  });

  it('a refused SAML response: page and audited reason code', async () => {
    const b = await startProvider({ connections: withSaml });
    const browser = b.browser();
    await browser.get(webAppRequest());
    const res = await browser.post('/login/saml/legacy/acs', { SAMLResponse: 'forged' });
    expect(res.status).toBe(400);
    expect(await lastRefusal(b)).toMatchObject({ event: 'refusal_summary', endpoint: '/login/saml/:id/acs', reason: 'login_failed', detail: 'connection=legacy reason=signature_missing detail=no signature' });
  });

  it('IdP-initiated (where the connection allows it): a session and a plain page, no app to resume', async () => {
    const b = await startProvider({ connections: withSaml });
    (b.registry.get('legacy') as FakeSamlUpstream).allowIdpInitiated = true;
    const browser = b.browser();
    const res = await browser.post('/login/saml/legacy/acs', { SAMLResponse: 'ok' });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('You are signed in');
    expect(b.db.prepare('SELECT count(*) FROM sessions').pluck().get()).toBe(1);
    const silent = await browser.get(webAppRequest({ prompt: 'none' }));
    expect(location(silent).searchParams.get('code')).toBeTruthy();
  });

  it('an HTTP-POST AuthnRequest is an auto-submitting form allowed by a per-response script nonce', async () => {
    const b = await startProvider({ connections: withSaml });
    (b.registry.get('legacy') as FakeSamlUpstream).usePost = true;
    const res = await b.browser().get(webAppRequest());
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(`<form method="post" action="${SAML_SSO}">`);
    expect(html).toContain('name="SAMLRequest"');
    const nonce = /<script nonce="([^"]+)">/.exec(html)![1]!;
    expect(res.headers.get('content-security-policy')).toContain(`script-src 'nonce-${nonce}'`);
    expect(res.headers.getSetCookie().some((c) => c.startsWith('__Host-xaa-login='))).toBe(true);
  });

  it('serves the SP metadata', async () => {
    const b = await startProvider({ connections: withSaml });
    const res = await b.fetch('/login/saml/legacy/metadata');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/samlmetadata+xml');
    expect(await res.text()).toContain('EntityDescriptor');
  });
});
