/**
 * Issue 9 part 3, item 4 (end to end): one openid-client v6 DPoP handle (one key) carries the whole
 * flow. Token exchange at the broker → a bound ID-JAG; jwt-bearer at the reference destination AS
 * with a proof from the same key → a DPoP-bound access token; the API called through
 * openid-client's fetchProtectedResource (`DPoP` scheme, proof with `ath`). Every proof is the
 * library's; nothing here builds one by hand.
 */
import { calculateJwkThumbprint, decodeJwt, exportJWK } from 'jose';
import * as client from 'openid-client';
import { describe, expect, it } from 'vitest';
import { createDestinationAs } from '../../examples/destination-as/app.js';
import { JWT_BEARER_GRANT_TYPE } from '../../src/destination/index.js';
import { BROKER, exchangeParams, startTestBroker, SECRET, TODO, type TestBroker } from '../helpers/broker.js';

const AS_CLIENT = { client_id: 'wiki-at-todo', client_secret: 'todo-side-secret' };
const TODOS = [{ id: '7', title: 'Interop with DPoP', done: false }];

const through = (app: { request: (r: Request) => Response | Promise<Response> }): client.CustomFetch => async (url, init) => app.request(new Request(url, init as RequestInit));

async function setUp() {
  const b = await startTestBroker({ now: Math.floor(Date.now() / 1000) });
  const jwks = await (await b.request('/jwks')).json();
  const todo = await createDestinationAs({ issuer: TODO, brokers: [{ issuer: BROKER, jwks, todos: { 'todo-user-1001': TODOS } }], clients: [AS_CLIENT] });
  const atBroker = await client.discovery(new URL(BROKER), 'wiki-agent', undefined, client.ClientSecretPost(SECRET), { [client.customFetch]: through(b.app) });
  const atTodo = await client.discovery(new URL(TODO), AS_CLIENT.client_id, undefined, client.ClientSecretBasic(AS_CLIENT.client_secret), { [client.customFetch]: through(todo), algorithm: 'oauth2' });
  atTodo[client.customFetch] = through(todo);
  return { b, todo, atBroker, atTodo };
}

async function idJagFor(b: TestBroker, atBroker: client.Configuration, dpop: client.DPoPHandle): Promise<string> {
  const { grant_type: grantType, client_id: _id, client_secret: _secret, ...params } = await exchangeParams(b, { resource: undefined });
  return (await client.genericGrantRequest(atBroker, grantType as string, params as Record<string, string>, { DPoP: dpop })).access_token;
}

describe('openid-client v6 DPoP, broker → destination AS → API', () => {
  it('one key end to end: bound ID-JAG, DPoP access token bound to the same key, the API answers', async () => {
    const { b, atBroker, atTodo } = await setUp();
    expect(atTodo.serverMetadata().dpop_signing_alg_values_supported).toContain('ES256');
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey), 'sha256');

    const idJag = await idJagFor(b, atBroker, client.getDPoPHandle(atBroker, keyPair));
    expect(decodeJwt(idJag).cnf).toEqual({ jkt });

    const tokens = await client.genericGrantRequest(atTodo, JWT_BEARER_GRANT_TYPE, { assertion: idJag }, { DPoP: client.getDPoPHandle(atTodo, keyPair) });
    expect(tokens.token_type).toBe('dpop');
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt });

    const api = await client.fetchProtectedResource(atTodo, tokens.access_token, new URL(`${TODO}/api/todos`), 'GET', undefined, undefined, { DPoP: client.getDPoPHandle(atTodo, keyPair) });
    expect(api.status).toBe(200);
    expect(await api.json()).toEqual({ sub: 'todo-user-1001', todos: TODOS });
  });

  it('a stolen bound ID-JAG is refused when redeemed with the thief’s own key (invalid_grant)', async () => {
    const { b, atBroker, atTodo } = await setUp();
    const idJag = await idJagFor(b, atBroker, client.getDPoPHandle(atBroker, await client.randomDPoPKeyPair('ES256')));
    const thief = client.getDPoPHandle(atTodo, await client.randomDPoPKeyPair('ES256'));
    await expect(client.genericGrantRequest(atTodo, JWT_BEARER_GRANT_TYPE, { assertion: idJag }, { DPoP: thief })).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('a stolen DPoP access token is refused at the API when the thief proves another key', async () => {
    const { b, atBroker, atTodo } = await setUp();
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const idJag = await idJagFor(b, atBroker, client.getDPoPHandle(atBroker, keyPair));
    const tokens = await client.genericGrantRequest(atTodo, JWT_BEARER_GRANT_TYPE, { assertion: idJag }, { DPoP: client.getDPoPHandle(atTodo, keyPair) });
    const thief = client.getDPoPHandle(atTodo, await client.randomDPoPKeyPair('ES256'));
    const api = await client.fetchProtectedResource(atTodo, tokens.access_token, new URL(`${TODO}/api/todos`), 'GET', undefined, undefined, { DPoP: thief }).catch((e: unknown) => e);
    // openid-client turns the 401 challenge into an error carrying the response.
    const status = api instanceof Response ? api.status : (api as { response?: Response }).response?.status;
    expect(status).toBe(401);
  });
});
