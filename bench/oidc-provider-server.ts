/**
 * The anchor a user would pick instead of the broker, alone in its process
 * (`node --import tsx bench/oidc-provider-server.ts`, on $PORT): oidc-provider 9 with the
 * `client_credentials` grant, a resource indicator whose access tokens are JWTs signed ES256,
 * and one client_secret_post client. Its default in-memory adapter; its logs off.
 */
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import type { Configuration } from 'oidc-provider';

export const OIDC_CLIENT = { client_id: 'bench-agent', client_secret: 'bench-secret' };
export const OIDC_RESOURCE = 'https://todo.bench/api';

if (process.argv[1] === import.meta.filename) {
  // Imported here so that the bench, which reads the constants above, never loads oidc-provider.
  const { default: Provider } = await import('oidc-provider');
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const configuration: Configuration = {
    clients: [{ ...OIDC_CLIENT, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_post', id_token_signed_response_alg: 'ES256' }],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'op-1', alg: 'ES256', use: 'sig' }] as never },
    scopes: ['todos.read', 'todos.write'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => OIDC_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: 'todos.read todos.write', audience: OIDC_RESOURCE, accessTokenFormat: 'jwt', accessTokenTTL: 300, jwt: { sign: { alg: 'ES256' } } }),
      },
    },
  };
  const provider = new Provider('https://op.bench', configuration);
  createServer(provider.callback()).listen(Number(process.env.PORT), '127.0.0.1');
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
}
