import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { JWKS_CACHE_TTL_MS } from '../../src/constants.js';
import { bearerChallenge, buildProtectedResourceMetadata, createAccessTokenVerifier, protectedResourceMetadataUrl, readBearerToken } from '../../src/destination/index.js';

/**
 * The kit's resource-server half (docs/mcp.md) inside workerd: an MCP server deployed as a Worker
 * builds its RFC 9728 metadata and challenge there and checks its AS's access tokens by the
 * injected clock, the AS's keys fetched through the injected fetch.
 */
describe('the destination kit protecting a resource on workerd', () => {
  const AS = 'https://auth.test';
  const MCP = 'https://mcp.test/mcp';

  it('builds the metadata and the challenge, reads the token, and checks it by the kit clock', async () => {
    const metadataUrl = protectedResourceMetadataUrl(MCP);
    expect(buildProtectedResourceMetadata({ resource: MCP, authorizationServers: [AS] }).resource).toBe(MCP);
    expect(bearerChallenge({ resourceMetadata: metadataUrl, error: 'invalid_token' })).toBe(`Bearer resource_metadata="https://mcp.test/.well-known/oauth-protected-resource/mcp", error="invalid_token"`);

    let now = new Date();
    const iat = Math.floor(now.getTime() / 1000);
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    let fetches = 0;
    const verify = createAccessTokenVerifier({
      issuer: AS,
      resource: MCP,
      jwks: new URL(`${AS}/jwks`),
      now: () => now,
      fetch: (async () => {
        fetches++;
        return new Response(JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] }));
      }) as typeof fetch,
    });
    const token = await new SignJWT({ client_id: 'agent', scope: 'notes.read', jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
      .setIssuer(AS)
      .setSubject('user-42')
      .setAudience(MCP)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 3600)
      .sign(privateKey);
    const presented = readBearerToken(`Bearer ${token}`);
    expect('token' in presented && (await verify(presented.token))).toMatchObject({ ok: true, token: { sub: 'user-42', scopes: ['notes.read'] } });
    // The key set is kept for its TTL by the kit's clock, then fetched again: no timer involved.
    now = new Date(now.getTime() + JWKS_CACHE_TTL_MS - 1000);
    expect((await verify(token)).ok).toBe(true);
    expect(fetches).toBe(1);
    now = new Date(now.getTime() + 2000);
    expect((await verify(token)).ok).toBe(true);
    expect(fetches).toBe(2);
    now = new Date((iat + 3600 + 61) * 1000);
    expect(await verify(token)).toMatchObject({ ok: false, reason: 'expired' });
  });
});
