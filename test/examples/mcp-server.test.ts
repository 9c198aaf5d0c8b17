/**
 * examples/mcp-server: an MCP server (official server SDK, Streamable HTTP on Hono) behind the
 * reference destination AS, driven in-process by the official client SDK's CrossAppAccessProvider
 * (issue 9, part 4). The ID-JAGs are signed here with a test key; the broker joins in
 * test/interop/mcp-flow.test.ts.
 */
import { Client, CrossAppAccessProvider, StreamableHTTPClientTransport, discoverOAuthProtectedResourceMetadata, extractWWWAuthenticateParams } from '@modelcontextprotocol/client';
import type { Hono } from 'hono';
import { decodeJwt, type JWTPayload } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { generateAccessTokenKey, mintAccessToken, type AccessTokenKey } from '../../examples/destination-as/access-token.js';
import { createMcpServerApp } from '../../examples/mcp-server/app.js';
import { BROKER, idJagPayload, signIdJag, signingKey, type SigningKey } from '../destination/fixtures.js';

const ORIGIN = 'http://localhost:9200';
const MCP = `${ORIGIN}/mcp`;
const METADATA = `${ORIGIN}/.well-known/oauth-protected-resource/mcp`;
const CLIENT = { client_id: 'agent-at-notes', client_secret: 'notes-secret' };

let broker: SigningKey;
let key: AccessTokenKey;
let app: Hono;
let refusals: string[];
/** Every request the client SDK sent, to check what it asked for. */
let sent: Request[];

const appFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const request = new Request(input, init);
  sent.push(request.clone());
  return app.fetch(request);
};

beforeEach(async () => {
  broker ??= await signingKey();
  key = await generateAccessTokenKey();
  refusals = [];
  sent = [];
  app = await createMcpServerApp({
    origin: ORIGIN,
    brokers: [{ issuer: BROKER, jwks: broker.jwks }],
    clients: [CLIENT],
    notes: [{ broker: BROKER, sub: 'user-42', text: 'Try the MCP flow' }],
    accessTokenKey: key,
    onRefusal: (reason) => refusals.push(reason),
  });
});

function provider(claims: JWTPayload = {}, seen: { scope?: string; resourceUrl?: string; authorizationServerUrl?: string } = {}) {
  return new CrossAppAccessProvider({
    assertion: async (ctx) => {
      Object.assign(seen, { scope: ctx.scope, resourceUrl: ctx.resourceUrl, authorizationServerUrl: ctx.authorizationServerUrl });
      return signIdJag(broker, { payload: idJagPayload({ aud: ORIGIN, client_id: CLIENT.client_id, resource: ctx.resourceUrl, scope: ctx.scope, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 300, ...claims }) });
    },
    clientId: CLIENT.client_id,
    clientSecret: CLIENT.client_secret,
    expectedIssuer: ORIGIN,
    fetchFn: appFetch,
  });
}

async function connect(authProvider: CrossAppAccessProvider): Promise<Client> {
  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(MCP), { authProvider, fetch: appFetch }));
  return client;
}

const text = (result: unknown) => ((result as { content: { type: string; text: string }[] }).content[0]?.text ?? '');

