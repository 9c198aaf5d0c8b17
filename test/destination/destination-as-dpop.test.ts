/**
 * Issue 9 part 3, item 3 (the reference destination AS): a DPoP-bound ID-JAG is redeemed only with
 * a proof from its key; the access token is then DPoP-bound too (`token_type: DPoP`, `cnf.jkt`),
 * and the API accepts it only with the `DPoP` scheme and a proof from that key carrying `ath`.
 */
import { calculateJwkThumbprint, decodeJwt, type JWTPayload } from 'jose';
import type { Hono } from 'hono';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IdJagRejected, JWT_BEARER_GRANT_TYPE, JWT_DPOP_GRANT_TYPE } from '../../src/destination/index.js';
import { accessTokenHash } from '../../src/dpop/proof.js';
import type { OAuthError } from '../../src/oauth/errors.js';
import { createDestinationAs } from '../../examples/destination-as/app.js';
import { dpopKey, proof, type DpopTestKey } from '../dpop/helpers.js';
import { BROKER, DESTINATION, NOW, NOW_S, SUBJECT, idJagPayload, signIdJag, signingKey, type SigningKey } from './fixtures.js';

const CLIENT = { client_id: 'agent', client_secret: 'agent-secret' };
const TOKEN_URL = `${DESTINATION}/token`;
const API_URL = `${DESTINATION}/api/todos`;
const TODOS = [{ id: '1', title: 'Bind the tokens', done: false }];

let broker: SigningKey;
let key: DpopTestKey;
let jkt: string;
let app: Hono;
let refusals: OAuthError[];

beforeAll(async () => {
  broker = await signingKey();
  key = await dpopKey();
  jkt = await calculateJwkThumbprint(key.publicJwk, 'sha256');
});

beforeEach(async () => {
  refusals = [];
  app = await createDestinationAs({
    issuer: DESTINATION,
    brokers: [{ issuer: BROKER, jwks: broker.jwks, todos: { [SUBJECT]: TODOS } }],
    clients: [CLIENT],
    now: () => NOW,
    onRefusal: (error) => refusals.push(error),
  });
});

const idJag = (claims: JWTPayload = {}) => signIdJag(broker, { payload: idJagPayload({ client_id: CLIENT.client_id, scope: 'todos.read', ...claims }) });

