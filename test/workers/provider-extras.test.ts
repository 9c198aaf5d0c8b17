/**
 * The OpenID Provider's additions of issue 9 §5 on workerd with D1: the RS256 ID-token key
 * (WebCrypto RSA, rows of D1's key table, rotating with the ES256 keys), the access-token
 * revocation list on D1's replay table, and CORS through the Worker.
 */
import { env } from 'cloudflare:workers';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { describe, expect, it } from 'vitest';
import type { BrokerServices } from '../../src/grants/services.js';
import { NEXT_KEY_MIN_AGE, RETIRED_KEY_GRACE } from '../../src/constants.js';
import { KeyRing } from '../../src/minting/keys.js';
import { accessTokenRevoked, revokeAccessToken } from '../../src/provider/own-tokens.js';
import type { AccessTokenClaims } from '../../src/provider/tokens.js';
import { createD1Store } from '../../src/store/adapters/d1.js';
import { BROKER, call, testFiles, testWorker } from './helpers.js';

describe('the RS256 ID-token key on D1', () => {
  const ring = () => new KeyRing(createD1Store(env.DB).keys, 'ES256', undefined, { algs: ['RS256'], secrets: createD1Store(env.DB).secrets });
  const rsa = (r: KeyRing) => r.jwks().keys.filter((k) => k.kty === 'RSA');

  it('is made once in the key table (active and next), published, and signs verifiably; a second isolate uses the same key', async () => {
    const now = Math.floor(Date.now() / 1000);
    const first = ring();
    await first.init(now);
    const second = ring();
    await second.init(now);

    expect(rsa(first)).toHaveLength(2);
    expect(rsa(second).map((k) => k.kid).sort()).toEqual(rsa(first).map((k) => k.kid).sort());
    for (const k of rsa(first)) expect(k).not.toHaveProperty('d');
    expect(second.signingKey('RS256').kid).toBe(first.signingKey('RS256').kid);

    const token = await second.signingKey('RS256').sign({ iss: BROKER, sub: 's', aud: 'c', iat: now, exp: now + 60 }, 'JWT');
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'RS256', kid: first.signingKey('RS256').kid });
    await jwtVerify(token, createLocalJWKSet(first.jwks() as JSONWebKeySet), { algorithms: ['RS256'] });
    // The ring's own key still signs with ES256.
    expect(first.signingKey().alg).toBe('ES256');
  });

  it('rotates with the ES256 keys in one D1 batch: a new kid signs, the old one stays published until its grace ends', async () => {
    const now = Math.floor(Date.now() / 1000);
    const r = ring();
    await r.init(now);
    const old = r.signingKey('RS256').kid;
    const oldEc = r.signingKey().kid;
    const token = await r.signingKey('RS256').sign({ iss: BROKER, sub: 's', aud: 'c', iat: now, exp: now + 60 }, 'JWT');
    const at = now + NEXT_KEY_MIN_AGE + 1;
    const rotated = await r.rotate(at);
    expect(rotated.retired).toBe(oldEc);
    expect(rotated.others).toEqual([expect.objectContaining({ alg: 'RS256', retired: old })]);
    const other = ring();
    await other.init(at);
    expect(other.signingKey('RS256').kid).not.toBe(old);
    expect(other.signingKey('RS256').kid).toBe(rotated.others[0]!.activated);
    expect(rsa(other).map((k) => k.kid)).toContain(old);
    await jwtVerify(token, createLocalJWKSet(other.jwks() as JSONWebKeySet), { algorithms: ['RS256'], currentDate: new Date(now * 1000) });
    await other.reload(at + RETIRED_KEY_GRACE);
    expect(rsa(other).map((k) => k.kid)).not.toContain(old);
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
