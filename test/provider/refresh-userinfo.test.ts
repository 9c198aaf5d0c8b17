import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME, REFRESH_TOKEN_REUSE_GRACE, SESSION_LIFETIME } from '../../src/provider/limits.js';
import { BROKER, SECRET, codeFor, decodeJwt, lastAudit, lastRefusal, location, redeem, startProvider, webApp, webAppRequest, type ProviderBroker } from './harness.js';

async function signedIn(b: ProviderBroker, scope = 'openid email profile offline_access') {
  const browser = b.browser();
  const params = await codeFor(browser, webAppRequest({ scope }));
  const tokens = (await (await redeem(b, params.get('code')!)).json()) as Record<string, string>;
  return { browser, tokens };
}

function refresh(b: ProviderBroker, refreshToken: string, extra: Record<string, string> = {}) {
  return b.token({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: webApp.client_id, client_secret: SECRET, ...extra });
}

describe('refresh_token grant', () => {
  it('rotates on every use and re-issues the ID token with the same sub, the original auth_time, claims as they are now', async () => {
    const b = await startProvider();
    const { tokens } = await signedIn(b);
    const first = decodeJwt(tokens.id_token!);
    const stored = b.db.prepare('SELECT token_hash, expires_at FROM refresh_tokens').get() as { token_hash: string; expires_at: number };
    expect(stored.token_hash).not.toBe(tokens.refresh_token);
    // 30 days, but never beyond the 12-hour session.
    expect(stored.expires_at).toBe(b.clock.now + Math.min(REFRESH_TOKEN_LIFETIME, SESSION_LIFETIME));

    // The person changed upstream since: the new ID token says so.
    const principal = await b.services.store.principals.get(b.db.prepare('SELECT id FROM principals').pluck().get() as string);
    await b.services.store.principals.upsert({ ...principal!, claims: { ...principal!.claims, email: 'alice@new.example', name: 'Alice New' } });

    b.clock.now += 600;
    const res = await refresh(b, tokens.refresh_token!);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, string>;
    expect(body.refresh_token).not.toBe(tokens.refresh_token);
    const id = decodeJwt(body.id_token!);
    expect(id).toMatchObject({ sub: first.sub, aud: webApp.client_id, auth_time: first.auth_time, sid: first.sid, acr: first.acr, amr: first.amr, email: 'alice@new.example', name: 'Alice New', iat: b.clock.now });
    expect(id).not.toHaveProperty('nonce');
    expect(lastAudit(b)).toMatchObject({ event: 'token', grantType: 'refresh_token', clientId: webApp.client_id });

    const third = await refresh(b, body.refresh_token!);
    expect(third.status).toBe(200);
  });

  it('reuse of a rotated token (after the grace window) revokes the whole family', async () => {
    const b = await startProvider();
    const { tokens } = await signedIn(b);
    const rotated = (await (await refresh(b, tokens.refresh_token!)).json()) as Record<string, string>;

    // Past the grace window that covers the client's own concurrent requests (see races.test.ts).
    b.clock.now += REFRESH_TOKEN_REUSE_GRACE;
    const reuse = await refresh(b, tokens.refresh_token!);
    expect(reuse.status).toBe(400);
    expect(await reuse.json()).toMatchObject({ error: 'invalid_grant' });
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'refresh_token_reused' });

    // The legitimate holder's current token died with the family.
    const current = await refresh(b, rotated.refresh_token!);
    expect(await current.json()).toMatchObject({ error: 'invalid_grant' });
    expect(lastAudit(b)).toMatchObject({ reason: 'refresh_token_invalid' });
    const live = b.db.prepare('SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL AND expires_at > ?').pluck().get(b.clock.now);
    expect(live).toBe(0);
  });

  it('is bound to its client', async () => {
    const b = await startProvider();
    const { tokens } = await signedIn(b);
    const res = await b.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: 'spa' });
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    expect(lastAudit(b)).toMatchObject({ reason: 'refresh_token_client_mismatch', clientId: 'spa' });
    // The rightful client still can.
    expect((await refresh(b, tokens.refresh_token!)).status).toBe(200);
  });

  it('may narrow the scope, never widen it', async () => {
    const b = await startProvider();
    const { tokens } = await signedIn(b, 'openid email offline_access');
    const wider = await refresh(b, tokens.refresh_token!, { scope: 'openid email profile' });
    expect(await wider.json()).toMatchObject({ error: 'invalid_scope' });
    expect(lastAudit(b)).toMatchObject({ reason: 'scope_widened' });

    const narrower = await refresh(b, tokens.refresh_token!, { scope: 'openid' });
    const body = (await narrower.json()) as Record<string, string>;
    expect(body.scope).toBe('openid');
    expect(decodeJwt(body.id_token!)).not.toHaveProperty('email');
    // The rotated token keeps the original grant.
    const back = (await (await refresh(b, body.refresh_token!)).json()) as Record<string, string>;
    expect(back.scope).toBe('openid email offline_access');
  });

  it('fails once the session has ended (logout)', async () => {
    const b = await startProvider();
    const { browser, tokens } = await signedIn(b);
    const logout = await browser.get(`/logout?id_token_hint=${tokens.id_token}`);
    expect(logout.status).toBe(200);
    const res = await refresh(b, tokens.refresh_token!);
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('fails when the session was revoked (its tokens still stored)', async () => {
    const b = await startProvider();
    const { tokens } = await signedIn(b);
    await b.services.store.sessions.revoke(decodeJwt(tokens.id_token!).sid as string, b.clock.now);
    const res = await refresh(b, tokens.refresh_token!);
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    expect(lastAudit(b)).toMatchObject({ reason: 'session_inactive' });
  });

  it('refuses garbage without touching the store', async () => {
    const b = await startProvider();
    const res = await refresh(b, 'not-a-token');
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    expect(lastAudit(b)).toMatchObject({ reason: 'refresh_token_invalid' });
  });
});

