/**
 * Issue 9 part 3, item 3 (the kit): an ID-JAG bound to a key (`cnf.jkt`) is redeemed only with a
 * DPoP proof made with that key (ID-JAG draft, "Proof-of-Possession During ID-JAG Exchange"):
 * no proof or another key is invalid_grant, and the `jti` is not spent; the kit's proof verifier
 * refuses an invalid or replayed proof with invalid_dpop_proof.
 */
import { calculateJwkThumbprint } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createDpopVerifier,
  createIdJagVerifier,
  IdJagRejected,
  JWT_BEARER_GRANT_TYPE,
  JWT_DPOP_GRANT_TYPE,
  MemoryReplayStore,
  parseJwtBearerRequest,
  validateIdJagClaims,
} from '../../src/destination/index.js';
import { InvalidDpopProof, UnsupportedGrantType } from '../../src/oauth/errors.js';
import { dpopKey, proof, type DpopTestKey } from '../dpop/helpers.js';
import { BROKER, CLIENT_ID, DESTINATION, NOW, NOW_S, idJagPayload, signIdJag, signingKey, type SigningKey } from './fixtures.js';

const TOKEN_URL = `${DESTINATION}/token`;
let broker: SigningKey;
let key: DpopTestKey;
let jkt: string;

beforeAll(async () => {
  broker = await signingKey();
  key = await dpopKey();
  jkt = await calculateJwkThumbprint(key.publicJwk, 'sha256');
});

const ID_JAG_HEADER = { alg: 'ES256', typ: 'oauth-id-jag+jwt' };
const expectations = { audience: DESTINATION, clientId: CLIENT_ID, issuers: [BROKER] };

