/**
 * Interop: an off-the-shelf ID-JAG client (@modelcontextprotocol/client) drives the broker and the
 * reference destination AS over real HTTP on loopback. Nothing here uses the project's own client code.
 */
import { serve, type ServerType } from '@hono/node-server';
import { discoverAndRequestJwtAuthGrant, exchangeJwtAuthGrant, requestJwtAuthorizationGrant } from '@modelcontextprotocol/client';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDestinationAs } from '../../examples/destination-as/app.js';
import { exchangeParams, SECRET, startTestBroker, testSettings, type TestBroker } from '../helpers/broker.js';

/** Starts a server on an ephemeral port whose handler is set later (the issuer must name the port). */
async function listen(): Promise<{ server: ServerType; origin: string; handle: (f: (r: Request) => Response | Promise<Response>) => void }> {
  let handler: (r: Request) => Response | Promise<Response> = () => new Response('not ready', { status: 503 });
  const server = serve({ fetch: (r) => handler(r), port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((ok) => server.once('listening', () => ok()));
  const { port } = server.address() as AddressInfo;
  return { server, origin: `http://localhost:${port}`, handle: (f) => void (handler = f) };
}

describe('interop with @modelcontextprotocol/client', () => {
  let broker: TestBroker;
  let brokerOrigin: string;
  let todoOrigin: string;
  const servers: ServerType[] = [];

  beforeAll(async () => {
    const b = await listen();
    const t = await listen();
    servers.push(b.server, t.server);
    brokerOrigin = b.origin;
    todoOrigin = t.origin;
    broker = await startTestBroker({
      settings: await testSettings((s) => {
        s.issuer = brokerOrigin;
        s.destinations![0]!.issuer = todoOrigin;
        s.destinations![0]!.resources = [`${todoOrigin}/api`];
      }),
    });
    b.handle((r) => broker.app.fetch(r));
    const todo = await createDestinationAs({
      issuer: todoOrigin,
      brokers: [{ issuer: brokerOrigin, jwksUri: `${brokerOrigin}/jwks`, todos: { 'todo-user-1001': [{ id: '1', title: 'interop', done: false }] } }],
      clients: [{ client_id: 'wiki-at-todo', client_secret: 'todo-secret' }],
    });
    t.handle((r) => todo.fetch(r));
  });

  afterAll(() => {
    for (const s of servers) s.close();
  });

  async function idToken() {
    return (await exchangeParams(broker)).subject_token as string;
  }

  it('requestJwtAuthorizationGrant → exchangeJwtAuthGrant → API call', async () => {
    const grant = await requestJwtAuthorizationGrant({
      tokenEndpoint: `${brokerOrigin}/token`,
      audience: todoOrigin,
      resource: `${todoOrigin}/api`,
      idToken: await idToken(),
      clientId: 'wiki-agent',
      clientSecret: SECRET,
      scope: 'todos.read',
    });
    expect(grant.scope).toBe('todos.read');
    expect(grant.expiresIn).toBe(300);
    expect(decodeJwt(grant.jwtAuthGrant)).toMatchObject({ iss: brokerOrigin, aud: todoOrigin, sub: 'todo-user-1001', client_id: 'wiki-at-todo' });

    const tokens = await exchangeJwtAuthGrant({
      tokenEndpoint: `${todoOrigin}/token`,
      jwtAuthGrant: grant.jwtAuthGrant,
      clientId: 'wiki-at-todo',
      clientSecret: 'todo-secret',
    });
    expect(tokens.token_type).toMatch(/bearer/i);
    const api = await fetch(`${todoOrigin}/api/todos`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(api.status).toBe(200);
    expect(await api.json()).toMatchObject({ sub: 'todo-user-1001', todos: [{ title: 'interop' }] });
  });

  it('discovers the broker from its RFC 8414 metadata (discoverAndRequestJwtAuthGrant)', async () => {
    const grant = await discoverAndRequestJwtAuthGrant({
      idpUrl: brokerOrigin,
      audience: todoOrigin,
      resource: `${todoOrigin}/api`,
      idToken: await idToken(),
      clientId: 'wiki-agent',
      clientSecret: SECRET,
      scope: 'todos.read',
    });
    expect(decodeJwt(grant.jwtAuthGrant)).toMatchObject({ aud: todoOrigin, sub: 'todo-user-1001' });
  });

  it('surfaces the broker refusal as the OAuth error code', async () => {
    await expect(
      requestJwtAuthorizationGrant({
        tokenEndpoint: `${brokerOrigin}/token`,
        audience: 'https://elsewhere.example',
        resource: `${todoOrigin}/api`,
        idToken: await idToken(),
        clientId: 'wiki-agent',
        clientSecret: SECRET,
      }),
    ).rejects.toThrow(/invalid_target/);
    await expect(
      requestJwtAuthorizationGrant({
        tokenEndpoint: `${brokerOrigin}/token`,
        audience: todoOrigin,
        resource: `${todoOrigin}/api`,
        idToken: await idToken(),
        clientId: 'wiki-agent',
        clientSecret: 'wrong',
      }),
    ).rejects.toThrow(/invalid_client/);
  });
});