describe('/userinfo', () => {
  it('returns sub and the claims the scopes release, from the current principal record', async () => {
    const b = await startProvider();
    const { tokens } = await signedIn(b);
    const res = await b.fetch('/userinfo', { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    // Never `*`: only the origins of registered browser apps (test/provider/cors.test.ts).
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const claims = (await res.json()) as Record<string, unknown>;
    expect(claims).toEqual({ sub: decodeJwt(tokens.id_token!).sub, email: 'alice@example.com', email_verified: true, name: 'Alice Example', given_name: 'Alice' });

    const post = await b.fetch('/userinfo', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `access_token=${tokens.access_token}` });
    expect(post.status).toBe(200);
  });

  it('without a token: 401 with a bare Bearer challenge', async () => {
    const b = await startProvider();
    const res = await b.fetch('/userinfo');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer realm="${BROKER}"`);
  });

  it('an expired token: 401 invalid_token', async () => {
    const b = await startProvider();
    const { tokens } = await signedIn(b);
    b.clock.now += ACCESS_TOKEN_LIFETIME + 1;
    const res = await b.fetch('/userinfo', { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer realm="${BROKER}", error="invalid_token", error_description="the access token expired"`);
    // An unverified token establishes no one: counted in the refusal summary.
    expect(await lastRefusal(b)).toMatchObject({ event: 'refusal_summary', endpoint: '/userinfo', reason: 'access_token_invalid', detail: 'JWTExpired' });
  });

  it('invalid tokens: 401 invalid_token', async () => {
    const b = await startProvider();
    const { tokens } = await signedIn(b);
    const [h, p, s] = tokens.access_token!.split('.');
    const tampered = `${h}.${p}.${s!.slice(0, -4)}AAAA`;
    const foreignKey = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])).privateKey;
    const forged = await new SignJWT(decodeJwt(tokens.access_token!)).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: decodeJwt(tokens.id_token!).jti as string }).sign(foreignKey);
    for (const token of [tampered, forged, tokens.id_token!, 'garbage', 'not a token!']) {
      const res = await b.fetch('/userinfo', { headers: { authorization: `Bearer ${token}` } });
      expect(res.status, token.slice(0, 20)).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
  });

  it('a token whose session ended (logout) is no longer accepted', async () => {
    const b = await startProvider();
    const { browser, tokens } = await signedIn(b);
    await browser.get(`/logout?id_token_hint=${tokens.id_token}`);
    const res = await b.fetch('/userinfo', { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(res.status).toBe(401);
    expect(lastAudit(b)).toMatchObject({ reason: 'session_inactive' });
  });

  it('two credentials (header and body) → 400 invalid_request', async () => {
    const b = await startProvider();
    const { tokens } = await signedIn(b);
    const res = await b.fetch('/userinfo', {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: `access_token=${tokens.access_token}`,
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_request"');
  });

  it('answers the CORS preflight', async () => {
    const b = await startProvider();
    const res = await b.fetch('/userinfo', { method: 'OPTIONS' });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-headers')).toContain('Authorization');
  });
});

describe('the access token', () => {
  it('is an RFC 9068 JWT for the userinfo endpoint only', async () => {
    const b = await startProvider();
    const browser = b.browser();
    const params = await codeFor(browser, webAppRequest());
    const body = (await (await redeem(b, params.get('code')!)).json()) as Record<string, string>;
    const at = decodeJwt(body.access_token!);
    expect(at).toMatchObject({ iss: BROKER, aud: `${BROKER}/userinfo`, client_id: webApp.client_id, scope: 'openid email offline_access' });
    expect(location(await browser.get(webAppRequest({ prompt: 'none' }))).searchParams.get('code')).toBeTruthy();
  });
});
