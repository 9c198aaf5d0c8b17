import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { Clock } from '../clock.js';
import type { TrustedIssuerConfig } from '../config/schema.js';
import { clockedRemoteJwks } from '../http/remote-jwks.js';

export type Fetch = typeof fetch;

/** Key resolver for a trusted upstream: inline keys, or its jwks_uri with timeout, size cap, cache and cooldown timed by the broker's clock. */
export function upstreamKeyResolver(issuer: Pick<TrustedIssuerConfig, 'issuer' | 'jwks_uri' | 'jwks' | 'algorithms'>, clock: Clock, fetchImpl?: Fetch): JWTVerifyGetKey {
  if (issuer.jwks) return createLocalJWKSet(issuer.jwks as JSONWebKeySet);
  return clockedRemoteJwks(new URL(issuer.jwks_uri!), { clock, fetch: fetchImpl });
}
