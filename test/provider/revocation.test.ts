import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { ACCESS_TOKEN_LIFETIME } from '../../src/provider/limits.js';
import {
  BROKER,
  SECRET,
  SPA_CALLBACK,
  authorizePath,
  codeFor,
  lastAudit,
  pkcePair,
  providerState,
  redeem,
  refusedAnonymously,
  refusedStatelessly,
  startProvider,
  webApp,
  webAppRequest,
  type ProviderBroker,
  postForm,
  signedIn,
} from './harness.js';

/** The public SPA's tokens (PKCE, no secret). */
async function spaSignedIn(b: ProviderBroker) {
  const { verifier, challenge } = await pkcePair();
  const params = await codeFor(
    b.browser(),
    authorizePath({ client_id: 'spa', redirect_uri: SPA_CALLBACK, response_type: 'code', scope: 'openid offline_access', state: 's', code_challenge: challenge, code_challenge_method: 'S256' }),
  );
  const res = await b.token({ grant_type: 'authorization_code', code: params.get('code')!, redirect_uri: SPA_CALLBACK, client_id: 'spa', code_verifier: verifier });
  return (await res.json()) as Record<string, string>;
}

const revoke = (b: ProviderBroker, params: Record<string, string>, headers: Record<string, string> = {}) => postForm(b, '/revoke', params, headers);
const asWebApp = { client_id: webApp.client_id, client_secret: SECRET };
const refresh = (b: ProviderBroker, refreshToken: string) => b.token({ grant_type: 'refresh_token', refresh_token: refreshToken, ...asWebApp });
const userinfo = (b: ProviderBroker, accessToken: string) => b.fetch('/userinfo', { headers: { authorization: `Bearer ${accessToken}` } });

async function expectRevokedOk(res: Response) {
  expect(res.status).toBe(200);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(await res.text()).toBe('');
}

