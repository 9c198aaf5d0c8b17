/**
 * Interop, MCP Enterprise-Managed Authorization end to end over real HTTP on loopback: the official
 * MCP client SDK's CrossAppAccessProvider against the broker and examples/mcp-server (the official
 * server SDK behind the reference destination AS). Nothing on the client side is this project's code.
 * Then `npm run demo:mcp` itself, as a subprocess, with a real login at the broker.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, CrossAppAccessProvider, StreamableHTTPClientTransport, discoverAndRequestJwtAuthGrant, requestJwtAuthorizationGrant } from '@modelcontextprotocol/client';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMcpServerApp } from '../../examples/mcp-server/app.js';
import { listen, type Listener } from '../e2e/helpers.js';
import { SECRET, TODO_API, exchangeParams, startTestBroker, testNamespaces, testSettings, type TestBroker } from '../helpers/broker.js';

const run = promisify(execFile);
const AT_NOTES = { client_id: 'agent-at-notes', client_secret: 'notes-secret' };

const text = (result: unknown) => ((result as { content: { text: string }[] }).content[0]?.text ?? '');

describe('MCP flow with the official client SDK, over loopback HTTP', () => {
  let broker: TestBroker;
  let brokerOrigin: string;
  let mcpOrigin: string;
  let mcp: string;
  const servers: Listener[] = [];

  beforeAll(async () => {
    const b = await listen();
    const m = await listen();
    servers.push(b, m);
    brokerOrigin = b.origin;
    mcpOrigin = m.origin;
    mcp = `${mcpOrigin}/mcp`;
    broker = await startTestBroker({
      settings: await testSettings((s) => {
        s.issuer = brokerOrigin;
        // wiki-agent may read notes, not write them: the ID-JAG is narrowed to notes.read.
        s.clients![0]!.destinations!.notes = { client_id: AT_NOTES.client_id, scopes: ['notes.read'] };
        s.destinations!.push({ id: 'notes', issuer: mcpOrigin, resources: [mcp], namespace: 'notes-users', scope_translation: { 'notes.read': ['notes.read'], 'notes.write': ['notes.write'] } });
      }),
      namespaces: [...testNamespaces, { namespace: 'notes-users', strategy: 'table', version: 1, rows: [{ upstream_issuer: 'https://idp.test', upstream_subject: 'alice', subject: 'notes-user-7' }] }],
    });
    b.serve((r) => broker.app.fetch(r));
    const app = await createMcpServerApp({
      origin: mcpOrigin,
      brokers: [{ issuer: brokerOrigin, jwksUri: `${brokerOrigin}/jwks` }],
      clients: [AT_NOTES],
      notes: [{ broker: brokerOrigin, sub: 'notes-user-7', text: 'interop note' }],
    });
    m.serve((r) => app.fetch(r));
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  async function idToken() {
    return (await exchangeParams(broker)).subject_token as string;
  }

  it('CrossAppAccessProvider: 401 → RFC 9728 → ID-JAG at the broker → access token at the AS → tools', async () => {
    const subjectToken = await idToken();
    const idJags: string[] = [];
    const provider = new CrossAppAccessProvider({
      assertion: async (ctx) => {
        const grant = await discoverAndRequestJwtAuthGrant({
          idpUrl: brokerOrigin,
          audience: ctx.authorizationServerUrl,
          resource: ctx.resourceUrl,
          idToken: subjectToken,
          clientId: 'wiki-agent',
          clientSecret: SECRET,
          ...(ctx.scope ? { scope: ctx.scope } : {}),
          fetchFn: ctx.fetchFn,
        });
        idJags.push(grant.jwtAuthGrant);
        return grant.jwtAuthGrant;
      },
      clientId: AT_NOTES.client_id,
      clientSecret: AT_NOTES.client_secret,
      expectedIssuer: mcpOrigin,
    });
    const client = new Client({ name: 'interop-agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp), { authProvider: provider }));

    expect(idJags).toHaveLength(1);
    expect(decodeJwt(idJags[0]!)).toMatchObject({ iss: brokerOrigin, aud: mcpOrigin, resource: mcp, sub: 'notes-user-7', client_id: AT_NOTES.client_id, scope: 'notes.read' });
    const access = decodeJwt(provider.tokens()!.access_token);
    expect(access).toMatchObject({ iss: mcpOrigin, aud: mcp, sub: 'notes-user-7', client_id: AT_NOTES.client_id, scope: 'notes.read' });

    expect(JSON.parse(text(await client.callTool({ name: 'list_notes', arguments: {} })))).toEqual({ sub: 'notes-user-7', notes: ['interop note'] });
    // The client asked for both scopes (all of scopes_supported); the broker granted notes.read only.
    const write = await client.callTool({ name: 'add_note', arguments: { text: 'not allowed' } });
    expect(write.isError).toBe(true);
    expect(text(write)).toBe('insufficient_scope: add_note needs notes.write');
    await client.close();
  });

  it('the broker refuses an ID-JAG for the MCP server’s AS naming another destination’s resource (audience/resource pairing)', async () => {
    await expect(
      requestJwtAuthorizationGrant({ tokenEndpoint: `${brokerOrigin}/token`, audience: mcpOrigin, resource: TODO_API, idToken: await idToken(), clientId: 'wiki-agent', clientSecret: SECRET, scope: 'notes.read' }),
    ).rejects.toThrow(/invalid_target/);
  });
});

describe('npm run demo:mcp', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xaa-demo-mcp-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('logs alice in at the broker, then the SDK discovers, gets an ID-JAG and an access token, and calls the tools', async () => {
    // Ports of its own: the other demo tests may run at the same time in other workers.
    const env = { ...process.env, DEMO_BROKER_PORT: '8792', DEMO_IDP_PORT: '9004', DEMO_MCP_PORT: '9204', DEMO_DATABASE: join(dir, 'demo-mcp.sqlite') };
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/demo-mcp.ts'], { cwd: join(import.meta.dirname, '../..'), env, timeout: 60_000 });
    expect(stdout).toMatch(/1\. alice logs in to the agent at the broker[\s\S]*POST http:\/\/localhost:9004\/interaction\/[^/]+\/login/);
    expect(stdout).toMatch(/2\. The broker's ID token for the agent[\s\S]*"iss": "http:\/\/localhost:8792"[\s\S]*"aud": "mcp-agent"/);
    expect(stdout).toContain('3. POST http://localhost:9204/mcp (initialize, no token) → 401');
    expect(stdout).toContain('"www-authenticate": "Bearer resource_metadata=\\"http://localhost:9204/.well-known/oauth-protected-resource/mcp\\""');
    expect(stdout).toMatch(/GET http:\/\/localhost:9204\/\.well-known\/oauth-protected-resource\/mcp → 200[\s\S]*"authorization_servers": \[\s*"http:\/\/localhost:9204"/);
    expect(stdout).toMatch(/token exchange at the broker \(RFC 8693\)[\s\S]*"client_secret": "\(\d+ characters, not shown\)"/);
    expect(stdout).not.toContain('demo-mcp-agent-secret');
    expect(stdout).toMatch(/"typ": "oauth-id-jag\+jwt"[\s\S]*"sub": "notes-user-7",\s*"aud": "http:\/\/localhost:9204",\s*"client_id": "agent-at-notes"/);
    expect(stdout).toMatch(/jwt-bearer grant at the MCP server's AS \(RFC 7523\)[\s\S]*"typ": "at\+jwt"[\s\S]*"aud": "http:\/\/localhost:9204\/mcp"/);
    expect(stdout).toMatch(/tools\/call \{"name":"add_note"[^\n]*→ 200[\s\S]*Added note 2\./);
    expect(stdout).toMatch(/Presenting the same ID-JAG again at the AS[\s\S]*invalid_grant/);
  }, 90_000);
});
