import { describe, expect, it } from 'vitest';
import { providerMetadata } from '../../src/provider/index.js';
import { BROKER, spa, startProvider, webApp } from './harness.js';

describe('provider configuration', () => {
  const cases: [string, Partial<typeof webApp>, string][] = [
    ['no authorization_code grant', { grant_types: ['refresh_token'] }, 'grant_types must include authorization_code'],
    ['an unknown namespace', { subject_namespace: 'nowhere' }, 'subject_namespace nowhere is not configured'],
    ['no openid scope', { scopes: ['email'] }, 'scopes must include openid'],
    ['an unsupported scope', { scopes: ['openid', 'admin'] }, 'scope admin is not supported'],
    ['offline_access without the refresh grant', { grant_types: ['authorization_code'] }, 'offline_access needs the refresh_token grant'],
    ['a redirect URI with a fragment', { redirect_uris: ['https://app.test/cb#x'] }, 'is not an absolute URI without a fragment'],
    ['a relative post-logout URI', { post_logout_redirect_uris: ['/bye'] }, 'is not an absolute URI without a fragment'],
    ['another authentication method than registered', { token_endpoint_auth_method: 'none' }, 'token_endpoint_auth_method differs'],
    ['a client the token endpoint does not know', { client_id: 'ghost' }, 'not among the clients the token endpoint authenticates'],
  ];
  it.each(cases)('refuses to mount with %s', async (_name, patch, message) => {
    await expect(startProvider({ clients: [{ ...webApp, ...patch }] })).rejects.toThrow(message);
  });

  it('mounts the clients of the test configuration', async () => {
    await expect(startProvider({ clients: [webApp, spa] })).resolves.toBeDefined();
  });
});

describe('provider metadata', () => {
  it('states what the provider implements', () => {
    const m = providerMetadata(BROKER, 'ES256');
    expect(m).toMatchObject({
      authorization_endpoint: `${BROKER}/authorize`,
      userinfo_endpoint: `${BROKER}/userinfo`,
      end_session_endpoint: `${BROKER}/logout`,
      revocation_endpoint: `${BROKER}/revoke`,
      introspection_endpoint: `${BROKER}/introspect`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      code_challenge_methods_supported: ['S256'],
      scopes_supported: ['openid', 'email', 'profile', 'offline_access'],
      // OpenID Discovery §3: RS256 always among them (clients' id_token_signed_response_alg).
      id_token_signing_alg_values_supported: ['ES256', 'RS256'],
      prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
      authorization_response_iss_parameter_supported: true,
      request_parameter_supported: false,
      claims_parameter_supported: false,
    });
    expect(m.claims_supported).toEqual(expect.arrayContaining(['sub', 'sid', 'auth_time', 'acr', 'amr', 'nonce', 'email', 'name']));
  });
});
