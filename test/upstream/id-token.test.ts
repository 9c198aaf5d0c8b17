import { generateKeyPair, SignJWT, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { describe, expect, it } from 'vitest';
import { CLOCK_SKEW } from '../../src/constants.js';
import { webJws, type JwsCrypto } from '../../src/minting/jws.js';
import { checkHeader, checkIdTokenClaims, IdTokenVerifier, type TrustedIssuer } from '../../src/upstream/id-token.js';

const ISS = 'https://idp.test';
const NOW = 1_800_000_000;
const ALGS = ['ES256', 'RS256'];

function header(h: Partial<ProtectedHeaderParameters>): ProtectedHeaderParameters {
  return { alg: 'ES256', kid: 'k1', ...h } as ProtectedHeaderParameters;
}

const valid: JWTPayload = { iss: ISS, sub: 'alice', aud: 'wiki-agent', iat: NOW - 10, exp: NOW + 300 };

function check(overrides: Record<string, unknown>, opts: { audiences?: string[]; now?: number; skew?: number } = {}) {
  const claims = { ...valid, ...overrides } as JWTPayload;
  for (const [k, v] of Object.entries(overrides)) if (v === undefined) delete (claims as Record<string, unknown>)[k];
  return checkIdTokenClaims(claims, {
    issuer: ISS,
    audiences: opts.audiences ?? ['wiki-agent'],
    now: opts.now ?? NOW,
    ...(opts.skew !== undefined ? { skew: opts.skew } : {}),
  });
}

function reasonOf(result: ReturnType<typeof check> | ReturnType<typeof checkHeader>): string | undefined {
  return result.ok ? undefined : result.reason;
}

describe('checkHeader', () => {
  it('accepts an allowed alg with typ JWT', () => {
    expect(checkHeader(header({ typ: 'JWT' }), ALGS)).toEqual({ ok: true, value: undefined });
  });

  it('accepts an allowed alg without typ', () => {
    expect(checkHeader(header({}), ALGS).ok).toBe(true);
  });

  it('refuses an ID-JAG presented as subject token with its own reason', () => {
    expect(reasonOf(checkHeader(header({ typ: 'oauth-id-jag+jwt' }), ALGS))).toBe('subject_token_is_id_jag');
  });

  it('compares typ as a media type: case-insensitive, application/ prefix optional', () => {
    expect(reasonOf(checkHeader(header({ typ: 'OAuth-ID-JAG+JWT' }), ALGS))).toBe('subject_token_is_id_jag');
    expect(reasonOf(checkHeader(header({ typ: 'application/oauth-id-jag+jwt' }), ALGS))).toBe('subject_token_is_id_jag');
  });

  it('refuses an access token (typ at+jwt)', () => {
    const r = checkHeader(header({ typ: 'at+jwt' }), ALGS);
    expect(reasonOf(r)).toBe('subject_token_not_id_token');
    expect(r.ok ? '' : r.detail).toContain('at+jwt');
  });

  it('refuses a logout token (typ logout+jwt)', () => {
    expect(reasonOf(checkHeader(header({ typ: 'application/logout+jwt' }), ALGS))).toBe('subject_token_not_id_token');
  });

  it('refuses a security event token (typ secevent+jwt)', () => {
    expect(reasonOf(checkHeader(header({ typ: 'secevent+jwt' }), ALGS))).toBe('subject_token_not_id_token');
  });

  it('refuses alg none', () => {
    expect(reasonOf(checkHeader(header({ alg: 'none' }), ALGS))).toBe('alg_not_allowed');
  });

  it('refuses a symmetric alg', () => {
    expect(reasonOf(checkHeader(header({ alg: 'HS256' }), ALGS))).toBe('alg_not_allowed');
  });

  it('refuses an asymmetric alg the issuer is not configured for', () => {
    expect(reasonOf(checkHeader(header({ alg: 'RS256' }), ['ES256']))).toBe('alg_not_allowed');
  });

  it('refuses a header without alg', () => {
    const h = header({});
    delete (h as Record<string, unknown>).alg;
    expect(reasonOf(checkHeader(h, ALGS))).toBe('alg_not_allowed');
  });

  it('compares alg exactly (no case folding)', () => {
    expect(reasonOf(checkHeader(header({ alg: 'es256' }), ALGS))).toBe('alg_not_allowed');
  });
});

describe('checkIdTokenClaims', () => {
  it('accepts a valid ID token and returns what the broker reads', () => {
    const r = check({ email: 'a@example.com' });
    expect(r).toEqual({
      ok: true,
      value: { issuer: ISS, subject: 'alice', audience: ['wiki-agent'], expiresAt: NOW + 300, claims: expect.objectContaining({ email: 'a@example.com' }) },
    });
  });

  it('refuses an iss other than the issuer whose key verified it', () => {
    expect(reasonOf(check({ iss: 'https://other.test' }))).toBe('issuer_untrusted');
  });

  it('refuses a missing sub', () => {
    const r = check({ sub: undefined });
    expect(reasonOf(r)).toBe('claim_missing');
    expect(r.ok ? '' : r.detail).toBe('sub');
  });

  it('refuses an empty sub', () => {
    expect(reasonOf(check({ sub: '' }))).toBe('claim_missing');
  });

  it('refuses a non-string sub', () => {
    expect(reasonOf(check({ sub: 42 }))).toBe('claim_missing');
  });

  it('refuses a missing exp', () => {
    const r = check({ exp: undefined });
    expect(r.ok ? '' : r.detail).toBe('exp');
  });

  it('refuses a non-numeric exp', () => {
    expect(reasonOf(check({ exp: String(NOW + 300) }))).toBe('claim_missing');
  });

  it('refuses a missing iat (OIDC Core §2: iat is required)', () => {
    const r = check({ iat: undefined });
    expect(r.ok ? '' : r.detail).toBe('iat');
  });

  it('refuses a missing aud', () => {
    const r = check({ aud: undefined });
    expect(reasonOf(r)).toBe('claim_missing');
    expect(r.ok ? '' : r.detail).toBe('aud');
  });

  it('refuses an empty aud array', () => {
    expect(reasonOf(check({ aud: [] }))).toBe('claim_missing');
  });

  it('refuses a token whose exp is past by the skew', () => {
    expect(reasonOf(check({ exp: NOW - CLOCK_SKEW }))).toBe('expired');
  });

  it('accepts a token expired by less than the skew', () => {
    expect(check({ exp: NOW - CLOCK_SKEW + 1 }).ok).toBe(true);
  });

  it('applies a caller-given skew', () => {
    expect(reasonOf(check({ exp: NOW - 1 }, { skew: 0 }))).toBe('expired');
    expect(check({ exp: NOW - 1 }, { skew: 5 }).ok).toBe(true);
  });

  it('refuses nbf in the future beyond the skew', () => {
    expect(reasonOf(check({ nbf: NOW + CLOCK_SKEW + 1 }))).toBe('not_yet_valid');
  });

  it('accepts nbf in the future within the skew', () => {
    expect(check({ nbf: NOW + CLOCK_SKEW }).ok).toBe(true);
  });

  it('refuses iat in the future beyond the skew', () => {
    expect(reasonOf(check({ iat: NOW + CLOCK_SKEW + 1 }))).toBe('iat_in_future');
  });

  it('accepts iat in the future within the skew', () => {
    expect(check({ iat: NOW + CLOCK_SKEW }).ok).toBe(true);
  });

  it('refuses a token issued to another client', () => {
    expect(reasonOf(check({ aud: 'other-client' }))).toBe('aud_mismatch');
  });

  it('accepts the client in an aud array when azp names it', () => {
    const r = check({ aud: ['wiki-agent', 'other'], azp: 'wiki-agent' });
    expect(r.ok && r.value.audience).toEqual(['wiki-agent', 'other']);
  });

  it('refuses several audiences without azp', () => {
    const r = check({ aud: ['wiki-agent', 'other'] });
    expect(reasonOf(r)).toBe('aud_mismatch');
    expect(r.ok ? '' : r.detail).toBe('azp');
  });

  it('refuses several audiences whose azp names another client', () => {
    expect(reasonOf(check({ aud: ['wiki-agent', 'other'], azp: 'other' }))).toBe('aud_mismatch');
  });

  it('refuses a single audience whose azp names another party', () => {
    expect(reasonOf(check({ aud: 'wiki-agent', azp: 'other' }))).toBe('aud_mismatch');
  });

  it('refuses a non-string azp', () => {
    expect(reasonOf(check({ azp: ['wiki-agent'] }))).toBe('aud_mismatch');
  });

  it('accepts a single audience with azp naming the client', () => {
    expect(check({ azp: 'wiki-agent' }).ok).toBe(true);
  });

  it('accepts the client under its upstream client_id (any of the accepted audiences)', () => {
    expect(check({ aud: 'wiki-at-idp' }, { audiences: ['wiki-at-idp'] }).ok).toBe(true);
  });

  it('refuses an aud array with a non-string entry (issue 6 §2: non-string aud entries refused)', () => {
    const r = check({ aud: [7, 'wiki-agent'] });
    expect(reasonOf(r)).toBe('token_malformed');
    expect(r.ok ? '' : r.detail).toContain('aud');
  });
});

describe('checkIdTokenClaims: ID-token evidence (issue 6 §2, token confusion)', () => {
  it.each([['scp', 'todos.write'], ['scp', ['todos.write']], ['scope', 'openid todos.write']])('refuses a token carrying the access-token claim %s', (name, value) => {
    const r = check({ [name]: value });
    expect(reasonOf(r)).toBe('subject_token_not_id_token');
    expect(r.ok ? '' : r.detail).toContain(name);
  });

  it.each([['client_id'], ['appid'], ['cid']])('refuses %s naming another app than the audience', (name) => {
    const r = check({ [name]: 'some-other-app' });
    expect(reasonOf(r)).toBe('subject_token_not_id_token');
    expect(r.ok ? '' : r.detail).toContain(name);
  });

  it.each([['client_id'], ['appid'], ['cid']])('accepts %s naming the client itself', (name) => {
    expect(check({ [name]: 'wiki-agent' }).ok).toBe(true);
  });

  it('refuses a non-string client_id', () => {
    expect(reasonOf(check({ client_id: ['wiki-agent'] }))).toBe('subject_token_not_id_token');
  });

  it('refuses token_use other than id (Cognito access tokens)', () => {
    expect(reasonOf(check({ token_use: 'access' }))).toBe('subject_token_not_id_token');
    expect(check({ token_use: 'id' }).ok).toBe(true);
  });

  it('refuses a payload typ naming an access or refresh token (Keycloak marks its tokens so)', () => {
    expect(reasonOf(check({ typ: 'Bearer' }))).toBe('subject_token_not_id_token');
    expect(reasonOf(check({ typ: 'Refresh' }))).toBe('subject_token_not_id_token');
    expect(check({ typ: 'ID' }).ok).toBe(true);
  });

  it('the reproduced access token: aud = the client, scp, appid of another app, no azp', () => {
    expect(reasonOf(check({ scp: 'todos.write', appid: '00000000-other-app', azp: undefined }))).toBe('subject_token_not_id_token');
  });
});

describe('checkHeader: explicit typing per upstream', () => {
  const typing = { accepted: ['JWT'], required: false };
  it('refuses a typ the upstream does not use for ID tokens', () => {
    const r = checkHeader(header({ typ: 'application/jose' }), ALGS, typing);
    expect(reasonOf(r)).toBe('subject_token_not_id_token');
  });

  it('accepts the configured typ, compared as a media type', () => {
    expect(checkHeader(header({ typ: 'jwt' }), ALGS, typing).ok).toBe(true);
    expect(checkHeader(header({ typ: 'application/id_token+jwt' }), ALGS, { accepted: ['id_token+jwt'], required: true }).ok).toBe(true);
  });

  it('refuses an untyped token where the upstream always types its ID tokens', () => {
    expect(reasonOf(checkHeader(header({}), ALGS, { accepted: ['JWT'], required: true }))).toBe('subject_token_not_id_token');
    expect(checkHeader(header({}), ALGS, typing).ok).toBe(true);
  });
});

describe('checkHeader: hostile typ values', () => {
  it.each([[123], [{ a: 1 }], [['JWT']], [null]])('a non-string typ (%j) is malformed, never a server error', (typ) => {
    expect(checkHeader(header({ typ } as unknown as Partial<ProtectedHeaderParameters>), ALGS)).toEqual({ ok: false, reason: 'token_malformed', detail: 'typ is not a string' });
  });
});

describe('IdTokenVerifier: kid-less tokens during an upstream key rotation', () => {
  it('tries every key that matches when the token has no kid', async () => {
    const { SignJWT, createLocalJWKSet, exportJWK, generateKeyPair } = await import('jose');
    const { IdTokenVerifier } = await import('../../src/upstream/id-token.js');
    const [a, b] = await Promise.all([generateKeyPair('ES256'), generateKeyPair('ES256')]);
    const jwks = { keys: [{ ...(await exportJWK(a.publicKey)), alg: 'ES256' }, { ...(await exportJWK(b.publicKey)), alg: 'ES256' }] };
    const verifier = new IdTokenVerifier(new Map([[ISS, { issuer: ISS, algorithms: ['ES256'], keys: createLocalJWKSet(jwks) }]]));
    const signWith = (key: CryptoKey) =>
      new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setIssuer(ISS).setSubject('alice').setAudience('wiki-agent').setIssuedAt(NOW).setExpirationTime(NOW + 300).sign(key);
    await expect(verifier.verify(await signWith(b.privateKey), () => ['wiki-agent'], NOW)).resolves.toMatchObject({ subject: 'alice' });
    const stranger = await generateKeyPair('ES256');
    await expect(verifier.verify(await signWith(stranger.privateKey), () => ['wiki-agent'], NOW)).rejects.toMatchObject({ reason: 'signature_invalid' });
  });
});

describe('IdTokenVerifier: the verified-token cache admits a token on its second verification', () => {
  async function setup() {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    let verifications = 0;
    const counting: JwsCrypto = { signer: webJws.signer, compactVerify: (...args) => (verifications++, webJws.compactVerify(...args)) };
    const issuers = new Map([[ISS, { issuer: ISS, algorithms: ['ES256'], keys: async () => publicKey, typing: { accepted: ['JWT'], required: false } } satisfies TrustedIssuer]]);
    const clock = { now: NOW };
    const verifier = new IdTokenVerifier(issuers, counting, () => clock.now);
    const mint = (sub: string) => new SignJWT({ ...valid, sub }).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
    const verify = (token: string) => verifier.verify(token, () => ['wiki-agent'], clock.now);
    return { mint, verify, clock, count: () => verifications };
  }

  it('first sight verifies and keeps nothing; the second verifies and is cached; later uses cost no signature check', async () => {
    const { mint, verify, count } = await setup();
    const token = await mint('alice');
    expect((await verify(token)).subject).toBe('alice');
    expect((await verify(token)).subject).toBe('alice');
    expect(count()).toBe(2);
    await verify(token);
    await verify(token);
    expect(count()).toBe(2);
  });

  it('tokens seen once never fill the cache: each new token is verified, each repeat of one is cached', async () => {
    const { mint, verify, count } = await setup();
    const tokens = await Promise.all(['a', 'b', 'c'].map(mint));
    for (const t of tokens) await verify(t);
    expect(count()).toBe(3);
    for (const t of tokens) await verify(t);
    for (const t of tokens) await verify(t);
    expect(count()).toBe(6);
  });

  it('a cached token is refused once it expires by the clock', async () => {
    const { mint, verify, clock } = await setup();
    const token = await mint('alice');
    await verify(token);
    await verify(token);
    clock.now = NOW + 300 + CLOCK_SKEW - 1;
    expect((await verify(token)).subject).toBe('alice');
    clock.now = NOW + 300 + CLOCK_SKEW;
    await expect(verify(token)).rejects.toMatchObject({ reason: 'expired' });
  });
});