describe('examples/mcp-server', () => {
  it('answers a request without a token with 401 and the RFC 9728 challenge the SDK reads', async () => {
    const res = await app.request('/mcp', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${METADATA}"`);
    expect(extractWWWAuthenticateParams(res).resourceMetadataUrl?.href).toBe(METADATA);
  });

  it('serves its protected resource metadata, naming its AS and its scopes', async () => {
    const metadata = await discoverOAuthProtectedResourceMetadata(MCP, {}, appFetch);
    expect(metadata).toEqual({ resource: MCP, authorization_servers: [ORIGIN], scopes_supported: ['notes.read', 'notes.write'], bearer_methods_supported: ['header'], resource_name: 'Notes (xaa-broker example MCP server)' });
  });

  it('lets the client SDK’s CrossAppAccessProvider discover everything, get a token and call the tools', async () => {
    const seen: { scope?: string; resourceUrl?: string; authorizationServerUrl?: string } = {};
    const client = await connect(provider({}, seen));
    // Discovery fed the assertion callback: the AS is the audience, the MCP server the resource.
    expect(seen).toEqual({ scope: 'notes.read notes.write', resourceUrl: MCP, authorizationServerUrl: ORIGIN });

    const tools = await client.listTools();
    expect(tools.tools.map((tool) => tool.name).sort()).toEqual(['add_note', 'list_notes']);
    expect(text(await client.callTool({ name: 'add_note', arguments: { text: 'Second note' } }))).toBe('Added note 2.');
    const listed = await client.callTool({ name: 'list_notes', arguments: {} });
    expect(JSON.parse(text(listed))).toEqual({ sub: 'user-42', notes: ['Try the MCP flow', 'Second note'] });

    // The jwt-bearer request carried the resource (RFC 8707) and the scope; the token is for the MCP server only.
    const tokenRequest = sent.find((r) => new URL(r.url).pathname === '/token')!;
    const form = new URLSearchParams(await tokenRequest.text());
    expect(form.get('resource')).toBe(MCP);
    expect(form.get('scope')).toBe('notes.read notes.write');
    const mcpCall = sent.find((r) => new URL(r.url).pathname === '/mcp' && r.headers.get('authorization'))!;
    expect(decodeJwt(mcpCall.headers.get('authorization')!.slice('Bearer '.length))).toMatchObject({ iss: ORIGIN, aud: MCP, sub: 'user-42', client_id: CLIENT.client_id, scope: 'notes.read notes.write' });
    await client.close();
  });

  it('refuses a tool whose scope the token lacks, and names the scope', async () => {
    const client = await connect(provider({ scope: 'notes.read' }));
    const result = await client.callTool({ name: 'add_note', arguments: { text: 'nope' } });
    expect(result.isError).toBe(true);
    expect(text(result)).toBe('insufficient_scope: add_note needs notes.write');
    expect(JSON.parse(text(await client.callTool({ name: 'list_notes', arguments: {} }))).notes).toEqual(['Try the MCP flow']);
    await client.close();
  });

  it('is stateless: GET (a server-initiated stream) and DELETE (ending a session) are 405, after the token check', async () => {
    const token = await mintAccessToken(key, {
      issuer: ORIGIN,
      audience: MCP,
      grant: { iss: BROKER, sub: 'user-42', aud: ORIGIN, client_id: CLIENT.client_id, jti: 'j', iat: 0, exp: 0, scope: 'notes.read' },
      scope: 'notes.read',
      now: new Date(),
    });
    for (const method of ['GET', 'DELETE']) {
      const res = await app.request('/mcp', { method, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
    }
    expect((await app.request('/mcp', { method: 'GET' })).status).toBe(401);
  });

  it('refuses a malformed Authorization header with 400 invalid_request', async () => {
    const res = await app.request('/mcp', { method: 'POST', headers: { authorization: 'Bearer a b' } });
    expect(res.status).toBe(400);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${METADATA}", error="invalid_request"`);
  });

  it('refuses a token its AS minted for another resource with 401 invalid_token (aud_mismatch logged, not sent)', async () => {
    const token = await mintAccessToken(key, {
      issuer: ORIGIN,
      audience: `${ORIGIN}/api`,
      grant: { iss: BROKER, sub: 'user-42', aud: ORIGIN, client_id: CLIENT.client_id, jti: 'j', iat: 0, exp: 0, scope: 'notes.read' },
      scope: 'notes.read',
      now: new Date(),
    });
    const res = await app.request('/mcp', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${METADATA}", error="invalid_token", error_description="The access token is not valid for this resource"`);
    expect(refusals).toEqual(['aud_mismatch']);
  });

  it('refuses an ID-JAG presented as the access token', async () => {
    const idJag = await signIdJag(broker, { payload: idJagPayload({ aud: MCP, iss: ORIGIN }) });
    const res = await app.request('/mcp', { method: 'POST', headers: { authorization: `Bearer ${idJag}` } });
    expect(res.status).toBe(401);
    expect(refusals).toEqual(['key_unknown']);
  });
});