describe('POST /revoke (RFC 7009)', () => {
  it('revokes a refresh token and its whole family', async () => {
    const b = await startProvider();
    const first = await signedIn(b);
    const rotated = (await (await refresh(b, first.refresh_token!)).json()) as Record<string, string>;

    await expectRevokedOk(await revoke(b, { token: rotated.refresh_token!, token_type_hint: 'refresh_token', ...asWebApp }));
    const audit = lastAudit(b);
    expect(audit).toMatchObject({ event: 'revocation', clientId: webApp.client_id, detail: 'refresh_token' });
    expect(audit.principalId).toEqual(expect.any(String));
    expect(JSON.stringify(audit)).not.toContain(rotated.refresh_token!);
    const after = await refresh(b, rotated.refresh_token!);
    expect(after.status).toBe(400);
    expect(await after.json()).toMatchObject({ error: 'invalid_grant' });
    const live = b.db.prepare('SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL AND expires_at > ?').pluck().get(b.clock.now);
    expect(live).toBe(0);
  });

  it('honours token_type_hint but does not trust it: a wrong hint still finds the token', async () => {
    const b = await startProvider();
    const tokens = await signedIn(b);
    await expectRevokedOk(await revoke(b, { token: tokens.refresh_token!, token_type_hint: 'access_token', ...asWebApp }));
    expect(await (await refresh(b, tokens.refresh_token!)).json()).toMatchObject({ error: 'invalid_grant' });

    const other = await signedIn(b);
    await expectRevokedOk(await revoke(b, { token: other.access_token!, token_type_hint: 'refresh_token', ...asWebApp }));
    expect((await userinfo(b, other.access_token!)).status).toBe(401);
    // An unregistered hint is ignored, not an error.
    const third = await signedIn(b);
    await expectRevokedOk(await revoke(b, { token: third.refresh_token!, token_type_hint: 'something_else', ...asWebApp }));
    expect(await (await refresh(b, third.refresh_token!)).json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('revokes an access token: /userinfo refuses it afterwards, other tokens of the login still work', async () => {
    const b = await startProvider();
    const tokens = await signedIn(b);
    const sibling = (await (await refresh(b, tokens.refresh_token!)).json()) as Record<string, string>;
    const replayRows = () => b.db.prepare('SELECT count(*) FROM replay').pluck().get() as number;
    const before = replayRows();
    expect((await userinfo(b, tokens.access_token!)).status).toBe(200);
    // Checking the revocation list is a read: /userinfo writes nothing.
    expect(replayRows()).toBe(before);

    await expectRevokedOk(await revoke(b, { token: tokens.access_token!, ...asWebApp }));
    expect(lastAudit(b)).toMatchObject({ event: 'revocation', clientId: webApp.client_id, detail: 'access_token', jti: decodeJwt(tokens.access_token!).jti });
    const res = await userinfo(b, tokens.access_token!);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'access_token_revoked', clientId: webApp.client_id });
    // Revoking again is fine, and the refusal holds until the token expires of itself.
    await expectRevokedOk(await revoke(b, { token: tokens.access_token!, ...asWebApp }));
    b.clock.now += ACCESS_TOKEN_LIFETIME - 1;
    expect((await userinfo(b, tokens.access_token!)).status).toBe(401);

    expect((await userinfo(b, sibling.access_token!)).status).toBe(200);
    expect((await refresh(b, sibling.refresh_token!)).status).toBe(200);
  });

  it('answers 200 for unknown, expired and already revoked tokens, and changes nothing', async () => {
    const b = await startProvider();
    const tokens = await signedIn(b);
    const before = providerState(b);
    for (const token of ['not-a-token', 'A'.repeat(43), `${tokens.access_token!.slice(0, -4)}AAAA`]) {
      await expectRevokedOk(await revoke(b, { token, ...asWebApp }));
    }
    expect(providerState(b)).toEqual(before);

    b.clock.now += ACCESS_TOKEN_LIFETIME + 1;
    await expectRevokedOk(await revoke(b, { token: tokens.access_token!, ...asWebApp }));
    expect(providerState(b)).toEqual(before);
  });

  it('refuses a token issued to another client and leaves it alone', async () => {
    const b = await startProvider();
    const tokens = await signedIn(b);
    for (const token of [tokens.refresh_token!, tokens.access_token!]) {
      const res = await refusedStatelessly(b, 'token_client_mismatch', () => revoke(b, { token, client_id: 'spa' }));
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
      expect(lastAudit(b)).toMatchObject({ clientId: 'spa' });
    }
    expect((await userinfo(b, tokens.access_token!)).status).toBe(200);
    expect((await refresh(b, tokens.refresh_token!)).status).toBe(200);
  });

  it('lets a public client revoke its own refresh token with its client_id', async () => {
    const b = await startProvider();
    const tokens = await spaSignedIn(b);
    await expectRevokedOk(await revoke(b, { token: tokens.refresh_token!, client_id: 'spa' }));
    const res = await b.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: 'spa' });
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('refuses an ID token with unsupported_token_type', async () => {
    const b = await startProvider();
    const tokens = await signedIn(b);
    const res = await refusedStatelessly(b, 'unsupported_token_type', () => revoke(b, { token: tokens.id_token!, ...asWebApp }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'unsupported_token_type' });
  });

  it('authenticates the client exactly like /token, before looking at the token', async () => {
    const b = await startProvider();
    const tokens = await signedIn(b);
    const wrong = await refusedAnonymously(b, 'client_secret_mismatch', () => revoke(b, { token: tokens.refresh_token!, client_id: webApp.client_id, client_secret: 'wrong' }));
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_client' });

    const none = await refusedAnonymously(b, 'client_auth_missing', () => revoke(b, { token: tokens.refresh_token!, client_id: webApp.client_id }));
    expect(await none.json()).toMatchObject({ error: 'invalid_client' });

    // Basic for a client registered for client_secret_post is a method mismatch, as at /token.
    const basic = `Basic ${btoa(`${webApp.client_id}:${SECRET}`)}`;
    const mismatch = await refusedAnonymously(b, 'client_auth_method_mismatch', () => revoke(b, { token: tokens.refresh_token! }, { authorization: basic }));
    expect(mismatch.status).toBe(401);
    expect((await refresh(b, tokens.refresh_token!)).status).toBe(200);
  });

  it('refuses malformed requests', async () => {
    const b = await startProvider();
    const missing = await refusedStatelessly(b, 'missing_parameter', () => revoke(b, { ...asWebApp }));
    expect(await missing.json()).toMatchObject({ error: 'invalid_request' });
    const twice = await b.fetch('/revoke', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=a&token=b&client_id=wiki-agent&client_secret=${SECRET}` });
    expect(await twice.json()).toMatchObject({ error: 'invalid_request' });
    const json = await b.fetch('/revoke', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(400);
    const get = await b.fetch('/revoke');
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('is in the metadata with the auth methods it accepts', async () => {
    const b = await startProvider();
    const metadata = (await (await b.fetch('/.well-known/openid-configuration')).json()) as Record<string, unknown>;
    expect(metadata.revocation_endpoint).toBe(`${BROKER}/revoke`);
    expect(metadata.revocation_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']);
    const as = (await (await b.fetch('/.well-known/oauth-authorization-server')).json()) as Record<string, unknown>;
    expect(as.revocation_endpoint).toBe(`${BROKER}/revoke`);
  });
});
