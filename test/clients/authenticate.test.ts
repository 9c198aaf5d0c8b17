import type { JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { checkClientAssertionClaims, ClientAuthenticator, JWT_BEARER_ASSERTION_TYPE, presentedCredentials } from '../../src/clients/authenticate.js';
import { constantTimeEqual, generateSecret, hashSecret, verifySecret } from '../../src/clients/secrets.js';
import type { ClientConfig } from '../../src/config/schema.js';
import { CLIENT_ASSERTION_MAX_LIFETIME, CLOCK_SKEW, PBKDF2_MIN_ITERATIONS } from '../../src/constants.js';
import { FormParams } from '../../src/http/form.js';
import { InvalidClient, InvalidRequest, OAuthError } from '../../src/oauth/errors.js';

const basic = (id: string, secret: string) => `Basic ${btoa(`${id}:${secret}`)}`;
const form = (params: Record<string, string | string[]>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) p.append(k, one);
  return FormParams.from(p.toString());
};

function thrown(fn: () => unknown): OAuthError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OAuthError);
    return err as OAuthError;
  }
  throw new Error('expected a refusal');
}

describe('presentedCredentials', () => {
  it('reads client_secret_basic', () => {
    expect(presentedCredentials(basic('wiki-agent', 's3cret'), form({}))).toEqual({ method: 'client_secret_basic', clientId: 'wiki-agent', secret: 's3cret' });
  });

  it('accepts the Basic scheme name in any case', () => {
    expect(presentedCredentials(`bAsIc ${btoa('a:b')}`, form({})).method).toBe('client_secret_basic');
  });

  it('form-decodes both Basic parts (RFC 6749 §2.3.1)', () => {
    expect(presentedCredentials(basic('my%20client', 'a+b%3Ac'), form({}))).toMatchObject({ clientId: 'my client', secret: 'a b:c' });
  });

  it('keeps a colon in the secret (only the first colon separates)', () => {
    expect(presentedCredentials(`Basic ${btoa('id:se:cret')}`, form({}))).toMatchObject({ clientId: 'id', secret: 'se:cret' });
  });

  it('accepts Basic with the same client_id in the body', () => {
    expect(presentedCredentials(basic('wiki-agent', 's'), form({ client_id: 'wiki-agent' })).method).toBe('client_secret_basic');
  });

  it('refuses Basic whose client_id differs from the body client_id, with a Basic challenge', () => {
    const err = thrown(() => presentedCredentials(basic('wiki-agent', 's'), form({ client_id: 'other' })));
    expect(err).toBeInstanceOf(InvalidClient);
    expect(err.reason).toBe('client_id_mismatch');
    expect((err as InvalidClient).usedBasic).toBe(true);
  });

  it('refuses Basic credentials that are not base64', () => {
    const err = thrown(() => presentedCredentials('Basic %%%not-base64%%%', form({})));
    expect(err).toBeInstanceOf(InvalidClient);
    expect(err.reason).toBe('client_auth_missing');
    expect((err as InvalidClient).usedBasic).toBe(true);
  });

  it('refuses Basic credentials without a colon', () => {
    expect(thrown(() => presentedCredentials(`Basic ${btoa('just-an-id')}`, form({}))).reason).toBe('client_auth_missing');
  });

  it('refuses Basic credentials with an empty client_id', () => {
    expect(thrown(() => presentedCredentials(`Basic ${btoa(':secret')}`, form({}))).reason).toBe('client_auth_missing');
  });

  it('refuses Basic credentials that are not UTF-8', () => {
    expect(thrown(() => presentedCredentials(`Basic ${btoa('\xff\xfe:x')}`, form({}))).reason).toBe('client_auth_missing');
  });

  it('refuses Basic credentials with a malformed percent-escape', () => {
    expect(thrown(() => presentedCredentials(basic('id%zz', 'x'), form({}))).reason).toBe('client_auth_missing');
  });

  it('refuses an empty Basic value', () => {
    expect(thrown(() => presentedCredentials('Basic ', form({}))).reason).toBe('client_auth_missing');
  });

  it('reads client_secret_post', () => {
    expect(presentedCredentials(undefined, form({ client_id: 'wiki-agent', client_secret: 's' }))).toEqual({ method: 'client_secret_post', clientId: 'wiki-agent', secret: 's' });
  });

  it('refuses client_secret without client_id', () => {
    const err = thrown(() => presentedCredentials(undefined, form({ client_secret: 's' })));
    expect(err).toBeInstanceOf(InvalidClient);
    expect(err.reason).toBe('client_auth_missing');
    expect((err as InvalidClient).usedBasic).toBe(false);
  });

  it('refuses Basic plus client_secret in the body as invalid_request (RFC 6749 §2.3)', () => {
    const err = thrown(() => presentedCredentials(basic('wiki-agent', 's'), form({ client_id: 'wiki-agent', client_secret: 's' })));
    expect(err).toBeInstanceOf(InvalidRequest);
    expect(err.reason).toBe('client_auth_multiple');
  });

  it('refuses client_secret plus client_assertion', () => {
    const err = thrown(() => presentedCredentials(undefined, form({ client_id: 'a', client_secret: 's', client_assertion: 'x.y.z', client_assertion_type: JWT_BEARER_ASSERTION_TYPE })));
    expect(err.reason).toBe('client_auth_multiple');
  });

  it('refuses Basic plus client_assertion', () => {
    const err = thrown(() => presentedCredentials(basic('a', 's'), form({ client_assertion: 'x.y.z', client_assertion_type: JWT_BEARER_ASSERTION_TYPE })));
    expect(err.reason).toBe('client_auth_multiple');
  });

  it('reads private_key_jwt, with or without client_id', () => {
    expect(presentedCredentials(undefined, form({ client_assertion: 'x.y.z', client_assertion_type: JWT_BEARER_ASSERTION_TYPE }))).toEqual({ method: 'private_key_jwt', assertion: 'x.y.z' });
    expect(presentedCredentials(undefined, form({ client_id: 'c', client_assertion: 'x.y.z', client_assertion_type: JWT_BEARER_ASSERTION_TYPE }))).toEqual({
      method: 'private_key_jwt',
      assertion: 'x.y.z',
      clientId: 'c',
    });
  });

  it('refuses a client_assertion with the wrong client_assertion_type', () => {
    const err = thrown(() => presentedCredentials(undefined, form({ client_assertion: 'x.y.z', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' })));
    expect(err).toBeInstanceOf(InvalidRequest);
    expect(err.reason).toBe('invalid_parameter');
  });

  it('refuses a client_assertion without client_assertion_type', () => {
    expect(thrown(() => presentedCredentials(undefined, form({ client_assertion: 'x.y.z' }))).reason).toBe('invalid_parameter');
  });

  it('reads a bare client_id as method none', () => {
    expect(presentedCredentials(undefined, form({ client_id: 'spa' }))).toEqual({ method: 'none', clientId: 'spa' });
  });

  it('refuses a request with no client identification at all', () => {
    const err = thrown(() => presentedCredentials(undefined, form({})));
    expect(err).toBeInstanceOf(InvalidClient);
    expect(err.reason).toBe('client_auth_missing');
  });

  it('ignores an Authorization header of another scheme', () => {
    expect(presentedCredentials('Bearer abc', form({ client_id: 'x', client_secret: 'y' })).method).toBe('client_secret_post');
  });

  it('refuses a repeated client_secret', () => {
    expect(thrown(() => presentedCredentials(undefined, form({ client_id: 'a', client_secret: ['s', 's'] }))).reason).toBe('duplicate_parameter');
  });

  it('treats an empty client_secret as absent', () => {
    expect(presentedCredentials(undefined, form({ client_id: 'spa', client_secret: '' })).method).toBe('none');
  });
});

describe('checkClientAssertionClaims (RFC 7523 §3)', () => {
  const NOW = 1_800_000_000;
  const AUDS = ['https://broker.test'];
  const good: JWTPayload = { iss: 'jwt-agent', sub: 'jwt-agent', aud: 'https://broker.test', exp: NOW + 60, iat: NOW, jti: 'j-1' };
  const check = (overrides: Record<string, unknown>) => {
    const p = { ...good, ...overrides } as Record<string, unknown>;
    for (const [k, v] of Object.entries(overrides)) if (v === undefined) delete p[k];
    return checkClientAssertionClaims(p as JWTPayload, 'jwt-agent', AUDS, NOW);
  };

  it('accepts a valid assertion', () => {
    expect(check({})).toBeUndefined();
  });

  it('accepts the issuer as aud, and refuses any array (RFC 7523bis: a single string)', () => {
    expect(check({ aud: 'https://broker.test' })).toBeUndefined();
    expect(check({ aud: ['https://broker.test'] })).toMatch(/single string/);
    expect(check({ aud: ['https://elsewhere.test', 'https://broker.test'] })).toMatch(/single string/);
  });

  it('refuses the token endpoint URL unless it is among the accepted audiences', () => {
    expect(check({ aud: 'https://broker.test/token' })).toMatch(/aud/);
    const p = { ...good, aud: 'https://broker.test/token' };
    expect(checkClientAssertionClaims(p, 'jwt-agent', ['https://broker.test', 'https://broker.test/token'], NOW)).toBeUndefined();
  });

  it('refuses iss other than the client_id', () => {
    expect(check({ iss: 'someone-else' })).toMatch(/iss/);
  });

  it('refuses a missing iss', () => {
    expect(check({ iss: undefined })).toMatch(/iss/);
  });

  it('refuses sub other than the client_id', () => {
    expect(check({ sub: 'someone-else' })).toMatch(/sub/);
  });

  it('refuses an aud naming another server', () => {
    expect(check({ aud: 'https://other.test/token' })).toMatch(/aud/);
  });

  it('refuses a missing aud', () => {
    expect(check({ aud: undefined })).toMatch(/aud/);
  });

  it('refuses a missing exp', () => {
    expect(check({ exp: undefined })).toMatch(/exp/);
  });

  it('refuses an assertion expired beyond the skew', () => {
    expect(check({ exp: NOW - CLOCK_SKEW, iat: NOW - CLOCK_SKEW - 60 })).toBe('expired');
  });

  it('accepts an assertion expired within the skew', () => {
    expect(check({ exp: NOW - CLOCK_SKEW + 1, iat: NOW - CLOCK_SKEW - 60 })).toBeUndefined();
  });

  it('refuses a missing jti', () => {
    expect(check({ jti: undefined })).toMatch(/jti/);
  });

  it('refuses an empty jti', () => {
    expect(check({ jti: '' })).toMatch(/jti/);
  });

  it('refuses an oversized jti', () => {
    expect(check({ jti: 'j'.repeat(257) })).toMatch(/jti/);
  });

  it('refuses a non-string jti', () => {
    expect(check({ jti: 12345 })).toMatch(/jti/);
  });

  it('refuses nbf in the future beyond the skew', () => {
    expect(check({ nbf: NOW + CLOCK_SKEW + 1 })).toBe('not yet valid');
  });

  it('refuses iat in the future beyond the skew', () => {
    expect(check({ iat: NOW + CLOCK_SKEW + 1, exp: NOW + CLOCK_SKEW + 100 })).toBe('iat in the future');
  });

  it('refuses a lifetime above the cap, measured from iat', () => {
    expect(check({ iat: NOW, exp: NOW + CLIENT_ASSERTION_MAX_LIFETIME + 1 })).toBe('lifetime too long');
  });

  it('accepts a lifetime exactly at the cap', () => {
    expect(check({ iat: NOW, exp: NOW + CLIENT_ASSERTION_MAX_LIFETIME })).toBeUndefined();
  });

  it('measures the lifetime from now when iat is absent', () => {
    expect(check({ iat: undefined, exp: NOW + CLIENT_ASSERTION_MAX_LIFETIME + 1 })).toBe('lifetime too long');
    expect(check({ iat: undefined, exp: NOW + CLIENT_ASSERTION_MAX_LIFETIME })).toBeUndefined();
  });
});

describe('client secrets', () => {
  it('round-trips a hash', async () => {
    const secret = generateSecret();
    const stored = await hashSecret(secret, PBKDF2_MIN_ITERATIONS);
    expect(stored).toMatch(/^pbkdf2-sha256\$10000\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
    expect(await verifySecret(secret, stored)).toBe(true);
  });

  it('salts: the same secret hashes differently twice', async () => {
    expect(await hashSecret('s', PBKDF2_MIN_ITERATIONS)).not.toBe(await hashSecret('s', PBKDF2_MIN_ITERATIONS));
  });

  it('hashes with the default iteration count and verifies it', async () => {
    const stored = await hashSecret('default-secret');
    expect(stored.split('$')[1]).toBe('100000');
    expect(await verifySecret('default-secret', stored)).toBe(true);
  });

  it('refuses a wrong secret', async () => {
    const stored = await hashSecret('right', PBKDF2_MIN_ITERATIONS);
    expect(await verifySecret('wrong', stored)).toBe(false);
    expect(await verifySecret('right ', stored)).toBe(false);
    expect(await verifySecret('', stored)).toBe(false);
  });

  it('refuses a tampered hash part', async () => {
    const stored = await hashSecret('right', PBKDF2_MIN_ITERATIONS);
    const [scheme, iter, salt, hash] = stored.split('$') as [string, string, string, string];
    const flipped = (hash[0] === 'A' ? 'B' : 'A') + hash.slice(1);
    expect(await verifySecret('right', [scheme, iter, salt, flipped].join('$'))).toBe(false);
  });

  it('refuses a tampered salt', async () => {
    const stored = await hashSecret('right', PBKDF2_MIN_ITERATIONS);
    const [scheme, iter, salt, hash] = stored.split('$') as [string, string, string, string];
    const flipped = (salt[0] === 'A' ? 'B' : 'A') + salt.slice(1);
    expect(await verifySecret('right', [scheme, iter, flipped, hash].join('$'))).toBe(false);
  });

  it('refuses a tampered iteration count', async () => {
    const stored = await hashSecret('right', PBKDF2_MIN_ITERATIONS);
    const [scheme, , salt, hash] = stored.split('$') as [string, string, string, string];
    expect(await verifySecret('right', [scheme, String(PBKDF2_MIN_ITERATIONS + 1), salt, hash].join('$'))).toBe(false);
  });

  it('refuses a hash truncated by one character', async () => {
    const stored = await hashSecret('right', PBKDF2_MIN_ITERATIONS);
    expect(await verifySecret('right', stored.slice(0, -1))).toBe(false);
  });

  it('refuses (does not throw on) a hash part that is not decodable base64url', async () => {
    const stored = await hashSecret('right', PBKDF2_MIN_ITERATIONS);
    const [scheme, iter, salt] = stored.split('$') as [string, string, string, string];
    await expect(verifySecret('right', [scheme, iter, salt, 'A'].join('$'))).resolves.toBe(false);
    await expect(verifySecret('right', [scheme, iter, 'A', 'AAAA'].join('$'))).resolves.toBe(false);
  });

  it('refuses an unknown scheme', async () => {
    const stored = await hashSecret('right', PBKDF2_MIN_ITERATIONS);
    expect(await verifySecret('right', stored.replace('pbkdf2-sha256', 'pbkdf2-sha1'))).toBe(false);
  });

  it('refuses malformed stored strings', async () => {
    for (const stored of ['', 'pbkdf2-sha256', 'pbkdf2-sha256$abc$salt$hash', 'pbkdf2-sha256$10000$$hash', 'pbkdf2-sha256$10000$salt$', 'pbkdf2-sha256$1e5$AAAA$AAAA']) {
      expect(await verifySecret('x', stored)).toBe(false);
    }
  });

  it('refuses too few iterations even when the hash is genuine', async () => {
    const weak = await hashSecret('right', PBKDF2_MIN_ITERATIONS - 1);
    expect(await verifySecret('right', weak)).toBe(false);
  });

  it('constantTimeEqual: equal inputs', () => {
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });

  it('constantTimeEqual: same length, different content (first, middle, last byte)', () => {
    expect(constantTimeEqual(new Uint8Array([9, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array([1, 9, 3]), new Uint8Array([1, 2, 3]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array([1, 2, 9]), new Uint8Array([1, 2, 3]))).toBe(false);
  });

  it('constantTimeEqual: different lengths, including a prefix and the empty array', () => {
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array([0]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array([0]), new Uint8Array(0))).toBe(false);
    // A repeated-prefix input that wraps around the shorter array must still differ by length.
    expect(constantTimeEqual(new Uint8Array([1, 1]), new Uint8Array([1]))).toBe(false);
  });

});

describe('ClientAuthenticator with a damaged stored hash', () => {
  it('refuses as invalid_client instead of failing with a server error', async () => {
    const client = { client_id: 'c', token_endpoint_auth_method: 'client_secret_post', client_secret_hash: 'pbkdf2-sha256$10000$AAAA$A', upstream_client_ids: {}, destinations: {} } as ClientConfig;
    const auth = new ClientAuthenticator({ clients: new Map([['c', client]]), assertionAudiences: [], replay: { consume: async () => true } });
    const err = await auth.authenticate(undefined, form({ client_id: 'c', client_secret: 'x' }), 0).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidClient);
    expect((err as InvalidClient).reason).toBe('client_secret_mismatch');
  });
});

describe('ClientAuthenticator secret cache', () => {
  async function authenticator(secret: string) {
    const client = { client_id: 'c', token_endpoint_auth_method: 'client_secret_post', client_secret_hash: await hashSecret(secret, 10_000), upstream_client_ids: {}, destinations: {} } as ClientConfig;
    return new ClientAuthenticator({ clients: new Map([['c', client]]), assertionAudiences: [], replay: { consume: async () => true } });
  }
  const attempt = (auth: ClientAuthenticator, secret: string) =>
    auth.authenticate(undefined, form({ client_id: 'c', client_secret: secret }), 0).then(
      () => 'ok',
      (err: { reason: string }) => err.reason,
    );

  it('a cached success never lets a different secret through', async () => {
    const auth = await authenticator('right-secret');
    expect(await attempt(auth, 'right-secret')).toBe('ok');
    expect(await attempt(auth, 'right-secret')).toBe('ok');
    expect(await attempt(auth, 'wrong-secret')).toBe('client_secret_mismatch');
    expect(await attempt(auth, 'right-secre')).toBe('client_secret_mismatch');
    expect(await attempt(auth, 'right-secret-')).toBe('client_secret_mismatch');
    expect(await attempt(auth, 'right-secret')).toBe('ok');
  });

  it('a failed attempt does not evict or poison the cache', async () => {
    const auth = await authenticator('s1');
    expect(await attempt(auth, 'nope')).toBe('client_secret_mismatch');
    expect(await attempt(auth, 's1')).toBe('ok');
  });
});

describe('ClientAuthenticator failure throttle', () => {
  it('stops running PBKDF2 for a client after repeated failures, but never locks out its verified secret', async () => {
    const { CLIENT_AUTH_MAX_FAILURES } = await import('../../src/constants.js');
    const client = { client_id: 'c', token_endpoint_auth_method: 'client_secret_post', client_secret_hash: await hashSecret('good', 10_000), upstream_client_ids: {}, destinations: {} } as ClientConfig;
    const auth = new ClientAuthenticator({ clients: new Map([['c', client]]), assertionAudiences: [], replay: { consume: async () => true } });
    const attempt = (secret: string) =>
      auth.authenticate(undefined, form({ client_id: 'c', client_secret: secret }), 0).then(
        () => 'ok',
        (err: { reason: string }) => err.reason,
      );
    expect(await attempt('good')).toBe('ok'); // now cached
    for (let i = 0; i < CLIENT_AUTH_MAX_FAILURES; i++) expect(await attempt(`bad-${i}`)).toBe('client_secret_mismatch');
    expect(await attempt('bad-again')).toBe('client_auth_throttled');
    expect(await attempt('good')).toBe('ok');
  });
});
