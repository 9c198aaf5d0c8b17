import { SignJWT, calculateJwkThumbprint, compactVerify, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { upstreamKeyResolver } from '../../src/upstream/jwks.js';

async function keyPair() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { privateKey, jwk: { ...jwk, kid, alg: 'ES256' }, kid };
}

const sign = (k: Awaited<ReturnType<typeof keyPair>>) => new SignJWT({ sub: 'a' }).setProtectedHeader({ alg: 'ES256', kid: k.kid }).sign(k.privateKey);

// The fetching rules themselves are tested in test/http/remote-jwks.test.ts.
describe('upstream key resolvers', () => {
  it('inline keys never fetch', async () => {
    const k = await keyPair();
    let fetches = 0;
    const resolve = upstreamKeyResolver({ issuer: 'https://idp', jwks: { keys: [k.jwk] }, algorithms: ['ES256'] }, () => 0, (async () => {
      fetches++;
      return new Response('{}');
    }) as typeof fetch);
    await compactVerify(await sign(k), resolve);
    expect(fetches).toBe(0);
  });

  it('a jwks_uri is fetched through the injected fetch and timed by the broker clock', async () => {
    const first = await keyPair();
    const second = await keyPair();
    let served = [first.jwk];
    const fetched: string[] = [];
    let now = 5_000;
    const resolve = upstreamKeyResolver({ issuer: 'https://idp', jwks_uri: 'https://idp/jwks', algorithms: ['ES256'] }, () => now, (async (url: string) => {
      fetched.push(String(url));
      return new Response(JSON.stringify({ keys: served }));
    }) as typeof fetch);
    await compactVerify(await sign(first), resolve);
    served = [second.jwk];
    now += 30;
    await compactVerify(await sign(second), resolve);
    expect(fetched).toEqual(['https://idp/jwks', 'https://idp/jwks']);
  });
});
