import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { SESSION_LIFETIME } from '../../src/provider/limits.js';
import { FakeSamlUpstream } from './fake-upstream.js';
import { lastAudit, location, redeem, SECRET, startProvider, webApp, webAppRequest, type Browser, type ProviderBroker, lastRefusal } from './harness.js';

/**
 * A SAML login's SessionNotOnOrAfter bounds the broker session and everything tied to it (issue 6
 * §2): the refresh grant, a refresh token or a broker ID token as a token-exchange subject token
 * (found through its session), and the access token at /userinfo all stop when the IdP said the
 * session ends, not SESSION_LIFETIME later.
 */

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
const REFRESH_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:refresh_token';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
/** The IdP ends its session ten minutes after the login. */
const IDP_SESSION = 600;

/** The web app, allowed to delegate stats.read to the refresh tokens its logins get. */
const delegatingWebApp = { ...webApp, delegated_scopes: ['stats.read'] };

interface Tokens {
  access_token: string;
  id_token: string;
  refresh_token: string;
  expires_in: number;
}

async function samlSignedIn(): Promise<{ b: ProviderBroker; browser: Browser; acs: Response; tokens: Tokens; sessionEnd: number }> {
  const b = await startProvider({ clients: [delegatingWebApp], connections: (clock) => [new FakeSamlUpstream('legacy', clock)] });
  const sessionEnd = b.clock.now + IDP_SESSION;
  (b.registry.get('legacy') as FakeSamlUpstream).sessionNotOnOrAfter = sessionEnd;
  const browser = b.browser();
  const to = location(await browser.get(webAppRequest({ scope: 'openid email offline_access stats.read' })));
  const acs = await browser.post('/login/saml/legacy/acs', { SAMLResponse: 'ok', RelayState: to.searchParams.get('RelayState')! });
  const res = await redeem(b, location(acs).searchParams.get('code')!);
  expect(res.status).toBe(200);
  return { b, browser, acs, tokens: (await res.json()) as Tokens, sessionEnd };
}

const refresh = (b: ProviderBroker, refreshToken: string) => b.token({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: webApp.client_id, client_secret: SECRET });

function exchange(b: ProviderBroker, subjectToken: string, subjectTokenType: string) {
  return b.token({
    grant_type: TOKEN_EXCHANGE,
    requested_token_type: ID_JAG_TYPE,
    subject_token: subjectToken,
    subject_token_type: subjectTokenType,
    audience: 'https://analytics.test',
    scope: 'stats.read',
    client_id: webApp.client_id,
    client_secret: SECRET,
  });
}

const userinfo = (b: ProviderBroker, accessToken: string) => b.fetch('/userinfo', { headers: { authorization: `Bearer ${accessToken}` } });

