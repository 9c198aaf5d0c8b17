import { SignJWT, calculateJwkThumbprint, compactVerify, errors, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { JWKS_CACHE_TTL_MS, JWKS_FETCH_TIMEOUT_MS, JWKS_MAX_BYTES, JWKS_REFETCH_COOLDOWN_MS } from '../../src/constants.js';
import { clockedRemoteJwks } from '../../src/http/remote-jwks.js';

async function keyPair() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { privateKey, jwk: { ...jwk, kid, alg: 'ES256' }, kid };
}
type Pair = Awaited<ReturnType<typeof keyPair>>;

const sign = (k: Pair) => new SignJWT({ sub: 'a' }).setProtectedHeader({ alg: 'ES256', kid: k.kid }).sign(k.privateKey);

/** A JWKS endpoint serving `served`, counting fetches; the test's clock starts at t = 1 000 000 s. */
function setup(initial: Pair[]) {
  const state = { served: initial.map((k) => k.jwk) as object[], fetches: 0, now: 1_000_000 };
  const fetchImpl = (async () => {
    state.fetches++;
    return new Response(JSON.stringify({ keys: state.served }), { headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  const resolve = clockedRemoteJwks(new URL('https://idp.example/jwks'), {
    clock: () => state.now,
    fetch: fetchImpl,
    timeoutMs: JWKS_FETCH_TIMEOUT_MS,
    cooldownMs: JWKS_REFETCH_COOLDOWN_MS,
    maxAgeMs: JWKS_CACHE_TTL_MS,
    maxBytes: JWKS_MAX_BYTES,
  });
  return { state, resolve };
}

const options = (fetchImpl: typeof fetch) => ({
  clock: () => 1_000_000,
  fetch: fetchImpl,
  timeoutMs: 200,
  cooldownMs: JWKS_REFETCH_COOLDOWN_MS,
  maxAgeMs: JWKS_CACHE_TTL_MS,
  maxBytes: JWKS_MAX_BYTES,
});

describe('a remote JWKS timed by an injected clock', () => {
  it('fetches once, then serves known keys from memory', async () => {
    const k = await keyPair();
    const { state, resolve } = setup([k]);
    await compactVerify(await sign(k), resolve);
    await compactVerify(await sign(k), resolve);
    expect(state.fetches).toBe(1);
  });

  it('an unknown kid inside the refetch cooldown is refused without a fetch; after it, refetches and verifies (rollover)', async () => {
    const first = await keyPair();
    const second = await keyPair();
    const { state, resolve } = setup([first]);
    await compactVerify(await sign(first), resolve);
    state.served = [first.jwk, second.jwk];

    state.now += JWKS_REFETCH_COOLDOWN_MS / 1000 - 1;
    await expect(compactVerify(await sign(second), resolve)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(state.fetches).toBe(1);

    state.now += 1;
    await compactVerify(await sign(second), resolve);
    expect(state.fetches).toBe(2);
  });

  it('a key set older than its max age is refetched before use: a removed key stops verifying', async () => {
    const old = await keyPair();
    const { state, resolve } = setup([old]);
    await compactVerify(await sign(old), resolve);
    state.served = [];

    state.now += JWKS_CACHE_TTL_MS / 1000 - 1;
    await compactVerify(await sign(old), resolve);
    expect(state.fetches).toBe(1);

    state.now += 1;
    await expect(compactVerify(await sign(old), resolve)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(state.fetches).toBe(2);
  });

  it('refuses a body over the size cap while streaming', async () => {
    const big = `{"keys":[],"pad":"${'x'.repeat(JWKS_MAX_BYTES)}"}`;
    const resolve = clockedRemoteJwks(new URL('https://idp.example/jwks'), options((async () => new Response(big)) as typeof fetch));
    await expect(compactVerify(await sign(await keyPair()), resolve)).rejects.toThrow(/larger than/);
  });

  it('refuses a non-200 answer and a body that is not JSON with jose errors', async () => {
    const notFound = clockedRemoteJwks(new URL('https://idp.example/jwks'), options((async () => new Response('{}', { status: 404 })) as typeof fetch));
    await expect(compactVerify(await sign(await keyPair()), notFound)).rejects.toThrow(/Expected 200 OK/);
    const garbage = clockedRemoteJwks(new URL('https://idp.example/jwks'), options((async () => new Response('<html>')) as typeof fetch));
    await expect(compactVerify(await sign(await keyPair()), garbage)).rejects.toThrow(/parse/);
    const notASet = clockedRemoteJwks(new URL('https://idp.example/jwks'), options((async () => new Response('{"keys":"no"}')) as typeof fetch));
    await expect(compactVerify(await sign(await keyPair()), notASet)).rejects.toBeInstanceOf(errors.JWKSInvalid);
  });

  it('times out an endpoint that never answers (JWKSTimeout)', async () => {
    const hang = ((_: unknown, init?: RequestInit) =>
      new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)))) as typeof fetch;
    const resolve = clockedRemoteJwks(new URL('https://idp.example/jwks'), options(hang));
    await expect(compactVerify(await sign(await keyPair()), resolve)).rejects.toBeInstanceOf(errors.JWKSTimeout);
  });

  it('does not follow redirects', async () => {
    let seen: RequestInit | undefined;
    const resolve = clockedRemoteJwks(new URL('https://idp.example/jwks'), options((async (_: unknown, init?: RequestInit) => {
      seen = init;
      return new Response(null, { status: 302, headers: { location: 'https://elsewhere.example/jwks' } });
    }) as typeof fetch));
    await expect(compactVerify(await sign(await keyPair()), resolve)).rejects.toThrow(/Expected 200 OK/);
    expect(seen?.redirect).toBe('manual');
  });
});
