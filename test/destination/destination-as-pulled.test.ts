/**
 * The reference destination AS (examples/destination-as) speaks both profiles against a real test
 * broker: an ID-JAG by jwt-bearer, or an ID-JAG reference by token exchange, redeemed at the broker
 * over its back channel and checked by the same verifier.
 */
import { decodeJwt, type JSONWebKeySet } from 'jose';
import type { Hono } from 'hono';
import { beforeEach, describe, expect, it } from 'vitest';
import { ID_JAG_REFERENCE_TOKEN_TYPE, IdJagRejected, JWT_BEARER_GRANT_TYPE, JWT_DPOP_GRANT_TYPE, TOKEN_EXCHANGE_GRANT_TYPE } from '../../src/destination/index.js';
import type { OAuthError } from '../../src/oauth/errors.js';
import { createDestinationAs } from '../../examples/destination-as/app.js';
import { BROKER, exchangeParams, postToken, SECRET, startTestBroker, TODO, type TestBroker } from '../helpers/broker.js';
import { pulledSettings } from '../exchange/pulled-helpers.js';

const AT_TODO = { client_id: 'wiki-at-todo', client_secret: 'todo-side-secret' };
const OTHER = { client_id: 'other-at-todo', client_secret: 'other-side-secret' };

let b: TestBroker;
let todo: Hono;
let refusals: OAuthError[];

beforeEach(async () => {
  b = await startTestBroker({ settings: await pulledSettings() });
  const jwks = (await (await b.request('/jwks')).json()) as JSONWebKeySet;
  refusals = [];
  todo = await createDestinationAs({
    issuer: TODO,
    brokers: [{ issuer: BROKER, jwks, todos: { 'todo-user-1001': [{ id: '1', title: 'Pull, do not push', done: false }] }, backChannel: { clientId: 'todo-as', clientSecret: SECRET, secretMethod: 'client_secret_post', tokenEndpoint: `${BROKER}/token` } }],
    clients: [AT_TODO, OTHER],
    fetch: async (input, init) => b.app.request(String(input instanceof Request ? input.url : input), init),
    onRefusal: (e) => refusals.push(e),
  });
});

/** What the client gets from the broker: an ID-JAG (pushed) or a reference (pulled). No resource: the Todo API here is `${TODO}/api`. */
async function fromBroker(requested: string): Promise<string> {
  const res = await postToken(b, await exchangeParams(b, { requested_token_type: requested, resource: undefined }));
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

function atTodo(params: Record<string, string>, who = AT_TODO) {
  return todo.request('/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa(`${who.client_id}:${who.client_secret}`)}` },
    body: new URLSearchParams(params),
  });
}

const presentReference = (reference: string, who = AT_TODO) => atTodo({ grant_type: TOKEN_EXCHANGE_GRANT_TYPE, subject_token: reference, subject_token_type: ID_JAG_REFERENCE_TOKEN_TYPE }, who);

describe('reference destination AS: both profiles', () => {
  it('advertises both grants', async () => {
    const metadata = (await (await todo.request('/.well-known/oauth-authorization-server')).json()) as { grant_types_supported: string[] };
    expect(metadata.grant_types_supported).toEqual([JWT_BEARER_GRANT_TYPE, JWT_DPOP_GRANT_TYPE, TOKEN_EXCHANGE_GRANT_TYPE]);
  });

  it('pushed: an ID-JAG by jwt-bearer gives an access token for alice', async () => {
    const res = await atTodo({ grant_type: JWT_BEARER_GRANT_TYPE, assertion: await fromBroker('urn:ietf:params:oauth:token-type:id-jag') });
    expect(res.status).toBe(200);
    expect(decodeJwt(((await res.json()) as { access_token: string }).access_token).sub).toBe('todo-user-1001');
  });

  it('pulled: a reference by token exchange gives the same access token for alice, and the API answers', async () => {
    const res = await presentReference(await fromBroker(ID_JAG_REFERENCE_TOKEN_TYPE));
    const body = (await res.json()) as Record<string, string>;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', scope: 'todos.read' });
    expect(decodeJwt(body.access_token!)).toMatchObject({ sub: 'todo-user-1001', client_id: 'wiki-at-todo' });
    const api = await todo.request('/api/todos', { headers: { authorization: `Bearer ${body.access_token}` } });
    expect(((await api.json()) as { todos: unknown[] }).todos).toHaveLength(1);
  });

  it('pulled: a reference presented by another client than the one it was issued to is refused (client_id), and burned at the broker', async () => {
    const reference = await fromBroker(ID_JAG_REFERENCE_TOKEN_TYPE);
    const res = await presentReference(reference, OTHER);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
    expect(refusals.at(-1)).toBeInstanceOf(IdJagRejected);
    expect((refusals.at(-1) as IdJagRejected).idJagReason).toBe('client_id_mismatch');
    const again = await presentReference(reference);
    expect(again.status).toBe(400);
    expect(refusals.at(-1)!.reason).toBe('reference_refused_by_broker');
  });

  it('pulled: a replayed reference is invalid_grant', async () => {
    const reference = await fromBroker(ID_JAG_REFERENCE_TOKEN_TYPE);
    expect((await presentReference(reference)).status).toBe(200);
    const res = await presentReference(reference);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
  });
});