describe('SAML SessionNotOnOrAfter bounds the broker session', () => {
  it('the session, its cookie and its refresh token end at SessionNotOnOrAfter, not SESSION_LIFETIME later', async () => {
    const { b, acs, sessionEnd } = await samlSignedIn();
    expect(acs.headers.getSetCookie().find((c) => c.includes('xaa-session='))).toContain(`Max-Age=${IDP_SESSION}`);
    expect(b.db.prepare('SELECT expires_at FROM sessions').pluck().get()).toBe(sessionEnd);
    expect(b.db.prepare('SELECT expires_at FROM refresh_tokens').pluck().get()).toBe(sessionEnd);
  });

  it('no access token or ID token issued in the session outlives it', async () => {
    const { b, tokens, sessionEnd } = await samlSignedIn();
    b.clock.now = sessionEnd - 120;
    const res = await refresh(b, tokens.refresh_token);
    expect(res.status).toBe(200);
    const fresh = (await res.json()) as Tokens;
    expect(decodeJwt(fresh.access_token).exp).toBe(sessionEnd);
    expect(decodeJwt(fresh.id_token).exp).toBe(sessionEnd);
    expect(fresh.expires_in).toBe(120);
  });

  it('before SessionNotOnOrAfter everything tied to the session works', async () => {
    const { b, tokens, sessionEnd } = await samlSignedIn();
    b.clock.now = sessionEnd - 60;
    const res = await refresh(b, tokens.refresh_token);
    expect(res.status).toBe(200);
    const fresh = (await res.json()) as Tokens;
    expect((await exchange(b, fresh.refresh_token, REFRESH_TOKEN_TYPE)).status).toBe(200);
    expect((await exchange(b, fresh.id_token, ID_TOKEN_TYPE)).status).toBe(200);
    expect((await userinfo(b, fresh.access_token)).status).toBe(200);
  });

  it('after it (11 minutes on), the refresh grant, both exchanges and /userinfo are refused', async () => {
    const { b, tokens, sessionEnd } = await samlSignedIn();
    // Tokens obtained a minute before the end, presented a minute after it.
    b.clock.now = sessionEnd - 60;
    const fresh = (await (await refresh(b, tokens.refresh_token)).json()) as Tokens;
    b.clock.now = sessionEnd + 60;

    const grant = await refresh(b, fresh.refresh_token);
    expect(grant.status).toBe(400);
    expect(await grant.json()).toMatchObject({ error: 'invalid_grant' });
    // The refresh token itself ended with the session (its expiry is the session's).
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'refresh_token_invalid' });

    const byRefreshToken = await exchange(b, fresh.refresh_token, REFRESH_TOKEN_TYPE);
    expect(byRefreshToken.status).toBe(400);
    expect(await byRefreshToken.json()).toMatchObject({ error: 'invalid_grant' });
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'refresh_token_invalid' });

    const byIdToken = await exchange(b, fresh.id_token, ID_TOKEN_TYPE);
    expect(byIdToken.status).toBe(400);
    expect(await byIdToken.json()).toMatchObject({ error: 'invalid_grant' });
    // Its exp was the session's end; past the clock skew it is refused before the session lookup.
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'expired' });

    const info = await userinfo(b, fresh.access_token);
    expect(info.status).toBe(401);
    expect(info.headers.get('www-authenticate')).toContain('error="invalid_token"');
    // An access token that does not verify names nobody: the refusal is counted in a summary.
    expect(await lastRefusal(b)).toMatchObject({ event: 'refusal_summary', reason: 'access_token_invalid', count: 1 });
  });

  it('the session ended even for a token that is still within its own lifetime: the exchange via sid says session_ended', async () => {
    const { b, tokens, sessionEnd } = await samlSignedIn();
    // An ID token whose exp the broker did not bound (issued before this fix, or by another instance):
    // the session lookup alone must refuse it.
    b.clock.now = sessionEnd + 1;
    const { SignJWT } = await import('jose');
    const key = b.services.keys.signingKey();
    const sid = decodeJwt(tokens.id_token).sid as string;
    const idToken = await new SignJWT({ sid, amr: ['pwd'] })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .setIssuer(b.issuer)
      .setSubject(decodeJwt(tokens.id_token).sub!)
      .setAudience(webApp.client_id)
      .setIssuedAt(b.clock.now)
      .setExpirationTime(b.clock.now + 300)
      .sign(key.key);
    const res = await exchange(b, idToken, ID_TOKEN_TYPE);
    expect(res.status).toBe(400);
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'session_ended' });
  });

  it('a SessionNotOnOrAfter beyond SESSION_LIFETIME does not lengthen the session', async () => {
    const b = await startProvider({ clients: [delegatingWebApp], connections: (clock) => [new FakeSamlUpstream('legacy', clock)] });
    (b.registry.get('legacy') as FakeSamlUpstream).sessionNotOnOrAfter = b.clock.now + 10 * SESSION_LIFETIME;
    const browser = b.browser();
    const to = location(await browser.get(webAppRequest()));
    await browser.post('/login/saml/legacy/acs', { SAMLResponse: 'ok', RelayState: to.searchParams.get('RelayState')! });
    expect(b.db.prepare('SELECT expires_at FROM sessions').pluck().get()).toBe(b.clock.now + SESSION_LIFETIME);
  });
});
