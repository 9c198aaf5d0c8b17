import { SignJWT, exportJWK, generateKeyPair, calculateJwkThumbprint } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { JWKS_MAX_BYTES, JWKS_REFETCH_COOLDOWN_MS } from '../../src/constants.js';
import { sizeCappedFetch, upstreamKeyResolver } from '../../src/upstream/jwks.js';

async function keyPair() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { privateKey, jwk: { ...jwk, kid, alg: 'ES256' }, kid };
}

const sign = (k: Awaited<ReturnType<typeof keyPair>>) =>
  new SignJWT({ sub: 'a' }).setProtectedHeader({ alg: 'ES256', kid: k.kid }).setIssuer('https://idp').sign(k.privateKey);

describe('upstream JWKS fetching', () => {
  it('refuses a JWKS body over the cap while streaming', async () => {
    const big = `{"keys":[],"pad":"${'x'.repeat(JWKS_MAX_BYTES)}"}`;
    const capped = sizeCappedFetch(JWKS_MAX_BYTES, async () => new Response(big));
    await expect(capped('https://idp/jwks')).rejects.toThrow(/larger than/);
  });

  it('passes a JWKS under the cap through unchanged', async () => {
    const capped = sizeCappedFetch(JWKS_MAX_BYTES, async () => new Response('{"keys":[]}', { headers: { 'content-type': 'application/json' } }));
    const res = await capped('https://idp/jwks');
    expect(await res.json()).toEqual({ keys: [] });
  });

  it('cools down after a fetch, then refetches on an unknown kid (key rollover)', async () => {
    const first = await keyPair();
    const second = await keyPair();
    let served = [first.jwk];
    let fetches = 0;
    const fetchImpl = async () => {
      fetches++;
      return new Response(JSON.stringify({ keys: served }), { headers: { 'content-type': 'application/json' } });
    };
    const resolve = upstreamKeyResolver({ issuer: 'https://idp', jwks_uri: 'https://idp/jwks', algorithms: ['ES256'] }, fetchImpl as typeof fetch);
    const { compactVerify } = await import('jose');
    await compactVerify(await sign(first), resolve);
    expect(fetches).toBe(1);

    // The IdP rolls its key: an unknown kid right after a fetch does not refetch…
    served = [first.jwk, second.jwk];
    await new Promise((r) => setTimeout(r, 5));
    await expect(compactVerify(await sign(second), resolve)).rejects.toThrow();
    expect(fetches).toBe(1); // …inside the cooldown.

    // After the cooldown the unknown kid does trigger a refetch, and the new key verifies.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + JWKS_REFETCH_COOLDOWN_MS + 1);
      await compactVerify(await sign(second), resolve);
      expect(fetches).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('times out a JWKS endpoint that never answers', async () => {
    const hang = (_: unknown, init?: RequestInit) =>
      new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
    const resolve = upstreamKeyResolver({ issuer: 'https://idp', jwks_uri: 'https://idp/jwks', algorithms: ['ES256'] }, hang as typeof fetch);
    const { compactVerify } = await import('jose');
    const started = Date.now();
    await expect(compactVerify(await sign(await keyPair()), resolve)).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(7_000);
  }, 10_000);
});
