import { describe, expect, it } from 'vitest';
import { ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_REUSE_GRACE } from '../../src/provider/limits.js';
import {
  BASIC_SECRET,
  BROKER,
  CONSENT_CALLBACK,
  SECRET,
  SPA_CALLBACK,
  authorizePath,
  codeFor,
  decodeJwt,
  consentApp,
  lastAudit,
  pkcePair,
  redeem,
  refusedAnonymously,
  refusedStatelessly,
  spa,
  startProvider,
  webApp,
  webAppRequest,
  type ProviderBroker,
  postForm,
  signedIn,
} from './harness.js';

const asWebApp = { client_id: webApp.client_id, client_secret: SECRET };
const introspect = (b: ProviderBroker, params: Record<string, string>, headers: Record<string, string> = {}) => postForm(b, '/introspect', params, headers);
/** The consent app, a confidential client_secret_basic client of the provider. */
const asOtherClient = { authorization: `Basic ${btoa(`basic-agent:${BASIC_SECRET}`)}` };

async function answer(res: Response): Promise<Record<string, unknown>> {
  expect(res.status).toBe(200);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('content-type')).toContain('application/json');
  return (await res.json()) as Record<string, unknown>;
}

describe('POST /introspect (RFC 7662)', () => {
  it('describes an active access token to its client with the §2.2 members', async () => {
    const b = await startProvider();
    const tokens = await signedIn(b);
    const id = decodeJwt(tokens.id_token!);
    const at = decodeJwt(tokens.access_token!);
    const body = await answer(await introspect(b, { token: tokens.access_token!, token_type_hint: 'access_token', ...asWebApp }));
    expect(body).toEqual({
      active: true,
      scope: 'openid email offline_access',
      client_id: webApp.client_id,
      token_type: 'Bearer',
      exp: at.exp,
      iat: at.iat,
      sub: id.sub,
      aud: `${BROKER}/userinfo`,
      iss: BROKER,
      jti: at.jti,
    });
  });

  it('describes an active refresh token, with the sub the client knows the person by', async () => {
    const b = await startProvider();
    const tokens = await signedIn(b);
    const id = decodeJwt(tokens.id_token!);
    const stored = b.db.prepare('SELECT created_at, expires_at FROM refresh_tokens').get() as { created_at: number; expires_at: number };
    // The hint is honoured but not trusted: a wrong one still finds the token.
    for (const token_type_hint of ['refresh_token', 'access_token', undefined]) {
      const body = await answer(await introspect(b, { token: tokens.refresh_token!, ...(token_type_hint ? { token_type_hint } : {}), ...asWebApp }));
      expect(body).toEqual({ active: true, scope: 'openid email offline_access', client_id: webApp.client_id, exp: stored.expires_at, iat: stored.created_at, sub: id.sub, iss: BROKER });
    }
  });

  it('answers only {active: false} for unknown, expired, revoked and rotated tokens, and for other kinds of token', async () => {
    const b = await startProvider();
    const tokens = await signedIn(b);
    const inactive = async (token: string) => expect(await answer(await introspect(b, { token, ...asWebApp }))).toEqual({ active: false });

    await inactive('not-a-token');
    await inactive('A'.repeat(43));
    await inactive(`${tokens.access_token!.slice(0, -4)}AAAA`);
    await inactive(tokens.id_token!);

    // Rotated: the old refresh token is no longer active.
    const rotated = (await (await b.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, ...asWebApp })).json()) as Record<string, string>;
    await inactive(tokens.refresh_token!);
    b.clock.now += REFRESH_TOKEN_REUSE_GRACE + 1;
    await inactive(tokens.refresh_token!);

    // Revoked through /revoke.
    expect((await postForm(b, '/revoke', { token: rotated.access_token!, ...asWebApp })).status).toBe(200);
    await inactive(rotated.access_token!);
    expect((await postForm(b, '/revoke', { token: rotated.refresh_token!, ...asWebApp })).status).toBe(200);
    await inactive(rotated.refresh_token!);

    // Expired of itself.
    b.clock.now += ACCESS_TOKEN_LIFETIME + 1;
    await inactive(tokens.access_token!);
  });

  it('answers {active: false} once the session the tokens came from has ended', async () => {
    const b = await startProvider();
    const tokens = await signedIn(b);
    expect((await answer(await introspect(b, { token: tokens.access_token!, ...asWebApp }))).active).toBe(true);
    const sessionId = b.db.prepare('SELECT id FROM sessions').pluck().get() as string;
    await b.services.store.sessions.revoke(sessionId, b.clock.now);
    for (const token of [tokens.access_token!, tokens.refresh_token!]) {
      expect(await answer(await introspect(b, { token, ...asWebApp }))).toEqual({ active: false });
    }
  });

  it('never tells a client about another client’s tokens (§4)', async () => {
    const b = await startProvider({ clients: [webApp, spa, { ...consentApp, require_consent: false }] });
    const tokens = await signedIn(b);
    for (const token of [tokens.access_token!, tokens.refresh_token!]) {
      expect(await answer(await introspect(b, { token }, asOtherClient))).toEqual({ active: false });
    }
    // The other client's own token is active for it.
    const params = await codeFor(b.browser(), authorizePath({ client_id: 'basic-agent', redirect_uri: CONSENT_CALLBACK, response_type: 'code', scope: 'openid', state: 's' }));
    const own = (await (await b.token({ grant_type: 'authorization_code', code: params.get('code')!, redirect_uri: CONSENT_CALLBACK }, asOtherClient)).json()) as Record<string, string>;
    expect(await answer(await introspect(b, { token: own.access_token! }, asOtherClient))).toMatchObject({ active: true, client_id: 'basic-agent' });
    expect(await answer(await introspect(b, { token: own.access_token!, ...asWebApp }))).toEqual({ active: false });
  });

  it('refuses public clients: a client_id is no authorization', async () => {
    const b = await startProvider();
    const { verifier, challenge } = await pkcePair();
    const params = await codeFor(
      b.browser(),
      authorizePath({ client_id: 'spa', redirect_uri: SPA_CALLBACK, response_type: 'code', scope: 'openid', state: 's', code_challenge: challenge, code_challenge_method: 'S256' }),
    );
    const tokens = (await (await b.token({ grant_type: 'authorization_code', code: params.get('code')!, redirect_uri: SPA_CALLBACK, client_id: 'spa', code_verifier: verifier })).json()) as Record<string, string>;
    const res = await refusedStatelessly(b, 'public_client', () => introspect(b, { token: tokens.access_token!, client_id: 'spa' }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'unauthorized_client' });
    expect(lastAudit(b)).toMatchObject({ clientId: 'spa' });
  });

  it('authenticates the client exactly like /token', async () => {
    const b = await startProvider();
    const tokens = await signedIn(b);
    const wrong = await refusedAnonymously(b, 'client_secret_mismatch', () => introspect(b, { token: tokens.access_token!, client_id: webApp.client_id, client_secret: 'wrong' }));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('cache-control')).toBe('no-store');
    expect(await wrong.json()).toMatchObject({ error: 'invalid_client' });
    const nobody = await refusedAnonymously(b, 'client_auth_missing', () => introspect(b, { token: tokens.access_token! }));
    expect(await nobody.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('refuses malformed requests', async () => {
    const b = await startProvider();
    const missing = await refusedStatelessly(b, 'missing_parameter', () => introspect(b, { ...asWebApp }));
    expect(await missing.json()).toMatchObject({ error: 'invalid_request' });
    const get = await b.fetch('/introspect?token=x');
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('is in the metadata, for confidential clients', async () => {
    const b = await startProvider();
    const metadata = (await (await b.fetch('/.well-known/openid-configuration')).json()) as Record<string, unknown>;
    expect(metadata.introspection_endpoint).toBe(`${BROKER}/introspect`);
    expect(metadata.introspection_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post', 'private_key_jwt']);
  });
});
