import { createLocalJWKSet, createRemoteJWKSet, customFetch, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { JWKS_CACHE_TTL_MS, JWKS_FETCH_TIMEOUT_MS, JWKS_MAX_BYTES, JWKS_REFETCH_COOLDOWN_MS } from '../constants.js';
import type { TrustedIssuerConfig } from '../config/schema.js';
import { readBounded } from '../http/bounded.js';

export type Fetch = typeof fetch;

/**
 * A fetch for JWKS documents that refuses bodies over `maxBytes`, counting while it streams:
 * an upstream (or anything impersonating it) cannot make the broker buffer an unbounded body.
 */
export function sizeCappedFetch(maxBytes: number, inner: Fetch = fetch): Fetch {
  return async (input, init) => {
    const res = await inner(input, init);
    if (!res.ok || !res.body) return res;
    const bytes = await readBounded(res.body, maxBytes);
    if (!bytes) throw new Error(`JWKS larger than ${maxBytes} bytes`);
    return new Response(bytes as BodyInit, { status: res.status, headers: res.headers });
  };
}

/** Key resolver for a trusted upstream: inline keys, or its jwks_uri with timeout, size cap, cache and cooldown. */
export function upstreamKeyResolver(issuer: Pick<TrustedIssuerConfig, 'issuer' | 'jwks_uri' | 'jwks' | 'algorithms'>, fetchImpl?: Fetch): JWTVerifyGetKey {
  if (issuer.jwks) return createLocalJWKSet(issuer.jwks as JSONWebKeySet);
  return createRemoteJWKSet(new URL(issuer.jwks_uri!), {
    timeoutDuration: JWKS_FETCH_TIMEOUT_MS,
    cooldownDuration: JWKS_REFETCH_COOLDOWN_MS,
    cacheMaxAge: JWKS_CACHE_TTL_MS,
    [customFetch]: sizeCappedFetch(JWKS_MAX_BYTES, fetchImpl) as never,
  });
}
