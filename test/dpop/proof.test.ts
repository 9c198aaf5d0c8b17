/**
 * Issue 9 part 3, item 1: the pure DPoP proof validator (RFC 9449 §4.3). One test per rule, each
 * breaking exactly that rule in an otherwise valid proof.
 */
import { calculateJwkThumbprint, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { DPOP_IAT_FUTURE_SKEW, DPOP_MAX_PROOF_CHARS, DPOP_NONCE_WINDOW, DPOP_PROOF_MAX_AGE } from '../../src/constants.js';
import { DpopNonces } from '../../src/dpop/nonce.js';
import { accessTokenHash, normalizeHtu, validateDpopProof, type DpopProofInput } from '../../src/dpop/proof.js';
import { dpopKey, forged, proof, type DpopTestKey } from './helpers.js';

const NOW = 1_900_000_000;
const URL_ = 'https://broker.test/token';
let key: DpopTestKey;

beforeAll(async () => {
  key = await dpopKey();
});

const check = (header: string | null, more: Partial<DpopProofInput> = {}) => validateDpopProof({ header, method: 'POST', url: URL_, now: NOW, ...more });

describe('validateDpopProof: a valid proof', () => {
  it('yields the RFC 7638 thumbprint of its key as jkt, its jti and iat', async () => {
    const result = await check(await proof(key, { now: NOW, jti: 'proof-1' }));
    expect(result).toEqual({ ok: true, jkt: await calculateJwkThumbprint(key.publicJwk, 'sha256'), jti: 'proof-1', iat: NOW, jwk: key.publicJwk });
  });

  it.each(['ES384', 'PS256', 'RS256', 'EdDSA'])('accepts %s proofs', async (alg) => {
    const k = await dpopKey(alg);
    expect((await check(await proof(k, { now: NOW }))).ok).toBe(true);
  });
});

describe('validateDpopProof: each RFC 9449 §4.3 rule refuses', () => {
  it('1. no DPoP header, or more than one (joined by ", ")', async () => {
    const one = await proof(key, { now: NOW });
    expect(await check(null)).toMatchObject({ ok: false, reason: 'dpop_missing' });
    expect(await check(`${one}, ${one}`)).toMatchObject({ ok: false, reason: 'dpop_multiple' });
  });

  it('2. not a JWT: garbage, two parts, a payload that is not JSON, an oversized header', async () => {
    expect(await check('not-a-jwt')).toMatchObject({ reason: 'dpop_malformed' });
    expect(await check('eyJhbGciOiJFUzI1NiJ9.e30')).toMatchObject({ reason: 'dpop_malformed' });
    const [h, , s] = (await proof(key, { now: NOW })).split('.');
    expect(await check(`${h}.bm90LWpzb24.${s}`)).toMatchObject({ reason: 'dpop_malformed' });
    expect(await check('a'.repeat(DPOP_MAX_PROOF_CHARS + 1))).toMatchObject({ reason: 'dpop_too_large' });
  });

  it.each(['jti', 'htm', 'htu', 'iat'])('3. a required claim is missing: %s', async (claim) => {
    expect(await check(await proof(key, { now: NOW, omit: [claim] }))).toMatchObject({ ok: false, reason: 'dpop_claim_missing', detail: claim });
  });

  it('4. typ is not dpop+jwt (absent, or another JWT type)', async () => {
    expect(await check(await proof(key, { now: NOW, typ: null }))).toMatchObject({ reason: 'dpop_typ_invalid' });
    expect(await check(await proof(key, { now: NOW, typ: 'JWT' }))).toMatchObject({ reason: 'dpop_typ_invalid' });
  });

  it('5. alg is none, a MAC (HS256), or not supported', async () => {
    const payload = { jti: 'x', htm: 'POST', htu: URL_, iat: NOW };
    expect(await check(forged({ typ: 'dpop+jwt', alg: 'none', jwk: key.publicJwk }, payload, ''))).toMatchObject({ reason: 'dpop_malformed' });
    expect(await check(forged({ typ: 'dpop+jwt', alg: 'none', jwk: key.publicJwk }, payload))).toMatchObject({ reason: 'dpop_alg_not_allowed' });
    const secret = new TextEncoder().encode('0123456789abcdef0123456789abcdef');
    const hs = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY' } } as never).sign(secret);
    expect(await check(hs)).toMatchObject({ reason: 'dpop_alg_not_allowed' });
    expect(await check(await proof(key, { now: NOW }), { algorithms: ['RS256'] })).toMatchObject({ reason: 'dpop_alg_not_allowed' });
  });

  it('6. the signature does not verify with the header jwk (another key signed it)', async () => {
    const other = await dpopKey();
    expect(await check(await proof(other, { now: NOW, jwk: key.publicJwk }))).toMatchObject({ reason: 'dpop_signature_invalid' });
    const [h, p] = (await proof(key, { now: NOW })).split('.');
    const [, , s] = (await proof(key, { now: NOW, jti: 'other' })).split('.');
    expect(await check(`${h}.${p}.${s}`)).toMatchObject({ reason: 'dpop_signature_invalid' });
  });

  it('7. the jwk carries private key members, or is missing, or does not fit alg', async () => {
    expect(await check(await proof(key, { now: NOW, jwk: key.privateJwk }))).toMatchObject({ reason: 'dpop_jwk_private' });
    expect(await check(await proof(key, { now: NOW, jwk: null }))).toMatchObject({ reason: 'dpop_jwk_invalid' });
    const rsa = await dpopKey('RS256');
    expect(await check(await proof(key, { now: NOW, jwk: rsa.publicJwk }))).toMatchObject({ reason: 'dpop_jwk_invalid' });
  });

  it('crit header parameters are refused (RFC 7515 §4.1.11)', async () => {
    const payload = { jti: 'x', htm: 'POST', htu: URL_, iat: NOW };
    expect(await check(forged({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk, crit: ['x'], x: 1 }, payload))).toMatchObject({ reason: 'dpop_crit_unsupported' });
  });

  it('8. htm is not the request method', async () => {
    expect(await check(await proof(key, { now: NOW, htm: 'GET' }))).toMatchObject({ reason: 'dpop_htm_mismatch' });
    expect(await check(await proof(key, { now: NOW, htm: 'post' }))).toMatchObject({ reason: 'dpop_htm_mismatch' });
  });

  it('9. htu is not the request URL (another path, host or scheme)', async () => {
    for (const htu of ['https://broker.test/token2', 'https://other.test/token', 'http://broker.test/token', 'https://broker.test:8443/token']) {
      expect(await check(await proof(key, { now: NOW, htu }))).toMatchObject({ reason: 'dpop_htu_mismatch' });
    }
  });

  it('9. htu is compared without query and fragment, normalised per RFC 3986 §6.2.2/§6.2.3', async () => {
    for (const htu of ['https://broker.test/token?x=1', 'https://broker.test/token#f', 'HTTPS://Broker.TEST:443/token', 'https://broker.test/a/../token', 'https://broker.test/%74oken']) {
      expect(await check(await proof(key, { now: NOW, htu }))).toMatchObject({ ok: true });
    }
    expect(normalizeHtu('https://b.test/a%2fb')).toBe('https://b.test/a%2Fb');
    expect(normalizeHtu('https://b.test')).toBe('https://b.test/');
    expect(normalizeHtu('ftp://b.test/')).toBeUndefined();
  });

  it('10. a required nonce is missing or not one the server accepts', async () => {
    const nonces = await DpopNonces.fromSecret('s'.repeat(32));
    const accepted = await nonces.accepted(NOW);
    expect(await check(await proof(key, { now: NOW }), { nonces: accepted })).toMatchObject({ reason: 'dpop_nonce_missing' });
    expect(await check(await proof(key, { now: NOW, nonce: 'made-up' }), { nonces: accepted })).toMatchObject({ reason: 'dpop_nonce_invalid' });
    expect(await check(await proof(key, { now: NOW, nonce: await nonces.current(NOW) }), { nonces: accepted })).toMatchObject({ ok: true });
  });

  it('11. iat outside the window: too old, or in the future beyond the skew', async () => {
    expect(await check(await proof(key, { now: NOW, iat: NOW - DPOP_PROOF_MAX_AGE - 1 }))).toMatchObject({ reason: 'dpop_iat_too_old' });
    expect(await check(await proof(key, { now: NOW, iat: NOW + DPOP_IAT_FUTURE_SKEW + 1 }))).toMatchObject({ reason: 'dpop_iat_in_future' });
    expect(await check(await proof(key, { now: NOW, iat: NOW - DPOP_PROOF_MAX_AGE }))).toMatchObject({ ok: true });
    expect(await check(await proof(key, { now: NOW, iat: '1' as unknown as number }))).toMatchObject({ reason: 'dpop_claim_invalid', detail: 'iat' });
  });

  it('12. ath does not match the presented access token (or is missing)', async () => {
    const ath = await accessTokenHash('the-access-token');
    expect(await check(await proof(key, { now: NOW, ath }), { accessTokenHash: ath })).toMatchObject({ ok: true });
    expect(await check(await proof(key, { now: NOW, ath: await accessTokenHash('another') }), { accessTokenHash: ath })).toMatchObject({ reason: 'dpop_ath_mismatch' });
    expect(await check(await proof(key, { now: NOW }), { accessTokenHash: ath })).toMatchObject({ reason: 'dpop_ath_mismatch' });
  });

  it('jti must be a non-empty string', async () => {
    expect(await check(await proof(key, { now: NOW, jti: '' }))).toMatchObject({ reason: 'dpop_claim_invalid', detail: 'jti' });
  });
});

describe('DpopNonces', () => {
  it('accepts this window and the previous one only, and another secret’s nonces never', async () => {
    const nonces = await DpopNonces.fromSecret('a'.repeat(32));
    const issued = await nonces.current(NOW);
    expect(await nonces.accepted(NOW + DPOP_NONCE_WINDOW)).toContain(issued);
    expect(await nonces.accepted(NOW + 2 * DPOP_NONCE_WINDOW)).not.toContain(issued);
    expect(await (await DpopNonces.fromSecret('b'.repeat(32))).accepted(NOW)).not.toContain(issued);
  });
});
