/**
 * The resource server's check of the access tokens its AS mints (RFC 9068): what keeps a token
 * for another resource, another AS or another kind of JWT out of an MCP server.
 */
import { SignJWT, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_ASSERTION_BYTES, createAccessTokenVerifier, type AccessTokenVerifier } from '../../src/destination/index.js';
import { DESTINATION, NOW, NOW_S, craftJws, signIdJag, idJagPayload, signingKey, type SigningKey } from './fixtures.js';

const RESOURCE = `${DESTINATION}/mcp`;

let as: SigningKey;
let stranger: SigningKey;
let verify: AccessTokenVerifier;
let current = NOW;

function claims(overrides: JWTPayload = {}): JWTPayload {
  return { iss: DESTINATION, sub: 'user-42', aud: RESOURCE, client_id: 'agent', scope: 'notes.read notes.write', jti: crypto.randomUUID(), iat: NOW_S, exp: NOW_S + 300, ...overrides };
}

function accessToken(payload: JWTPayload = claims(), { key = as, typ = 'at+jwt' }: { key?: SigningKey; typ?: string } = {}): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ, kid: key.kid }).sign(key.privateKey);
}

beforeAll(async () => {
  as = await signingKey();
  stranger = await signingKey();
  verify = createAccessTokenVerifier({ issuer: DESTINATION, resource: RESOURCE, jwks: as.jwks, now: () => current });
});

describe('createAccessTokenVerifier', () => {
  it('accepts a token its AS minted for this resource and returns who and what it grants', async () => {
    expect(await verify(await accessToken())).toEqual({
      ok: true,
      token: { iss: DESTINATION, sub: 'user-42', client_id: 'agent', scopes: ['notes.read', 'notes.write'], exp: NOW_S + 300, claims: expect.objectContaining({ aud: RESOURCE }) },
    });
  });

  it('accepts application/at+jwt and an audience array that names this resource (RFC 9068 §4)', async () => {
    expect((await verify(await accessToken(claims({ aud: [RESOURCE, 'https://other.example'] }), { typ: 'application/at+jwt' }))).ok).toBe(true);
  });

  it('refuses a token its AS minted for another resource', async () => {
    expect(await verify(await accessToken(claims({ aud: `${DESTINATION}/api` })))).toMatchObject({ ok: false, reason: 'aud_mismatch' });
  });

  it('refuses a token from another issuer, even signed by the trusted key', async () => {
    expect(await verify(await accessToken(claims({ iss: 'https://other-as.example' })))).toMatchObject({ ok: false, reason: 'issuer_mismatch' });
  });

  it('refuses a token signed by another key', async () => {
    expect(await verify(await accessToken(claims(), { key: stranger }))).toMatchObject({ ok: false, reason: 'key_unknown' });
    const forged = await accessToken(claims(), { key: { ...stranger, kid: as.kid } });
    expect(await verify(forged)).toMatchObject({ ok: false, reason: 'signature_invalid' });
  });

  it('refuses a sender-constrained token presented as a bearer token (RFC 9449 §7.1)', async () => {
    const bound = await accessToken(claims({ cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' } }));
    expect(await verify(bound)).toEqual({ ok: false, reason: 'sender_constrained' });
  });

  it('refuses an ID-JAG presented as an access token (typ)', async () => {
    const idJag = await signIdJag(as, { payload: idJagPayload({ aud: RESOURCE, iss: DESTINATION }) });
    expect(await verify(idJag)).toMatchObject({ ok: false, reason: 'typ_invalid' });
  });

  it('refuses alg none', async () => {
    expect(await verify(craftJws({ alg: 'none', typ: 'at+jwt' }, claims()))).toMatchObject({ ok: false, reason: 'alg_not_allowed' });
  });

  it('refuses a token over the size cap before parsing it', async () => {
    expect(await verify(`${await accessToken()}${'A'.repeat(MAX_ASSERTION_BYTES)}`)).toEqual({ ok: false, reason: 'too_large' });
  });

  it('refuses what is not a JWT', async () => {
    expect(await verify('not-a-jwt')).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it.each(['sub', 'client_id', 'exp', 'iat', 'jti'])('refuses a token without %s (RFC 9068 §2.2)', async (name) => {
    const payload = claims();
    delete payload[name];
    expect(await verify(await accessToken(payload))).toMatchObject({ ok: false, reason: 'claim_missing' });
  });

  it('refuses an expired token beyond the skew and accepts it within', async () => {
    const token = await accessToken(claims({ exp: NOW_S - 30 }));
    expect((await verify(token)).ok).toBe(true);
    current = new Date((NOW_S + 300 + 61) * 1000);
    try {
      expect(await verify(await accessToken())).toMatchObject({ ok: false, reason: 'expired' });
    } finally {
      current = NOW;
    }
  });

  it('refuses a token not yet valid', async () => {
    expect(await verify(await accessToken(claims({ nbf: NOW_S + 120 })))).toMatchObject({ ok: false, reason: 'not_yet_valid' });
  });

  it('refuses to be configured with a symmetric or none algorithm', () => {
    expect(() => createAccessTokenVerifier({ issuer: DESTINATION, resource: RESOURCE, jwks: as.jwks, algorithms: ['HS256'] })).toThrow(TypeError);
    expect(() => createAccessTokenVerifier({ issuer: DESTINATION, resource: 'http://mcp.example/mcp', jwks: as.jwks })).toThrow(/https/);
  });
});
