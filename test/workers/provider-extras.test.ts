/**
 * The OpenID Provider's additions of issue 9 §5 on workerd with D1: the companion ID-token key
 * (WebCrypto RSA, kept in D1's broker secrets), the access-token revocation list on D1's replay
 * table, and CORS through the Worker.
 */
import { env } from 'cloudflare:workers';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { describe, expect, it } from 'vitest';
import type { BrokerServices } from '../../src/grants/services.js';
import { KeyRing } from '../../src/minting/keys.js';
import { accessTokenRevoked, revokeAccessToken } from '../../src/provider/own-tokens.js';
import type { AccessTokenClaims } from '../../src/provider/tokens.js';
import { createD1Store } from '../../src/store/adapters/d1.js';
import { BROKER, call, testFiles, testWorker } from './helpers.js';

describe('the companion ID-token key on D1', () => {
  it('is made once in the broker secrets, published, and signs verifiably; a second isolate uses the same key', async () => {
    const now = Math.floor(Date.now() / 1000);
    const first = new KeyRing(createD1Store(env.DB).keys, 'ES256', undefined, { algs: ['RS256'], secrets: createD1Store(env.DB).secrets });
    await first.init(now);
    const second = new KeyRing(createD1Store(env.DB).keys, 'ES256', undefined, { algs: ['RS256'], secrets: createD1Store(env.DB).secrets });
    await second.init(now);

    const rsa = (ring: KeyRing) => ring.jwks().keys.filter((k) => k.kty === 'RSA');
    expect(rsa(first)).toHaveLength(1);
    expect(rsa(second)).toEqual(rsa(first));
    expect(rsa(first)[0]).not.toHaveProperty('d');

    const token = await second.signingKey('RS256').sign({ iss: BROKER, sub: 's', aud: 'c', iat: now, exp: now + 60 }, 'JWT');
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'RS256', kid: rsa(first)[0]!.kid });
    await jwtVerify(token, createLocalJWKSet(first.jwks() as JSONWebKeySet), { algorithms: ['RS256'] });
    // The ring's own key still signs with ES256.
    expect(first.signingKey().alg).toBe('ES256');
  });
});

describe('the access-token revocation list on D1', () => {
  it('answers revoked only after a revocation, until the token expires', async () => {
    const services = { store: createD1Store(env.DB) } as unknown as BrokerServices;
    const now = 1_000_000;
    const token: AccessTokenClaims = { sub: 's', client_id: 'c', scope: 'openid', sid: 'x', jti: 'jti-1', iat: now, exp: now + 300 };
    expect(await accessTokenRevoked(services, token, now)).toBe(false);
    expect(await accessTokenRevoked(services, token, now + 1)).toBe(false);
    await revokeAccessToken(services, token, now + 1);
    expect(await accessTokenRevoked(services, token, now + 2)).toBe(true);
    expect(await accessTokenRevoked(services, token, now + 300)).toBe(true);
    expect(await accessTokenRevoked(services, { ...token, jti: 'jti-2' }, now + 2)).toBe(false);
  });
});

describe('CORS through the Worker', () => {
  const files = { ...testFiles, broker: { ...testFiles.broker, text: `${testFiles.broker.text}\ncors_origins: [https://spa.example]\n` } };

  it('echoes a configured origin on discovery, the JWKS and /token, and gives an unlisted one nothing', async () => {
    const worker = testWorker({ files });
    for (const path of ['/.well-known/openid-configuration', '/jwks']) {
      const listed = await call(worker, path, { headers: { origin: 'https://spa.example' } });
      expect(listed.headers.get('access-control-allow-origin'), path).toBe('https://spa.example');
      const stranger = await call(worker, path, { headers: { origin: 'https://evil.example' } });
      expect(stranger.headers.get('access-control-allow-origin'), path).toBeNull();
    }
    const preflight = await call(worker, '/token', { method: 'OPTIONS', headers: { origin: 'https://spa.example', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://spa.example');
    const metadata = (await (await call(worker, '/.well-known/openid-configuration')).json()) as Record<string, unknown>;
    expect(metadata.id_token_signing_alg_values_supported).toEqual(['ES256', 'RS256']);
    expect(metadata).toMatchObject({ revocation_endpoint: `${BROKER}/revoke`, introspection_endpoint: `${BROKER}/introspect` });
  });
});
