import { describe, expect, it } from 'vitest';
import { BROKER, startTestBroker } from '../helpers/broker.js';

describe('metadata and JWKS', () => {
  it('publishes RFC 8414 metadata with the ID-JAG token type and auth methods', async () => {
    const b = await startTestBroker();
    const res = await b.request('/.well-known/oauth-authorization-server');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      issuer: BROKER,
      token_endpoint: `${BROKER}/token`,
      jwks_uri: `${BROKER}/jwks`,
      grant_types_supported: ['urn:ietf:params:oauth:grant-type:token-exchange', 'https://xaa-broker.dev/grant-type/deferred', 'authorization_code', 'refresh_token'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
      authorization_endpoint: `${BROKER}/authorize`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      identity_chaining_requested_token_types_supported: ['urn:ietf:params:oauth:token-type:id-jag'],
    });
  });

  it('publishes OpenID discovery with the same issuer and endpoints', async () => {
    const b = await startTestBroker();
    const body = (await (await b.request('/.well-known/openid-configuration')).json()) as Record<string, unknown>;
    expect(body).toMatchObject({ issuer: BROKER, token_endpoint: `${BROKER}/token`, jwks_uri: `${BROKER}/jwks`, id_token_signing_alg_values_supported: ['ES256', 'RS256'] });
    expect(body.identity_chaining_requested_token_types_supported).toEqual(['urn:ietf:params:oauth:token-type:id-jag']);
  });

  it('serves public keys only', async () => {
    const b = await startTestBroker();
    const res = await b.request('/jwks');
    const { keys } = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(keys).toHaveLength(2);
    for (const k of keys) expect(Object.keys(k).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
  });

  it('answers unknown paths with a JSON 404', async () => {
    const b = await startTestBroker();
    const res = await b.request('/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not_found' });
  });
});