describe('validateIdJagClaims: cnf', () => {
  it('accepts cnf with a jkt and returns it with the claims', () => {
    const result = validateIdJagClaims(ID_JAG_HEADER, idJagPayload({ cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' } }), expectations, NOW);
    expect(result).toMatchObject({ ok: true, claims: { cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' } } });
  });

  it.each([
    ['a jwk (no DPoP thumbprint)', { jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' } }],
    ['x5t#S256 (mTLS)', { 'x5t#S256': 'abc' }],
    ['an empty object', {}],
  ])('refuses cnf with %s: a binding it cannot check (key_binding_unsupported)', (_, cnf) => {
    expect(validateIdJagClaims(ID_JAG_HEADER, idJagPayload({ cnf }), expectations, NOW)).toEqual({ ok: false, reason: 'key_binding_unsupported', detail: 'cnf' });
  });

  it.each([['null', null], ['a string', 'jkt'], ['a non-string jkt', { jkt: 42 }], ['an empty jkt', { jkt: '' }]])('refuses a malformed cnf (%s)', (_, cnf) => {
    expect(validateIdJagClaims(ID_JAG_HEADER, idJagPayload({ cnf }), expectations, NOW)).toMatchObject({ ok: false, reason: 'claim_invalid', detail: 'cnf' });
  });
});

describe('createIdJagVerifier: a bound ID-JAG and the proof that came with it', () => {
  const verifier = () => createIdJagVerifier({ audience: DESTINATION, trustedIssuers: [{ issuer: BROKER, jwks: broker.jwks }], replayStore: new MemoryReplayStore({ now: () => NOW }), now: () => NOW });

  it('redeems it with a proof from the same key', async () => {
    const token = await signIdJag(broker, { payload: idJagPayload({ cnf: { jkt } }) });
    await expect(verifier()(token, { clientId: CLIENT_ID, dpop: { jkt } })).resolves.toMatchObject({ cnf: { jkt } });
  });

  it('refuses it without a proof (invalid_grant, dpop_proof_missing) and does not spend its jti', async () => {
    const verify = verifier();
    const token = await signIdJag(broker, { payload: idJagPayload({ jti: 'bound', cnf: { jkt } }) });
    const error = await verify(token, { clientId: CLIENT_ID }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdJagRejected);
    expect(error).toMatchObject({ code: 'invalid_grant', idJagReason: 'dpop_proof_missing', reason: 'dpop_missing' });
    await expect(verify(token, { clientId: CLIENT_ID, dpop: { jkt } })).resolves.toMatchObject({ jti: 'bound' });
  });

  it('refuses it with a proof from another key (invalid_grant, dpop_key_mismatch) and does not spend its jti', async () => {
    const verify = verifier();
    const other = await calculateJwkThumbprint((await dpopKey()).publicJwk, 'sha256');
    const token = await signIdJag(broker, { payload: idJagPayload({ jti: 'bound-2', cnf: { jkt } }) });
    await expect(verify(token, { clientId: CLIENT_ID, dpop: { jkt: other } })).rejects.toMatchObject({ code: 'invalid_grant', idJagReason: 'dpop_key_mismatch' });
    await expect(verify(token, { clientId: CLIENT_ID, dpop: { jkt } })).resolves.toMatchObject({ jti: 'bound-2' });
  });

  it('an unbound ID-JAG is redeemed with or without a proof (the draft lets the AS bind its own token)', async () => {
    const verify = verifier();
    await expect(verify(await signIdJag(broker, { payload: idJagPayload({ jti: 'u1' }) }), { clientId: CLIENT_ID, dpop: { jkt } })).resolves.toMatchObject({ jti: 'u1' });
    await expect(verify(await signIdJag(broker, { payload: idJagPayload({ jti: 'u2' }) }), { clientId: CLIENT_ID })).resolves.toMatchObject({ jti: 'u2' });
  });
});

describe('createDpopVerifier (the kit’s proof check, for the token endpoint and the API)', () => {
  const verifier = () => createDpopVerifier({ replayStore: new MemoryReplayStore({ now: () => NOW }), now: () => NOW });

  it('returns the thumbprint of a valid proof', async () => {
    await expect(verifier()({ header: await proof(key, { now: NOW_S, htu: TOKEN_URL }), method: 'POST', url: TOKEN_URL })).resolves.toEqual({ jkt });
  });

  it('refuses an invalid proof with invalid_dpop_proof and its precise reason', async () => {
    const error = await verifier()({ header: await proof(key, { now: NOW_S, htu: `${DESTINATION}/other` }), method: 'POST', url: TOKEN_URL }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidDpopProof);
    expect(error).toMatchObject({ code: 'invalid_dpop_proof', reason: 'dpop_htu_mismatch' });
  });

  it('refuses the same proof twice (dpop_replayed)', async () => {
    const verify = verifier();
    const header = await proof(key, { now: NOW_S, htu: TOKEN_URL });
    await verify({ header, method: 'POST', url: TOKEN_URL });
    await expect(verify({ header, method: 'POST', url: TOKEN_URL })).rejects.toMatchObject({ code: 'invalid_dpop_proof', reason: 'dpop_replayed' });
  });

  it('checks ath against the presented access token', async () => {
    const url = `${DESTINATION}/api/todos`;
    const header = await proof(key, { now: NOW_S, htm: 'GET', htu: url });
    await expect(verifier()({ header, method: 'GET', url, accessToken: 'at' })).rejects.toMatchObject({ reason: 'dpop_ath_mismatch' });
  });
});

describe('parseJwtBearerRequest', () => {
  it('accepts the draft’s jwt-dpop grant type beside jwt-bearer, and says which', () => {
    expect(parseJwtBearerRequest(new URLSearchParams({ grant_type: JWT_DPOP_GRANT_TYPE, assertion: 'a.b.c' }))).toEqual({ assertion: 'a.b.c', grantType: JWT_DPOP_GRANT_TYPE });
    expect(parseJwtBearerRequest(new URLSearchParams({ grant_type: JWT_BEARER_GRANT_TYPE, assertion: 'a.b.c' }))).toEqual({ assertion: 'a.b.c', grantType: JWT_BEARER_GRANT_TYPE });
    expect(() => parseJwtBearerRequest(new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:saml2-bearer', assertion: 'a' }))).toThrow(UnsupportedGrantType);
  });
});
