/**
 * Issue 9 part 3 on workerd: the DPoP step of the token exchange with WebCrypto and D1. A proof
 * made inside workerd binds the ID-JAG (`cnf.jkt`); the proof's `jti` is single use through the
 * D1 replay store; an invalid proof is invalid_dpop_proof.
 */
import { calculateJwkThumbprint, decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { dpopKey, proof } from '../dpop/helpers.js';
import { BROKER, errorOf, exchangeParams, postToken, testWorker } from './helpers.js';

const worker = testWorker();
const HTU = `${BROKER}/token`;
const now = () => Math.floor(Date.now() / 1000);

describe('DPoP at the token exchange inside workerd', () => {
  it('binds the ID-JAG to the proof key, and refuses the same proof again (D1 replay store)', async () => {
    const key = await dpopKey('ES256');
    const dpop = await proof(key, { now: now(), htu: HTU });
    const res = await postToken(worker, await exchangeParams(), { DPoP: dpop });
    expect(res.status).toBe(200);
    const { access_token } = (await res.json()) as { access_token: string };
    expect(decodeJwt(access_token).cnf).toEqual({ jkt: await calculateJwkThumbprint(key.publicJwk, 'sha256') });
    const again = await postToken(worker, await exchangeParams(), { DPoP: dpop });
    expect(again.status).toBe(400);
    expect(await errorOf(again)).toBe('invalid_dpop_proof');
  });

  it('accepts an Ed25519 proof, and refuses a proof for another URL with invalid_dpop_proof', async () => {
    const ed = await dpopKey('EdDSA');
    expect((await postToken(worker, await exchangeParams(), { DPoP: await proof(ed, { now: now(), htu: HTU }) })).status).toBe(200);
    const res = await postToken(worker, await exchangeParams(), { DPoP: await proof(ed, { now: now(), htu: `${BROKER}/authorize` }) });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toBe('invalid_dpop_proof');
  });
});