function redeem(assertion: string, dpop?: string, grantType = JWT_BEARER_GRANT_TYPE) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa(`${CLIENT.client_id}:${CLIENT.client_secret}`)}` };
  if (dpop !== undefined) headers.dpop = dpop;
  return app.request('/token', { method: 'POST', headers, body: new URLSearchParams({ grant_type: grantType, assertion }) });
}

const tokenProof = (k: DpopTestKey = key, o: Parameters<typeof proof>[1] = { now: NOW_S }) => proof(k, { htu: TOKEN_URL, ...o });

async function boundAccessToken(): Promise<string> {
  const res = await redeem(await idJag({ cnf: { jkt } }), await tokenProof());
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

function lastReason(): string | undefined {
  const last = refusals.at(-1);
  return last instanceof IdJagRejected ? last.idJagReason : last?.reason;
}

describe('the token endpoint', () => {
  it('redeems a bound ID-JAG with a proof from its key: token_type DPoP, the access token bound to the same key', async () => {
    const res = await redeem(await idJag({ cnf: { jkt } }), await tokenProof());
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; token_type: string };
    expect(body.token_type).toBe('DPoP');
    expect(decodeJwt(body.access_token).cnf).toEqual({ jkt });
  });

  it('accepts the same under the draft’s jwt-dpop grant type', async () => {
    const res = await redeem(await idJag({ cnf: { jkt } }), await tokenProof(), JWT_DPOP_GRANT_TYPE);
    expect(await res.json()).toMatchObject({ token_type: 'DPoP' });
  });

  it('refuses a bound ID-JAG without a proof: invalid_grant (dpop_proof_missing)', async () => {
    const res = await redeem(await idJag({ cnf: { jkt } }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    expect(lastReason()).toBe('dpop_proof_missing');
  });

  it('refuses a bound ID-JAG with a valid proof from another key: invalid_grant (dpop_key_mismatch)', async () => {
    const res = await redeem(await idJag({ cnf: { jkt } }), await tokenProof(await dpopKey()));
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    expect(lastReason()).toBe('dpop_key_mismatch');
  });

  it('refuses an invalid proof with invalid_dpop_proof (here: made for another endpoint)', async () => {
    const res = await redeem(await idJag({ cnf: { jkt } }), await proof(key, { now: NOW_S, htu: API_URL }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_dpop_proof' });
    expect(lastReason()).toBe('dpop_htu_mismatch');
  });

  it('refuses jwt-dpop without a proof (invalid_grant): that grant type is proof of possession', async () => {
    const res = await redeem(await idJag(), undefined, JWT_DPOP_GRANT_TYPE);
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    expect(lastReason()).toBe('dpop_missing');
  });

  it('binds the access token of an unbound ID-JAG presented with a proof; Bearer without one', async () => {
    const bound = (await (await redeem(await idJag(), await tokenProof())).json()) as { access_token: string; token_type: string };
    expect(bound.token_type).toBe('DPoP');
    expect(decodeJwt(bound.access_token).cnf).toEqual({ jkt });
    const bearer = (await (await redeem(await idJag())).json()) as { access_token: string; token_type: string };
    expect(bearer.token_type).toBe('Bearer');
    expect(decodeJwt(bearer.access_token)).not.toHaveProperty('cnf');
  });

  it('advertises DPoP in its metadata', async () => {
    const metadata = (await (await app.request('/.well-known/oauth-authorization-server')).json()) as Record<string, string[]>;
    expect(metadata.dpop_signing_alg_values_supported).toContain('ES256');
    expect(metadata.grant_types_supported).toContain(JWT_DPOP_GRANT_TYPE);
  });
});

describe('the API', () => {
  const call = async (authorization: string, dpop?: string) => app.request('/api/todos', { headers: { authorization, ...(dpop ? { dpop } : {}) } });
  const apiProof = async (token: string, k: DpopTestKey = key, o: Partial<Parameters<typeof proof>[1]> = {}) => proof(k, { now: NOW_S, htm: 'GET', htu: API_URL, ath: await accessTokenHash(token), ...o });

  it('answers a bound token under the DPoP scheme with a proof from its key carrying ath', async () => {
    const token = await boundAccessToken();
    const res = await call(`DPoP ${token}`, await apiProof(token));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ sub: SUBJECT, todos: TODOS });
  });

  it('refuses a bound token presented as Bearer (RFC 9449 §7.2): 401 invalid_token', async () => {
    const token = await boundAccessToken();
    const res = await call(`Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^DPoP .*error="invalid_token"/);
  });

  it('refuses a bound token without a proof, with a proof from another key, without ath or with a replayed proof', async () => {
    const token = await boundAccessToken();
    expect((await call(`DPoP ${token}`)).status).toBe(401);
    expect((await call(`DPoP ${token}`, await apiProof(token, await dpopKey()))).status).toBe(401);
    expect((await call(`DPoP ${token}`, await proof(key, { now: NOW_S, htm: 'GET', htu: API_URL }))).status).toBe(401);
    const once = await apiProof(token);
    expect((await call(`DPoP ${token}`, once)).status).toBe(200);
    const replayed = await call(`DPoP ${token}`, once);
    expect(replayed.status).toBe(401);
    expect(replayed.headers.get('www-authenticate')).toMatch(/^DPoP .*error="invalid_dpop_proof"/);
  });

  it('refuses an unbound (Bearer) token presented under the DPoP scheme', async () => {
    const token = ((await (await redeem(await idJag())).json()) as { access_token: string }).access_token;
    expect((await call(`Bearer ${token}`)).status).toBe(200);
    expect((await call(`DPoP ${token}`, await apiProof(token))).status).toBe(401);
  });
});
